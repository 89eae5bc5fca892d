"""The third outside review's findings (issue #21), each replayed with the request that showed it.

Storage is involved in most of them, so they run on both backends (the `store` fixtures).
"""

from __future__ import annotations

import re
import typing

import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from paperfeed.core.ids import MAX_ID
from paperfeed.core.settings import Settings
from paperfeed.delivery.credentials import hash_password
from paperfeed.delivery.web.security import token_hash
from paperfeed.store import Store
from tests.web_fixtures import PASSWORD, csrf_from, make_app, page_csrf, signup

BEARER = "pf_round3-secret-token-value-1234"


def _login(c: TestClient, login: str, password: str = PASSWORD) -> int:
    token = csrf_from(c.get("/login").text)
    r = c.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return r.status_code


def _uid(store: Store, name: str) -> int:
    user = store.get_user_by_name(name)
    assert user is not None
    return user.id


# ----- F4: device cookies do not widen the per-address limit ---------------------------------------


def test_device_cookie_of_an_own_account_buys_no_extra_guesses(
    settings: Settings, seeded: Store
) -> None:
    with make_app(settings, seeded, rate_limit_login="6/minute") as attacker:
        signup(
            attacker, "eve"
        )  # one hit on the address; the browser now carries eve's device cookie
        attacker.post("/logout", data={"csrf_token": page_csrf(attacker)})
        assert "pf_device" in attacker.cookies
        # distinct names, so the per-account wait never starts: only the per-address bound can stop it
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
        seeded.set_password_hash(_uid(seeded, "ada"), hash_password("violet quasar lemonade 42"))
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
                unbounded.append(f"{sorted(route.methods)} {route.path} {name}")
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
            for method in sorted(route.methods - {"HEAD"}):
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
        seeded.mark_email_verified(uid, "ada@example.org")
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
        assert [i.email for i in seeded.group_invites(gid)] == ["bob@example.org"]


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
