"""A short, bounded brute-force run against /login on a real uvicorn server on 127.0.0.1 (issue
#11):

the throttle stops the guesses, and the owner still logs in from their own browser meanwhile.
"""

from __future__ import annotations

import contextlib
import html
import re
import threading
import time
from collections.abc import Iterator

import httpx

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app import accounts
from paperfeed.delivery.common.context import AppContext
from paperfeed.delivery.common.secret_key import resolve_secret_key
from paperfeed.delivery.web.app import create_app
from paperfeed.store import Store
from tests.test_web_browser import _free_port
from tests.web_fixtures import PASSWORD, signup_link

GUESSES = 40
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextlib.contextmanager
def _serving(settings: Settings, store: Store) -> Iterator[str]:
    """uvicorn on 127.0.0.1 as `paperfeed serve` runs it (uvicorn's own proxy-header trust off)."""
    import uvicorn

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(AppContext(with_overrides(settings, base_url=base), store))
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield base
    finally:
        srv.should_exit = True
        thread.join(10)


def _csrf(c: httpx.Client, path: str = "/login") -> str:
    m = _CSRF.search(c.get(path).text)
    assert m
    return m.group(1)


def _try(
    c: httpx.Client, token: str, login: str, password: str, ip: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": ip} if ip else {}
    return c.post(
        "/login", data={"login": login, "password": password, "csrf_token": token}, headers=headers
    )


def test_bounded_brute_force_is_throttled_and_the_owner_gets_in(
    settings: Settings, seeded: Store
) -> None:
    fast = with_overrides(settings, rate_limit_login="20/minute")
    with (
        _serving(fast, seeded) as base,
        httpx.Client(base_url=base, timeout=30) as owner,
        httpx.Client(base_url=base, timeout=30) as attacker,
    ):
        token = _csrf(owner, "/signup")
        r = owner.post(
            "/signup", data={"username": "ada", "email": "ada@example.org", "csrf_token": token}
        )
        assert r.status_code == 200  # the account is made behind the mailed link (#21 F13)
        page = owner.get(signup_link(resolve_secret_key(fast), "ada"))
        t = html.unescape(re.search(r'name="t" value="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        r = owner.post(
            "/signup/finish",
            data={"t": t, "password": PASSWORD, "csrf_token": _CSRF.search(page.text).group(1)},  # type: ignore[union-attr]
        )
        assert r.status_code == 303 and "pf_device" in owner.cookies
        owner.post("/logout", data={"csrf_token": _csrf(owner, "/profile")})
        token = _csrf(attacker)
        answers = [_try(attacker, token, "ada", f"guess-{i:04d}") for i in range(GUESSES)]
        codes = [a.status_code for a in answers]
        checked = codes.index(429)
        # Only the free attempts were checked against the password; every later one was refused.
        assert checked == accounts.FREE_FAILURES and set(codes[checked:]) == {429}
        assert all(int(a.headers["Retry-After"]) >= 1 for a in answers[checked:])
        # The attacker's right guess now is refused too, without being checked.
        assert _try(attacker, token, "ada", PASSWORD).status_code == 429
        # The owner, from the browser they used before (same address here), logs in during the
        # attack.
        r = _try(owner, _csrf(owner), "ada", PASSWORD)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert owner.get("/profile").status_code == 200


def test_forwarded_for_counts_only_through_a_trusted_proxy(
    settings: Settings, seeded: Store
) -> None:
    limited = with_overrides(settings, rate_limit_login="5/minute")
    # No trusted proxy: rotating X-Forwarded-For does not escape the per-address limit.
    with _serving(limited, seeded) as base, httpx.Client(base_url=base, timeout=30) as c:
        token = _csrf(c)
        codes = [
            _try(c, token, f"user{i}", "wrong-pass", ip=f"203.0.113.{i}").status_code
            for i in range(8)
        ]
        assert codes[:5] == [400] * 5 and set(codes[5:]) == {429}
    # Behind a configured proxy (127.0.0.1 here), each forwarded address has its own count.
    with (
        _serving(with_overrides(limited, trusted_proxies="127.0.0.1"), seeded) as base,
        httpx.Client(base_url=base, timeout=30) as c,
    ):
        token = _csrf(c)
        codes = [
            _try(c, token, f"user{i}", "wrong-pass", ip=f"203.0.113.{i}").status_code
            for i in range(8)
        ]
        assert codes == [400] * 8
