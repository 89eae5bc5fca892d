"""The outside review's findings 7-15 (issue #11), each replayed with its exact request, on both
backends.

Every test asserts the clean outcome (a 4xx with a message, or the safe behaviour) and that what was
stored before is unchanged.
"""

from __future__ import annotations

import json
import re
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from starlette.testclient import TestClient

from paperfeed.core.errors import ConfigError
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app import accounts
from paperfeed.delivery.cli.main import cli
from paperfeed.delivery.common.context import AppContext
from paperfeed.delivery.common.secret_key import resolve_secret_key
from paperfeed.delivery.mail.tokens import feedback_token
from paperfeed.delivery.web.app import create_app
from paperfeed.delivery.web.security import token_hash
from paperfeed.store import Store
from paperfeed.store.schema import papers
from tests.web_fixtures import csrf_from, make_app, page_csrf, paper_id, signup

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
    ps = store.papers.get_papers([p for p in range(1, 200)])
    return [
        sorted((p.id, p.title, p.abstract, p.pdf_url) for p in ps.values()),
        len(store.users.list_users()),
        [(u.username, u.email) for u in store.users.list_users()],
        [
            (c.id, c.name, c.paper_count)
            for u in store.users.list_users()
            for c in store.collections.user_collections(u.id)
        ],
    ]


def _nasty_paper(store: Store) -> int:
    """A paper whose stored links are scripts (written past the URL policy, as old rows could
    be)."""
    store.papers.upsert_papers(
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


def test_signup_answers_a_taken_email_like_a_new_one(client: TestClient, seeded: Store) -> None:
    # #21 F13 made this stronger: a taken email is answered like a free one (not like a taken
    # username); usernames are public, so a taken one is named
    signup(client, "ada")
    other = TestClient(client.app)
    token = csrf_from(other.get("/signup").text)
    before = _snapshot(seeded)
    answers = []
    for data in (
        {"username": "fresh1", "email": "ada@example.org"},
        {"username": "fresh1", "email": "new@example.org"},
    ):
        r = other.post("/signup", data={**data, "csrf_token": token})
        answers.append((r.status_code, re.sub(r'name="csrf_token" value="[^"]+"', "", r.text)))
    assert answers[0] == answers[1] and answers[0][0] == 200
    taken = other.post(
        "/signup", data={"username": "ada", "email": "new@example.org", "csrf_token": token}
    )
    assert taken.status_code == 409 and "that username is taken" in taken.text
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
    r = client.post(
        "/collections", data={"csrf_token": token}, files={"name": (None, "evil\x00name")}
    )
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
    user = seeded.users.create_user("carol", "carol@example.org", "x")
    pid = paper_id(seeded, "2501.00002")
    token = feedback_token(resolve_secret_key(settings), user, pid)
    with make_app(settings, seeded) as c:
        r = c.get("/feedback", params={"t": token, "s": "1"})
        assert (
            r.status_code == 200
            and 'method="post"' in r.text
            and seeded.subscriptions.feedback(user.id) == {}
        )
        assert c.post("/feedback", data={"t": token, "s": "1"}).status_code == 200
        assert seeded.subscriptions.feedback(user.id) == {pid: 1}


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


def test_docs_are_public_from_packaged_assets(client: TestClient, seeded: Store) -> None:
    # #19 item 9 / #21 F16: the API's documentation is for every reader (the schema is public)
    r = client.get("/docs", follow_redirects=False)
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
    user = seeded.users.create_user("tok", "tok@example.org", "x")
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
    user = seeded.users.create_user("tok", "tok@example.org", "x")
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
    assert seeded.votes.vote_counts([pid]) == {} and _snapshot(seeded) == before
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
    ada = seeded.users.get_user_by_name("ada")
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
        s.papers.count_papers()
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
