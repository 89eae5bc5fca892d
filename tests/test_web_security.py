"""The outside review's 15 findings (issue #11), each replayed with its exact request, on both backends.

Every test asserts the clean outcome (a 4xx with a message, or the safe behaviour) and that what
was stored before is unchanged.
"""

from __future__ import annotations

import json
import re
import stat
import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner
from sqlalchemy import update
from starlette.testclient import TestClient

from paperfeed.core.errors import ConfigError
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.core.urls import safe_url
from paperfeed.delivery import accounts
from paperfeed.delivery.cli import cli
from paperfeed.delivery.context import AppContext
from paperfeed.delivery.email.compose import DigestContent, view
from paperfeed.delivery.email.compose import render as render_digest
from paperfeed.delivery.email.tokens import feedback_token
from paperfeed.delivery.web.app import create_app
from paperfeed.delivery.web.security import resolve_secret_key, token_hash
from paperfeed.store import Store
from paperfeed.store.schema import papers
from tests import web_fixtures
from tests.web_fixtures import PASSWORD, csrf_from, make_app, page_csrf, paper_id, signup

client = web_fixtures.client  # a fixture, shared with the other web tests
seeded = web_fixtures.seeded  # a fixture, shared with the other web tests

XSS_URLS = [
    "javascript:void(document.title='pwned')",
    "JaVaScRiPt:void(document.title='pwned')",
    "java\tscript:void(document.title='pwned')",
    " javascript:alert(1)",
    "data:text/html,<script>x</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "https://user:pw@evil.example/",
    "/relative",
]
XSS_TEXT = "<img src=x onerror=\"document.title='pwned'\"><svg onload=\"document.title='pwned'\">"


def _snapshot(store: Store) -> list[Any]:
    """What the store holds (papers, users, collections) to compare before and after a request."""
    ps = store.get_papers([p for p in range(1, 200)])
    return [
        sorted((p.id, p.title, p.abstract, p.pdf_url) for p in ps.values()),
        store.count_users(),
        [(u.username, u.email) for u in store.list_users()],
        [
            (c.id, c.name, c.paper_count)
            for u in store.list_users()
            for c in store.user_collections(u.id)
        ],
    ]


def _nasty_paper(store: Store) -> int:
    """A paper whose stored links are scripts (written past the URL policy, as old rows could be)."""
    store.upsert_papers(
        [
            Paper(
                title="Links from elsewhere",
                abstract=XSS_TEXT,
                arxiv_id="2501.00077",
                authors=("<svg onload=\"document.title='pwned'\">", "Ada"),
                categories=("cs.LG",),
                featured_on=date(2025, 1, 6),
                source="hf-daily",
            )
        ]
    )
    pid = paper_id(store, "2501.00077")
    with store.engine.begin() as conn:
        conn.execute(
            update(papers)
            .where(papers.c.id == pid)
            .values(abs_url=XSS_URLS[0], pdf_url=XSS_URLS[1], code_url=XSS_URLS[2])
        )
    return pid


# ----- 1. links from ingested data ----------------------------------------------------------------


def test_url_policy_refuses_every_script_scheme() -> None:
    for bad in XSS_URLS:
        assert safe_url(bad) is None, bad
    for good in (
        "https://arxiv.org/pdf/2501.00001",
        "http://github.com/a/b",
        "https://huggingface.co/papers/x?y=1#z",
    ):
        assert safe_url(good) == good


def test_script_links_never_leave_the_store(
    client: TestClient, seeded: Store, settings: Settings
) -> None:
    # The write side refuses them too: an ingested javascript: link is not stored.
    seeded.upsert_papers(
        [
            Paper(
                title="Ingested",
                arxiv_id="2501.00078",
                pdf_url=XSS_URLS[0],
                code_url=XSS_URLS[1],
                abs_url=XSS_URLS[6],
                featured_on=date(2025, 1, 6),
                source="hf-daily",
            )
        ]
    )
    ingested = seeded.get_paper_by_arxiv("2501.00078")
    assert ingested is not None and (ingested.pdf_url, ingested.code_url, ingested.abs_url) == (
        None,
        None,
        None,
    )
    pid = _nasty_paper(seeded)
    user = seeded.create_user("reader", "reader@example.org", "x")
    before = _snapshot(seeded)
    for path in (
        "/",
        f"/papers/{pid}",
        "/search?q=links",
        f"/api/v1/papers/{pid}",
        "/api/v1/papers",
        "/feeds/daily.xml",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "javascript:" not in r.text.lower() and "script:void" not in r.text, path
    links = client.get(f"/api/v1/papers/{pid}").json()["links"]
    assert links == {
        "arxiv": "https://arxiv.org/abs/2501.00077",
        "pdf": "https://arxiv.org/pdf/2501.00077",
        "code": None,
    }
    # The digest email, where no CSP protects the reader.
    paper = seeded.get_paper(pid)
    assert paper is not None
    ctx = view(
        settings,
        "s" * 48,
        DigestContent(
            user,
            "d:2025-01-06",
            [{"paper_id": pid, "section": "trending", "reason": "r"}],
            {pid: paper},
        ),
    )
    _, text, html = render_digest(ctx)
    assert (
        "Links from elsewhere" in html
        and "script:" not in html.lower()
        and "script:" not in text.lower()
    )
    assert _snapshot(seeded) == before


# ----- 2. feeds carry text, not HTML --------------------------------------------------------------


def test_feeds_declare_paper_text_as_text(client: TestClient, seeded: Store) -> None:
    _nasty_paper(seeded)
    before = _snapshot(seeded)
    for path in (
        "/feeds/daily.xml",
        "/feeds/trending.xml",
        "/feeds/c/cs.LG.xml",
        "/feeds/search.xml?q=links",
    ):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "application/atom+xml"
        ), path
        feed = feedparser.parse(r.content, sanitize_html=False)
        assert not feed.bozo and feed.version == "atom10", path
        for entry in feed.entries:
            assert (
                entry.summary_detail.type == "text/plain"
                and entry.title_detail.type == "text/plain"
            )
            if entry.title == "Links from elsewhere":
                # The markup arrives as the characters it is (text), once: not double-escaped either.
                assert XSS_TEXT in entry.summary and "&lt;" not in entry.summary
                assert any("<svg" in a.name for a in entry.authors)
    assert _snapshot(seeded) == before


# ----- 3. sessions are server-side and revocable --------------------------------------------------


def _login(c: TestClient, login: str, password: str = PASSWORD) -> int:
    token = csrf_from(c.get("/login").text)
    return c.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token},
        follow_redirects=False,
    ).status_code


def _logged_in(app: Any, cookie: str) -> bool:
    c = TestClient(app)
    c.cookies.set("paperfeed_session", cookie)
    return c.get("/profile", follow_redirects=False).status_code == 200


def test_logout_ends_the_session_even_for_a_copied_cookie(
    client: TestClient, seeded: Store
) -> None:
    signup(client, "ada")
    stolen = client.cookies["paperfeed_session"]
    assert _logged_in(client.app, stolen)
    client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert not _logged_in(client.app, stolen)
    assert seeded.security.count_sessions(seeded.get_user_by_name("ada").id) == 0  # type: ignore[union-attr]


def test_log_out_everywhere_and_password_change_revoke_sessions(
    client: TestClient, seeded: Store
) -> None:
    signup(client, "ada")
    laptop, phone = TestClient(client.app), TestClient(client.app)
    assert _login(laptop, "ada") == 303 and _login(phone, "ada@example.org") == 303
    cookies = [c.cookies["paperfeed_session"] for c in (client, laptop, phone)]
    # A password change keeps this session and ends the others.
    new = "violet quasar lemonade 42"
    r = client.post(
        "/account/password",
        data={"current": PASSWORD, "new": new, "csrf_token": page_csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert [_logged_in(client.app, c) for c in cookies] == [True, False, False]
    assert (
        client.post(
            "/account/password",
            data={
                "current": "wrong",
                "new": "a fine new passphrase 9",
                "csrf_token": page_csrf(client),
            },
        ).status_code
        == 400
    )
    assert _login(laptop, "ada", PASSWORD) == 400 and _login(laptop, "ada", new) == 303
    # "Log out everywhere" ends all of them, this one too.
    cookies = [c.cookies["paperfeed_session"] for c in (client, laptop)]
    client.post("/account/logout-everywhere", data={"csrf_token": page_csrf(client)})
    assert [_logged_in(client.app, c) for c in cookies] == [False, False]


def test_password_reset_by_email_revokes_sessions_and_tokens(
    settings: Settings, seeded: Store, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    with make_app(settings, seeded, mailer="file", mail_dir=str(outbox)) as c:
        signup(c, "ada")
        stolen = c.cookies["paperfeed_session"]
        user = seeded.get_user_by_name("ada")
        assert user is not None
        seeded.security.create_token(
            user.id, "t", token_hash("pf_secret-token-value-123456"), "write", None
        )
        anon = TestClient(c.app)
        for login in ("ada@example.org", "nobody@example.org"):  # the same answer for both
            r = anon.post(
                "/password-reset",
                data={"login": login, "csrf_token": csrf_from(anon.get("/password-reset").text)},
            )
            assert r.status_code == 200 and "If an account matches" in r.text
        mails = list(outbox.glob("*.eml"))
        assert len(mails) == 1
        mail = message_from_bytes(mails[0].read_bytes())
        assert mail["To"] == "ada@example.org"
        body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
        link = re.search(r"(http\S+/password-reset/confirm\?t=\S+)", body).group(1)  # type: ignore[union-attr]
        token = link.split("t=", 1)[1]
        from urllib.parse import unquote

        token = unquote(token)
        page = anon.get("/password-reset/confirm", params={"t": token})
        assert page.status_code == 200 and "New password for ada" in page.text
        r = anon.post(
            "/password-reset/confirm",
            data={"t": token, "password": "password", "csrf_token": csrf_from(page.text)},
        )
        assert r.status_code == 400 and "password:" in r.text
        r = anon.post(
            "/password-reset/confirm",
            data={
                "t": token,
                "password": "seven orbiting teacups",
                "csrf_token": csrf_from(page.text),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert not _logged_in(c.app, stolen)
        assert (
            anon.get(
                "/api/v1/me", headers={"Authorization": "Bearer pf_secret-token-value-123456"}
            ).status_code
            == 401
        )
        assert (
            _login(TestClient(c.app), "ada", PASSWORD) == 400
            and _login(TestClient(c.app), "ada", "seven orbiting teacups") == 303
        )
        again = anon.get("/password-reset/confirm", params={"t": token})
        assert again.status_code == 400 and "already used" in again.text


# ----- 4. log-in throttle -------------------------------------------------------------------------


def test_throttle_slows_guessing_but_not_the_owner_on_their_browser(
    settings: Settings, seeded: Store
) -> None:
    with make_app(settings, seeded) as owner:
        signup(owner, "ada")  # this browser now carries the device cookie
        owner.post("/logout", data={"csrf_token": page_csrf(owner)})
        attacker = TestClient(owner.app)
        codes = [_login(attacker, "ada", f"guess-{i}") for i in range(8)]
        assert codes[: accounts.FREE_FAILURES] == [400] * accounts.FREE_FAILURES and 429 in codes
        token = csrf_from(attacker.get("/login").text)
        r = attacker.post(
            "/login", data={"login": "ada@example.org", "password": PASSWORD, "csrf_token": token}
        )
        assert (
            r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        )  # even the right password waits
        assert "try again in" in r.text
        assert _login(owner, "ada") == 303  # the owner's browser is not locked out
        assert seeded.security.login_failures(f"user:{seeded.get_user_by_name('ada').id}") is None  # type: ignore[union-attr]


def test_unknown_accounts_are_throttled_alike(settings: Settings, seeded: Store) -> None:
    with make_app(settings, seeded) as c:
        codes = [_login(c, "nobody", f"guess-{i}") for i in range(8)]
        assert (
            codes[: accounts.FREE_FAILURES] == [400] * accounts.FREE_FAILURES and codes[-1] == 429
        )


def test_forwarded_for_is_ignored_unless_from_a_trusted_proxy(
    settings: Settings, seeded: Store
) -> None:
    with make_app(settings, seeded, rate_limit_login="3/minute") as c:
        token = csrf_from(c.get("/login").text)
        codes = [
            c.post(
                "/login",
                data={"login": f"x{i}", "password": "y" * 8, "csrf_token": token},
                headers={"X-Forwarded-For": f"10.0.0.{i}"},
            ).status_code
            for i in range(5)
        ]
        assert codes == [400, 400, 400, 429, 429]


# ----- 5. password strength -----------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["password", "12345678", " " * 8, "adaada12"])
def test_weak_passwords_are_refused(client: TestClient, seeded: Store, weak: str) -> None:
    before = _snapshot(seeded)
    token = csrf_from(client.get("/signup").text)
    r = client.post(
        "/signup",
        data={"username": "ada", "email": "ada@example.org", "password": weak, "csrf_token": token},
    )
    assert r.status_code == 400 and "password: " in r.text
    assert _snapshot(seeded) == before


# ----- 6. requests that answered 500 --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=year:0000",
        "/api/v1/search?q=year:0000",
        "/feeds/search.xml?q=year:0000",
        "/?day=0001-01-01&period=month",
        "/api/v1/papers?day=0001-01-01&period=month",
        "/c/cs.LG?day=0001-01-01&period=month",
        "/?day=0001-01-07&period=week",
        "/papers/9223372036854775808",
        "/papers/2147483648",
        "/api/v1/papers/2147483648",
        "/api/v1/papers/9223372036854775808",
        "/collections/2147483648",
        "/collections/9223372036854775808/export.bib",
    ],
)
def test_former_500s_answer_a_clean_4xx(client: TestClient, seeded: Store, path: str) -> None:
    before = _snapshot(seeded)
    r = client.get(path)
    assert r.status_code < 500, (path, r.text[:300])
    if r.status_code >= 400:
        assert (
            "content-security-policy" in r.headers
            and r.headers["x-content-type-options"] == "nosniff"
        )
        assert (
            "day:" in r.text
            or "paper_id" in r.text
            or "collection_id" in r.text
            or "less than" in r.text
        ), r.text[:300]
    assert _snapshot(seeded) == before


def test_nul_in_login_name_and_signup_email(client: TestClient, seeded: Store) -> None:
    before = _snapshot(seeded)
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login",
        content=f"login=ad%00a&password=x&csrf_token={token}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and "NUL" in r.text
    r = client.post(
        "/signup",
        content=f"username=ada&email=a%00@example.org&password=x&csrf_token={token}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and "NUL" in r.text
    assert _snapshot(seeded) == before


def test_concurrent_feedback_writes_for_one_paper(settings: Settings, seeded: Store) -> None:
    user = seeded.create_user("carol", "carol@example.org", "x")
    pid = paper_id(seeded, "2501.00002")
    token = feedback_token(resolve_secret_key(settings), user.id, pid)
    with make_app(settings, seeded) as c:
        codes: list[int] = []
        barrier = threading.Barrier(8)

        def click(signal: int) -> None:
            barrier.wait()
            codes.append(c.post("/feedback", data={"t": token, "s": str(signal)}).status_code)

        threads = [threading.Thread(target=click, args=(1 if i % 2 else -1,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert codes == [200] * 8
    assert list(seeded.feedback(user.id)) == [pid]


def test_a_500_still_carries_the_security_headers(settings: Settings, seeded: Store) -> None:
    app = create_app(AppContext(settings, seeded))

    def boom() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/boom", boom)
    r = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert (
        r.status_code == 500
        and "content-security-policy" in r.headers
        and "x-frame-options" in r.headers
    )


# ----- 7. body size limit before authentication ---------------------------------------------------


def test_large_bodies_are_refused_before_auth(client: TestClient, seeded: Store) -> None:
    before = _snapshot(seeded)
    big = b'{"name": "' + b"x" * 5_000_000 + b'"}'
    r = client.post(
        "/api/v1/collections", content=big, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "larger than" in r.json()["message"]

    def chunks() -> Any:  # no Content-Length: the guard counts as it reads
        for _ in range(50):
            yield b"x" * 100_000

    r = client.post(
        "/api/v1/collections", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert (
        client.post("/api/v1/collections", json={"name": "a"}).status_code == 401
    )  # small ones reach auth
    assert _snapshot(seeded) == before


# ----- 8. production refuses what it cannot protect -----------------------------------------------


def test_production_refuses_a_blank_secret_and_http(settings: Settings, seeded: Store) -> None:
    prod = with_overrides(settings, env="production", base_url="https://papers.example.org")
    for secret, message in (
        (" " * 32, "whitespace"),
        ("\t" * 40, "whitespace"),
        ("ab" * 20, "pattern"),
    ):
        with pytest.raises(ConfigError, match=message):
            create_app(AppContext(with_overrides(prod, secret_key=secret), seeded))
    good = "Xq3v-9LmZ_r7TbW2pKd8sYc4NfJ0hGe6uAiO5"
    with pytest.raises(ConfigError, match="https://"):
        create_app(
            AppContext(
                with_overrides(prod, secret_key=good, base_url="http://papers.example.org"), seeded
            )
        )
    app = create_app(AppContext(with_overrides(prod, secret_key=good), seeded))
    with TestClient(app, base_url="https://papers.example.org") as c:
        r = c.get("/login")
        assert (
            "strict-transport-security" in r.headers and "secure" in r.headers["set-cookie"].lower()
        )


# ----- 9. sign-up does not tell which emails are registered -------------------------------------


def test_signup_answers_alike_for_a_taken_email_and_a_taken_username(
    client: TestClient, seeded: Store
) -> None:
    signup(client, "ada")
    other = TestClient(client.app)
    token = csrf_from(other.get("/signup").text)
    before = _snapshot(seeded)
    answers = []
    for data in (
        {"username": "fresh1", "email": "ada@example.org"},
        {"username": "ada", "email": "new@example.org"},
    ):
        r = other.post("/signup", data={**data, "password": PASSWORD, "csrf_token": token})
        answers.append(
            (r.status_code, re.search(r'class="flash error"[^>]*>([^<]+)<', r.text).group(1))
        )  # type: ignore[union-attr]
    assert answers[0] == answers[1]
    assert _snapshot(seeded) == before


# ----- 10. forms reject NUL and broken UTF-8; ingest rejects a NUL record alone ------------------


def test_forms_reject_nul_and_invalid_utf8(client: TestClient, seeded: Store) -> None:
    signup(client, "ada")
    token = page_csrf(client)
    before = _snapshot(seeded)
    for raw in (b"name=evil%00name", b"name=%ff%fe", b"description=ok&name=a%c3"):
        r = client.post(
            "/collections",
            content=raw + b"&csrf_token=" + token.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 400 and ("NUL" in r.text or "UTF-8" in r.text), raw
    r = client.post("/collections", data={"csrf_token": token}, files={"name": (None, "evil\x00name")})
    assert r.status_code == 400 and "NUL" in r.text  # the same as multipart/form-data
    r = client.post("/api/v1/collections", json={"name": "a\x00b"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 400 and "NUL" in r.json()["message"]
    assert _snapshot(seeded) == before


def test_ingest_rejects_a_nul_record_alone(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "three.jsonl"
    rows = [
        {"id": "2401.00001", "title": "Good one", "abstract": "fine"},
        {"id": "2401.00002", "title": "Bad \u0000 one", "abstract": "nul"},
        {"id": "2401.00003", "title": "Good two", "abstract": "fine \u0000 inside"},
        {"id": "2401.00004", "title": "Good three", "abstract": "fine"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = {"PAPERFEED_DATA_DIR": str(tmp_path / "data"), "PAPERFEED_DATABASE_URL": store_url}
    r = CliRunner().invoke(cli, ["ingest", str(path), "--no-index", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and r.stderr.count("NUL") == 2
    assert json.loads(r.stdout)["new"] == 2 and json.loads(r.stdout)["rejected"] == 2


# ----- 11. a collection with a bad first paper is not created -------------------------------------


@pytest.mark.parametrize("bad", ["abc", "999999", "9223372036854775808", "-1"])
def test_collection_with_a_bad_paper_id_creates_nothing(
    client: TestClient, seeded: Store, bad: str
) -> None:
    signup(client, "ada")
    before = _snapshot(seeded)
    r = client.post(
        "/collections", data={"name": "New", "paper_id": bad, "csrf_token": page_csrf(client)}
    )
    assert r.status_code in (400, 404) and "paper" in r.text
    assert _snapshot(seeded) == before


# ----- 12. GET /feedback changes nothing ----------------------------------------------------------


def test_feedback_get_asks_and_post_records(settings: Settings, seeded: Store) -> None:
    user = seeded.create_user("carol", "carol@example.org", "x")
    pid = paper_id(seeded, "2501.00002")
    token = feedback_token(resolve_secret_key(settings), user.id, pid)
    with make_app(settings, seeded) as c:
        r = c.get("/feedback", params={"t": token, "s": "1"})
        assert r.status_code == 200 and 'method="post"' in r.text and seeded.feedback(user.id) == {}
        assert c.post("/feedback", data={"t": token, "s": "1"}).status_code == 200
        assert seeded.feedback(user.id) == {pid: 1}


# ----- 13. Host header and the page cache -------------------------------------------------------


def test_host_header_is_not_trusted(settings: Settings, seeded: Store) -> None:
    prod = with_overrides(
        settings,
        env="production",
        base_url="https://papers.example.org",
        secret_key="Xq3v-9LmZ_r7TbW2pKd8sYc4NfJ0hGe6uAiO5",
    )
    with TestClient(
        create_app(AppContext(prod, seeded)), base_url="https://papers.example.org"
    ) as c:
        assert c.get("/").status_code == 200
        r = c.get("/", headers={"Host": "evil.example"})
        assert r.status_code == 400 and "evil" not in r.headers.get("location", "")
    with make_app(settings, seeded) as dev:  # development: redirects are relative, none from Host
        for path in ("/papers/1/", "/profile", "/arxiv/2501.00001"):
            r = dev.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
            assert "evil" not in r.headers.get("location", ""), path


def test_page_cache_ignores_parameters_a_page_does_not_use(client: TestClient) -> None:
    r = client.get("/?utm_source=%22%3E%3Cb%3Einjected%3C%2Fb%3E&period=day")
    assert r.status_code == 200 and "utm_source" not in r.text and "injected" not in r.text
    again = client.get("/?period=day")
    assert "utm_source" not in again.text and again.text == r.text


# ----- 14. /docs: admins only, packaged assets, CSP -----------------------------------------------


def test_docs_are_for_admins_from_packaged_assets(client: TestClient, seeded: Store) -> None:
    assert client.get("/docs", follow_redirects=False).status_code == 303
    signup(client, "ada")
    assert client.get("/docs").status_code == 403
    seeded.set_admin("ada")
    r = client.get("/docs")
    assert (
        r.status_code == 200
        and "/docs/assets/swagger-ui-bundle.js" in r.text
        and "cdn" not in r.text.lower()
    )
    assert "script-src 'self'" in r.headers["content-security-policy"] and "<script>" not in r.text
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and "content-security-policy" in asset.headers
    assert client.get("/openapi.json").status_code == 200


# ----- 15. no-store, token expiry and scope, Retry-After, SQLite file mode ----------------------


def test_authenticated_json_is_not_stored(client: TestClient, seeded: Store) -> None:
    user = seeded.create_user("tok", "tok@example.org", "x")
    seeded.security.create_token(
        user.id,
        "t",
        token_hash("pf_live-token-abcdefghijklmnop"),
        "read",
        datetime.now(UTC) + timedelta(days=1),
    )
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer pf_live-token-abcdefghijklmnop"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store, private"
    signup(client, "ada")
    assert client.get("/api/v1/collections").headers["cache-control"] == "no-store, private"
    assert "no-store" not in TestClient(client.app).get("/api/v1/papers").headers.get(
        "cache-control", ""
    )


def test_tokens_expire_and_have_a_scope(client: TestClient, seeded: Store) -> None:
    user = seeded.create_user("tok", "tok@example.org", "x")
    pid = paper_id(seeded, "2501.00001")
    seeded.security.create_token(
        user.id,
        "old",
        token_hash("pf_expired-token-abcdefghijk"),
        "write",
        datetime.now(UTC) - timedelta(seconds=1),
    )
    seeded.security.create_token(
        user.id,
        "ro",
        token_hash("pf_readonly-token-abcdefghijk"),
        "read",
        datetime.now(UTC) + timedelta(days=1),
    )
    before = _snapshot(seeded)
    r = client.post(
        f"/api/v1/papers/{pid}/upvote",
        headers={"Authorization": "Bearer pf_expired-token-abcdefghijk"},
    )
    assert r.status_code == 401 and "expired" in r.json()["message"]
    r = client.post(
        f"/api/v1/papers/{pid}/upvote",
        headers={"Authorization": "Bearer pf_readonly-token-abcdefghijk"},
    )
    assert r.status_code == 403 and "read-only" in r.json()["message"]
    assert (
        client.get(
            "/api/v1/me", headers={"Authorization": "Bearer pf_readonly-token-abcdefghijk"}
        ).status_code
        == 200
    )
    assert seeded.vote_counts([pid]) == {} and _snapshot(seeded) == before
    signup(client, "ada")
    r = client.post(
        "/profile/tokens",
        data={"name": "x", "scope": "admin", "days": "90", "csrf_token": page_csrf(client)},
    )
    assert r.status_code == 400 and "scope" in r.text
    r = client.post(
        "/profile/tokens",
        data={"name": "x", "scope": "read", "days": "9999", "csrf_token": page_csrf(client)},
    )
    assert r.status_code == 400 and "days" in r.text
    client.post(
        "/profile/tokens",
        data={"name": "x", "scope": "read", "days": "7", "csrf_token": page_csrf(client)},
    )
    ada = seeded.get_user_by_name("ada")
    assert ada is not None
    (made,) = seeded.security.user_tokens(ada.id)
    assert made.scope == "read" and made.expires_at is not None
    assert timedelta(days=6) < made.expires_at - datetime.now(UTC) <= timedelta(days=7)


def test_429_says_when_to_retry(settings: Settings, seeded: Store) -> None:
    with make_app(settings, seeded, rate_limit_write="2/minute") as c:
        signup(c, "ada")
        pid = paper_id(seeded, "2501.00001")
        token = page_csrf(c)
        codes = [
            c.post(f"/api/v1/papers/{pid}/upvote", headers={"X-CSRF-Token": token})
            for _ in range(3)
        ]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert 1 <= int(codes[-1].headers["Retry-After"]) <= 60


def test_sqlite_file_is_private(tmp_path: Path) -> None:
    from paperfeed.store import open_store

    s = open_store(f"sqlite:///{tmp_path / 'new' / 'paperfeed.db'}")
    try:
        s.count_papers()
        for f in (tmp_path / "new").iterdir():
            assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f
    finally:
        s.close()


def test_throttle_delay_grows_exponentially_and_is_capped(store: Store) -> None:
    key = accounts.throttle_key(None, "someone")
    for _ in range(accounts.FREE_FAILURES):
        store.security.record_login_failure(key)
    now = store.security.login_failures(key)[1]  # type: ignore[index]
    assert accounts.login_wait(store, key, now) == 1
    store.security.record_login_failure(key)
    now = store.security.login_failures(key)[1]  # type: ignore[index]
    assert accounts.login_wait(store, key, now) == 2
    for _ in range(30):
        store.security.record_login_failure(key)
    assert accounts.login_wait(store, key, now) == pytest.approx(accounts.MAX_DELAY, abs=2)
    assert accounts.login_wait(store, key, now + timedelta(seconds=accounts.MAX_DELAY + 1)) == 0
