"""Accounts and security: argon2, session cookies, CSRF, rate limits, ownership, production
secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from paperfeed.core.errors import ConfigError
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.common.context import AppContext
from paperfeed.delivery.web.app import create_app
from paperfeed.delivery.web.deps import safe_next
from paperfeed.store import Store
from tests.web_fixtures import (
    PASSWORD,
    csrf_from,
    finish_signup,
    make_app,
    page_csrf,
    paper_id,
    signup,
    signup_link,
)


def test_signup_stores_an_argon2_hash_and_logs_in(client: TestClient, seeded: Store) -> None:
    signup(client, "ada")
    found = seeded.users.user_credentials("ada")
    assert found is not None and found[1].startswith("$argon2id$") and PASSWORD not in found[1]
    r = client.get("/profile")
    assert r.status_code == 200 and "ada@example.org" in r.text


def test_session_cookie_flags(client: TestClient) -> None:
    r = client.get("/login")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("paperfeed_session=") and "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()


def test_secure_cookie_and_hsts_behind_https(settings: Settings, seeded: Store) -> None:
    with make_app(settings, seeded, base_url="https://papers.example.org") as c:
        r = c.get("/login")
        assert "; secure" in r.headers["set-cookie"].lower()
        assert "max-age" in r.headers["strict-transport-security"]


def test_login_logout_and_wrong_password(client: TestClient) -> None:
    signup(client, "ada")
    token = page_csrf(client)
    client.post("/logout", data={"csrf_token": token})
    assert (
        client.get("/profile", follow_redirects=False).headers["location"] == "/login?next=/profile"
    )
    token = csrf_from(client.get("/login").text)
    r = client.post(
        "/login", data={"login": "ada", "password": "wrong password", "csrf_token": token}
    )
    assert r.status_code == 400 and "wrong username/email or password" in r.text
    r = client.post("/login", data={"login": "nobody", "password": "x" * 10, "csrf_token": token})
    assert r.status_code == 400 and "wrong username/email or password" in r.text
    r = client.post(
        "/login",
        data={
            "login": "ADA@example.org",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/trending",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/trending"
    assert "ada" in client.get("/profile").text


def test_signup_validation_and_duplicates(client: TestClient) -> None:
    signup(client, "ada")
    other = TestClient(client.app)
    token = csrf_from(other.get("/signup").text)
    for data, message in (
        ({"username": "a", "email": "a@example.org", "password": PASSWORD}, "username:"),
        ({"username": "bob", "email": "not-an-email", "password": PASSWORD}, "email:"),
        (
            {"username": "Ada", "email": "x@example.org", "password": PASSWORD},
            "that username is taken",
        ),
        ({"username": "<b>bob</b>", "email": "b@example.org", "password": PASSWORD}, "username:"),
    ):
        r = other.post("/signup", data={**data, "csrf_token": token})
        assert r.status_code in (400, 409) and message in r.text, data
        assert "<b>bob</b>" not in r.text
    # the password is chosen behind the mailed link (#21 F13): a weak one is refused there
    weak = finish_signup(other, signup_link(client.app.state.web.secret_key, "bob"), "short")  # type: ignore[attr-defined]
    assert weak.status_code == 400 and "password:" in weak.text  # type: ignore[attr-defined]


def test_csrf_is_required_on_every_form(client: TestClient, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00001")
    r = client.post("/login", data={"login": "ada", "password": PASSWORD})
    assert r.status_code == 403 and "CSRF" in r.text
    signup(client, "ada")
    good = page_csrf(client)
    coll = client.post(
        "/collections", data={"name": "Mine", "csrf_token": good}, follow_redirects=False
    )
    cid = int(coll.headers["location"].rsplit("/", 1)[1])
    for path, data in (
        (f"/papers/{pid}/upvote", {}),
        (f"/papers/{pid}/unvote", {}),
        ("/submit", {"ref": "2501.00001"}),
        ("/collections", {"name": "x"}),
        (f"/collections/{cid}/edit", {"name": "y"}),
        (f"/collections/{cid}/delete", {}),
        (f"/collections/{cid}/papers", {"paper_id": str(pid)}),
        ("/collections/add", {"collection_id": str(cid), "paper_id": str(pid)}),
        (f"/collections/{cid}/papers/{pid}/remove", {}),
        ("/profile/tokens", {"name": "t"}),
        ("/profile/tokens/1/revoke", {}),
        ("/logout", {}),
    ):
        for token in (None, "forged-token-value-that-is-long-enough-000"):
            payload = dict(data) if token is None else {**data, "csrf_token": token}
            r = client.post(path, data=payload, follow_redirects=False)
            assert r.status_code == 403, (path, token)
    assert seeded.votes.vote_counts([pid]) == {}
    assert client.get("/profile").status_code == 200  # still logged in: logout was refused too


def test_login_rate_limit(settings: Settings, seeded: Store) -> None:
    with make_app(settings, seeded, rate_limit_login="3/minute") as c:
        token = csrf_from(c.get("/login").text)
        codes = [
            c.post(
                "/login", data={"login": "x", "password": "y" * 8, "csrf_token": token}
            ).status_code
            for _ in range(5)
        ]
        assert codes == [400, 400, 400, 429, 429]


def test_write_rate_limit(settings: Settings, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00001")
    with make_app(settings, seeded, rate_limit_write="2/minute") as c:
        signup(c, "ada")
        token = page_csrf(c)
        codes = [
            c.post(
                f"/papers/{pid}/upvote", data={"csrf_token": token}, follow_redirects=False
            ).status_code
            for _ in range(3)
        ]
        assert codes == [303, 303, 429]


def test_users_only_change_their_own_collections_and_tokens(
    client: TestClient, seeded: Store
) -> None:
    pid = paper_id(seeded, "2501.00001")
    signup(client, "ada")
    token = page_csrf(client)
    r = client.post(
        "/collections",
        data={"name": "Ada's private", "csrf_token": token, "paper_id": str(pid)},
        follow_redirects=False,
    )
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    client.post("/profile/tokens", data={"name": "ada-token", "csrf_token": token})
    ada_token_id = seeded.users.user_tokens(seeded.users.user_credentials("ada")[0].id)[0].id  # type: ignore[index]

    mallory = TestClient(client.app)
    signup(mallory, "mallory")
    mt = page_csrf(mallory)
    assert mallory.get(f"/collections/{cid}").status_code == 404  # private
    assert mallory.get(f"/collections/{cid}/export.bib").status_code == 404
    for path, data in (
        (f"/collections/{cid}/edit", {"name": "pwned"}),
        (f"/collections/{cid}/delete", {}),
        (f"/collections/{cid}/papers/{pid}/remove", {}),
        (f"/collections/{cid}/papers", {"paper_id": str(paper_id(seeded, "2501.00002"))}),
        (f"/profile/tokens/{ada_token_id}/revoke", {}),
    ):
        r = mallory.post(path, data={**data, "csrf_token": mt}, follow_redirects=False)
        assert r.status_code == 404, path
    coll = seeded.collections.get_collection(cid)
    assert coll is not None and coll.name == "Ada's private" and coll.paper_count == 1
    assert len(seeded.users.user_tokens(coll.user_id)) == 1


def test_api_token_is_shown_once_and_stored_hashed(client: TestClient, seeded: Store) -> None:
    signup(client, "ada")
    r = client.post("/profile/tokens", data={"name": "laptop", "csrf_token": page_csrf(client)})
    m = re.search(r'<code class="token" id="new-token">(pf_[A-Za-z0-9_-]+)</code>', r.text)
    assert m
    assert m.group(1) not in client.get("/profile").text
    assert "pf_" not in r.headers.get("set-cookie", "")
    me = TestClient(client.app).get("/api/v1/me", headers={"Authorization": f"Bearer {m.group(1)}"})
    assert me.json()["username"] == "ada"


def test_safe_next() -> None:
    assert safe_next("/papers/1?x=2") == "/papers/1?x=2"
    for bad in (
        "//evil.example",
        "https://evil.example",
        "/\\evil",
        "javascript:alert(1)",
        "",
        None,
        "/a\nb",
    ):
        assert safe_next(bad) == "/"


def test_production_needs_a_secret_key_from_the_environment(
    settings: Settings, seeded: Store, tmp_path: Path
) -> None:
    prod = with_overrides(
        settings, env="production", secret_key="", base_url="https://papers.example.org"
    )
    with pytest.raises(ConfigError, match="PAPERFEED_SECRET_KEY"):
        create_app(AppContext(prod, seeded))
    with pytest.raises(ConfigError, match="at least 32"):
        create_app(AppContext(with_overrides(prod, secret_key="short"), seeded))
    create_app(
        AppContext(with_overrides(prod, secret_key="Xq3v-9LmZ_r7TbW2pKd8sYc4NfJ0hGe6uAiO5"), seeded)
    )
    assert (
        not (settings.data_path / "secret_key").exists()
        or (settings.data_path / "secret_key").stat().st_mode & 0o077 == 0
    )


def test_development_key_is_shared_by_workers(settings: Settings, seeded: Store) -> None:
    a = create_app(AppContext(settings, seeded)).state.web.secret_key
    b = create_app(AppContext(settings, seeded)).state.web.secret_key
    assert a == b and len(a) >= 32


@pytest.mark.parametrize(
    ("mailer", "hint"), [("console", "printed in the log"), ("file", ".eml</code> file")]
)
def test_signup_page_says_where_the_link_went_without_a_mail_server(
    settings: Settings, seeded: Store, mailer: str, hint: str
) -> None:
    """After `make run` there is no SMTP server: the page tells whoever runs it where the mail
    is."""
    with make_app(with_overrides(settings, mailer=mailer), seeded) as client:
        token = csrf_from(client.get("/signup").text)
        r = client.post("/signup", data={"username": "newbie", "email": "newbie@example.org",
                                         "csrf_token": token})
    assert r.status_code == 200 and "Check your inbox" in r.text and hint in r.text
