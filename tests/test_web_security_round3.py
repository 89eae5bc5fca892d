"""The third outside review's findings (issue #21) on accounts, routes and pages, each replayed with
the request that showed it, on both backends (the `store` fixtures)."""

from __future__ import annotations

import re
import stat
import time
import typing
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from paperfeed.core.ids import MAX_ID
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.credentials import hash_password
from paperfeed.delivery.web.security import token_hash
from paperfeed.store import Store
from tests._round3_fixtures import BEARER, SlowSink, login as _login, serving, uid as _uid
from tests.web_fixtures import PASSWORD, csrf_from, make_app, page_csrf, signup

# ----- F4: device cookies do not widen the per-address limit
# ---------------------------------------


def test_device_cookie_of_an_own_account_buys_no_extra_guesses(
    settings: Settings, seeded: Store
) -> None:
    with make_app(settings, seeded, rate_limit_login="6/minute") as attacker:
        signup(
            attacker, "eve"
        )  # one hit on the address; the browser now carries eve's device cookie
        attacker.post("/logout", data={"csrf_token": page_csrf(attacker)})
        assert "pf_device" in attacker.cookies
        # distinct names, so the per-account wait never starts: only the per-address bound can stop
        # it
        codes = [_login(attacker, f"victim{i}", "guess") for i in range(8)]
        assert codes[:5] == [400] * 5 and codes[5:] == [429] * 3, codes


def test_device_cookie_is_revoked_by_a_password_change(settings: Settings, seeded: Store) -> None:
    with make_app(settings, seeded) as owner:
        signup(owner, "ada")
        owner.post("/logout", data={"csrf_token": page_csrf(owner)})
        attacker = TestClient(owner.app)
        assert 429 in [_login(attacker, "ada", f"guess-{i}") for i in range(7)]
        assert _login(owner, "ada") == 303  # the owner's trusted browser skips the wait
        owner.post("/logout", data={"csrf_token": page_csrf(owner)})
        for i in range(7):
            _login(attacker, "ada", f"guess-again-{i}")
        # the password changes elsewhere (e.g. a reset): the old device cookie no longer trusts
        seeded.users.set_password_hash(
            _uid(seeded, "ada"), hash_password("violet quasar lemonade 42")
        )
        assert _login(owner, "ada", "violet quasar lemonade 42") == 429


# ----- F6: one bounded id type for every path parameter -------------------------------------------


def _api_routes(app: typing.Any) -> list[APIRoute]:
    """Every APIRoute of the app, also those of included routers (FastAPI >= 0.160 wraps them)."""
    out: list[APIRoute] = []
    for r in app.routes:
        inner = getattr(r, "original_router", None)
        out.extend(
            x for x in (inner.routes if inner is not None else [r]) if isinstance(x, APIRoute)
        )
    return out


def _int_path_params(route: APIRoute) -> list[tuple[str, typing.Any]]:
    return [
        (p.name, p.field_info)
        for p in route.dependant.path_params
        if p.field_info.annotation is int
    ]


def test_every_integer_path_parameter_is_bounded(client: TestClient) -> None:
    routes = _api_routes(client.app)
    seen, unbounded = 0, []
    for route in routes:
        for name, info in _int_path_params(route):
            seen += 1
            bounds = {type(m).__name__: m for m in info.metadata}
            lo, hi = bounds.get("Ge"), bounds.get("Le")
            if lo is None or hi is None or lo.ge != 1 or hi.le != MAX_ID:
                unbounded.append(f"{sorted(route.methods or ())} {route.path} {name}")
    assert seen >= 40 and not unbounded, unbounded


@pytest.mark.parametrize("big", [2**31, 2**63])
def test_out_of_range_ids_on_every_route_are_a_4xx(
    settings: Settings, seeded: Store, big: int
) -> None:
    with make_app(settings, seeded) as c:
        signup(c, "ada")
        token = page_csrf(c)
        tried = 0
        for route in _api_routes(c.app):
            ints = {n for n, _ in _int_path_params(route)}
            if not ints:
                continue
            path = re.sub(
                r"\{(\w+)(:\w+)?\}",
                lambda m, ints=ints: str(big) if m.group(1) in ints else "x",  # type: ignore[misc]
                route.path,
            )
            for method in sorted((route.methods or set()) - {"HEAD"}):
                tried += 1
                r = c.request(
                    method,
                    path,
                    data={"csrf_token": token} if method != "GET" else None,
                    headers={"X-CSRF-Token": token},
                    follow_redirects=False,
                )
                assert r.status_code in (400, 404, 422), (method, path, r.status_code, r.text[:200])
        assert tried >= 40


# ----- F9: a logged-in user carries email_verified -----------------------------------------------


def test_a_verified_user_can_invite_by_email(settings: Settings, seeded: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with make_app(settings, seeded, mailer="file", mail_dir=str(tmp_path / "out")) as c:
        signup(c, "ada")
        uid = _uid(seeded, "ada")
        seeded.comments.mark_email_verified(uid, "ada@example.org")
        r = c.post(
            "/groups", data={"name": "Lab", "csrf_token": page_csrf(c)}, follow_redirects=False
        )
        gid = int(r.headers["location"].rsplit("/", 1)[1])
        r = c.post(
            f"/groups/{gid}/invites",
            data={"kind": "email", "email": "bob@example.org", "csrf_token": page_csrf(c)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:300]
        assert [i.email for i in seeded.groups.group_invites(gid)] == ["bob@example.org"]


# ----- F15: a password change and "log out everywhere" revoke API tokens --------------------------


def test_password_change_and_log_out_everywhere_revoke_tokens(
    settings: Settings, seeded: Store
) -> None:
    auth = {"Authorization": f"Bearer {BEARER}"}
    with make_app(settings, seeded) as c:
        signup(c, "ada")
        uid = _uid(seeded, "ada")
        seeded.security.create_token(uid, "t", token_hash(BEARER), "write", None)
        assert c.get("/api/v1/me", headers=auth).status_code == 200
        new = "violet quasar lemonade 42"
        r = c.post(
            "/account/password",
            data={"current": PASSWORD, "new": new, "csrf_token": page_csrf(c)},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "1 API token revoked" in c.get("/profile").text
        assert TestClient(c.app).get("/api/v1/me", headers=auth).status_code == 401
        seeded.security.create_token(uid, "t2", token_hash(BEARER + "2"), "read", None)
        c.post("/account/logout-everywhere", data={"csrf_token": page_csrf(c)})
        again = {"Authorization": f"Bearer {BEARER}2"}
        assert TestClient(c.app).get("/api/v1/me", headers=again).status_code == 401
        assert seeded.security.user_tokens(uid) == []


# ----- F10: a GET of the verification link changes nothing; the POST works once -------------------


def test_verify_email_get_asks_and_post_verifies_once(settings: Settings, seeded: Store) -> None:
    from paperfeed.delivery.common.secret_key import resolve_secret_key
    from paperfeed.delivery.mail.verify import verification_token

    with make_app(settings, seeded) as c:
        user = seeded.users.create_user("ada", "ada@example.org", hash_password(PASSWORD))
        token = verification_token(resolve_secret_key(settings), user)
        scanner = TestClient(c.app)  # a mail scanner follows the link, logged in as nobody
        r = scanner.get("/verify-email", params={"t": token})
        assert r.status_code == 200 and "Confirm my email address" in r.text
        assert not seeded.users.get_user(user.id).email_verified  # type: ignore[union-attr]
        browser = TestClient(c.app)
        form = {
            "t": token,
            "csrf_token": csrf_from(browser.get("/verify-email", params={"t": token}).text),
        }
        assert browser.post("/verify-email", data={"t": token}).status_code == 403  # CSRF needed
        ok = browser.post("/verify-email", data=form)
        assert ok.status_code == 200 and "is confirmed" in ok.text
        assert seeded.users.get_user(user.id).email_verified  # type: ignore[union-attr]
        again = browser.post("/verify-email", data=form)
        assert again.status_code == 400 and "used already" in again.text
        assert scanner.get("/verify-email", params={"t": token}).status_code == 400


# ----- F13 / F14: reset mail outside the request; a bound on mail to unconfirmed addresses --------


def test_password_reset_answers_alike_and_mails_after_the_answer(
    settings: Settings, seeded: Store
) -> None:
    import httpx

    from tests._digest_fixtures import smtp_settings

    sink = SlowSink(delay=1.5)
    try:
        seeded.users.create_user("ada", "ada@example.org", hash_password(PASSWORD))
        seeded.comments.mark_email_verified(_uid(seeded, "ada"), "ada@example.org")
        cfg = smtp_settings(settings, sink.port, env="development", rate_limit_login="1000/minute")
        with serving(cfg, seeded) as base, httpx.Client(base_url=base, timeout=30) as c:
            timings: dict[str, list[float]] = {"ada@example.org": [], "nobody@example.org": []}
            pages = set()
            for _ in range(2):
                for login, spent in timings.items():
                    page = c.get("/password-reset").text
                    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
                    started = time.monotonic()
                    r = c.post("/password-reset", data={"login": login, "csrf_token": token})
                    spent.append(time.monotonic() - started)
                    assert r.status_code == 200
                    pages.add(re.sub(r'value="[^"]+"', "", r.text))
            assert len(pages) == 1  # the same page for both
            # the (slow) mail server is not waited for: the answer comes before the mail
            assert max(timings["ada@example.org"]) < sink.delay, timings
            deadline = time.monotonic() + 20
            while len(sink.handler.received) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
        assert [r.rcpt_tos for r in sink.handler.received] == [["ada@example.org"]] * 2
    finally:
        sink.close()


def test_mail_to_an_unconfirmed_address_is_bounded(
    settings: Settings, seeded: Store, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    # an account whose address nobody confirmed (made before sign-up went through the mailed
    # link, #21 F13); its sign-up mails are bounded the same way (test_web_security_round3_signup)
    seeded.users.create_user("ada", "ada@example.org", hash_password(PASSWORD))
    with make_app(settings, seeded, mailer="file", mail_dir=str(outbox)) as c:
        assert _login(c, "ada") == 303
        answers = [  # verification links: the fourth one is over the bound
            c.post("/profile/verify-email", data={"csrf_token": page_csrf(c)}).text
            for _ in range(4)
        ]
        assert "Several links went to ada@example.org" in answers[-1]
        assert "Several links" not in answers[2]
        anon = TestClient(c.app)
        for _ in range(4):  # resets
            page = anon.get("/password-reset").text
            anon.post("/password-reset", data={"login": "ada", "csrf_token": csrf_from(page)})
        mails = list(outbox.glob("*.eml"))
        assert len(mails) == 3, [m.name for m in mails]
        # a confirmed address is not bounded by this (its owner asked for the mail)
        seeded.comments.mark_email_verified(_uid(seeded, "ada"), "ada@example.org")
        page = anon.get("/password-reset").text
        anon.post("/password-reset", data={"login": "ada", "csrf_token": csrf_from(page)})
        assert len(list(outbox.glob("*.eml"))) == 4


# ----- F16 and #19 item 9: paperfeed's own docs page, named operations --------------------------


def test_docs_serve_only_paperfeeds_page_and_its_two_assets(client: TestClient) -> None:
    anon = TestClient(client.app)
    page = anon.get("/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert anon.get(f"/docs/assets/{name}").status_code == 200
    for name in (
        "index.html",
        "swagger-initializer.js",
        "swagger-ui-bundle.js.map",
        "oauth2-redirect.html",
        "index.css",
        "..%2F..%2F__init__.py",
    ):
        r = anon.get(f"/docs/assets/{name}")
        assert r.status_code == 404 and "petstore" not in r.text, name


def test_every_api_operation_has_a_summary_and_a_tag_for_people(client: TestClient) -> None:
    from paperfeed.delivery.web.docs import OPERATIONS, TAGS

    spec = client.get("/openapi.json").json()
    seen = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, op in operations.items():
            seen += 1
            assert (method.upper(), path) in OPERATIONS, (method, path)
            assert not op["summary"].lower().startswith("api "), (method, path, op["summary"])
            assert op["tags"] and op["tags"][0] in TAGS, (method, path, op["tags"])
    assert seen >= 50
    by = {(m.upper(), p): op for p, ops in spec["paths"].items() for m, op in ops.items()}
    assert by[("GET", "/api/v1/papers/{paper_id}")]["summary"] == "Get a paper"
    assert by[("GET", "/api/v1/papers/{paper_id}")]["tags"] == ["Papers"]
    assert spec["tags"][0]["name"] == "Papers"


# ----- #22 item 7: GET never writes ---------------------------------------------------------------


def test_notifications_are_marked_seen_by_a_post_only(client: TestClient, seeded: Store) -> None:
    from tests.web_fixtures import paper_id

    signup(client, "ada")
    ada = _uid(seeded, "ada")
    bob = seeded.users.create_user("bob", "bob@example.org", "x")
    pid = paper_id(seeded, "2501.00002")
    coll = seeded.collections.create_collection(ada, "Mine")
    seeded.collections.add_to_collection(ada, coll.id, pid)
    seeded.comments.add_comment(pid, bob.id, "Read this")
    for _ in range(2):
        assert 'class="tag">new' in client.get("/notifications").text
    assert client.get("/api/v1/notifications?mark_seen=true").status_code == 400
    token = page_csrf(client, "/notifications")
    r = client.post("/api/v1/notifications/seen", headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json() == {"marked": 1}
    assert [n["new"] for n in client.get("/api/v1/notifications").json()] == [False]
    assert client.post("/api/v1/alerts/seen", headers={"X-CSRF-Token": token}).json() == {
        "marked": 0
    }


# ----- informational findings -------------------------------------------------------------------


def test_file_mailer_writes_private_files(
    settings: Settings, seeded: Store, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    with make_app(settings, seeded, mailer="file", mail_dir=str(outbox)) as c:
        signup(c, "ada")  # the verification mail
    mails = list(outbox.glob("*.eml"))
    assert mails and all(stat.S_IMODE(m.stat().st_mode) == 0o600 for m in mails)


def test_comment_links_are_absolute_http_https_or_mailto() -> None:
    from paperfeed.delivery.common.markup import render_markdown

    for bad in ("//evil.example/x", "/admin/comments", "relative/path", "https:/no-host"):
        assert "href" not in render_markdown(f"[x]({bad})"), bad
    assert 'href="https://ok.example/p"' in render_markdown("[x](https://ok.example/p)")
    assert 'href="mailto:ada@example.org"' in render_markdown("[x](mailto:ada@example.org)")


def test_invite_tokens_are_not_in_the_access_log() -> None:
    from paperfeed.delivery.common.logs import safe_path

    assert safe_path("/groups/join/AbC-123_secret") == "/groups/join/[redacted]"
    assert safe_path("/groups/7") == "/groups/7"


def test_anonymous_readyz_names_no_backend_or_counts(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["database"] == {"ok": True}
    assert "backend" not in r.text and "papers" not in r.text
