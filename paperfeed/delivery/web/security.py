"""Secrets, passwords, CSRF tokens, API tokens, rate limits and security headers.

CSRF uses the synchronizer-token pattern: a random token lives in the signed, HttpOnly session
cookie (Starlette's SessionMiddleware over itsdangerous) and every state-changing form carries it in
a hidden `csrf_token` field (scripts send it as the `X-CSRF-Token` header); the two must match. We
use this well-known pattern rather than asgi-csrf / starlette-csrf because those either need a
header on every POST (plain HTML forms cannot send one) or re-parse request bodies in a way that
fights FastAPI's own form parsing. API requests with a Bearer token need no CSRF token: browsers
never attach that header on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.core.addresses import is_email
from paperfeed.core.errors import BadRequest, ConfigError, Forbidden, TooManyRequests
from paperfeed.core.settings import Settings

# re-exported: the web adapters import them from here
from paperfeed.delivery.app.credentials import (
    DUMMY_HASH,
    hash_password,
    needs_rehash,
    new_api_token,
    password_problem,
    token_hash,
    verify_password,
)

CSRF_HEADER = "x-csrf-token"
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")

def validate_signup(username: str, email: str, password: str | None) -> None:
    """Raise BadRequest naming the first field that is wrong (None: no password to check yet)."""
    if not _USERNAME.match(username):
        raise BadRequest("username: 3 to 32 letters, digits, '.', '_' or '-'")
    if not is_email(email):
        raise BadRequest("email: not an email address")
    if password is None:
        return
    problem = password_problem(password, username, email)
    if problem:
        raise BadRequest(f"password: {problem}")


__all__ = [
    "DUMMY_HASH",
    "hash_password",
    "needs_rehash",
    "new_api_token",
    "password_problem",
    "token_hash",
    "verify_password",
]


# ----- CSRF ---------------------------------------------------------------------------------------


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, created on first use."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf(session: dict[str, Any], sent: str | None) -> None:
    """Raise Forbidden unless `sent` equals the session's CSRF token."""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")


# ----- API tokens ---------------------------------------------------------------------------------


# ----- rate limits --------------------------------------------------------------------------------


UNCONFIRMED_MAIL_LIMIT = "3/hour"  # messages per unconfirmed recipient address


def address_key(address: str) -> str:
    """The rate-limit key of a mail address (hashed: limit storage may be a shared Redis)."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()[:32]


class RateLimits:
    """Named limits from settings over one `limits` storage."""

    def __init__(self, settings: Settings) -> None:
        try:
            self.limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage))
            self.items: dict[str, RateLimitItem] = {
                "login": parse(settings.rate_limit_login),
                "write": parse(settings.rate_limit_write),
                "comment": parse(settings.rate_limit_comment),
                # #21 F14: mail to an address nobody confirmed (sign-up links, resets, re-sends,
                # invites) is bounded per address, so paperfeed cannot be used to flood a stranger
                "unconfirmed_mail": parse(UNCONFIRMED_MAIL_LIMIT),
            }
        except ValueError as exc:
            raise ConfigError(f"rate limit settings: {exc}") from None

    def allow(self, name: str, key: str) -> bool:
        """Count one event; False (nothing raised) when over the limit."""
        return bool(self.limiter.hit(self.items[name], name, key))

    def hit(self, name: str, key: str) -> None:
        """Count one request; raise TooManyRequests (with the seconds to wait) when over the
        limit."""
        item = self.items[name]
        if not self.limiter.hit(item, name, key):
            reset = self.limiter.get_window_stats(item, name, key).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            raise TooManyRequests(
                f"too many requests: at most {item}; try again in {wait} seconds", retry_after=wait
            )


# ----- headers ------------------------------------------------------------------------------------

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
_DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src "
    "'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors "
    "'none'"
)
_BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """ASGI middleware adding nosniff, frame and referrer headers, and a strict CSP on our pages."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Swagger UI (/docs, served from the swagger-ui-bundle package) sets inline styles.
        csp = _DOCS_CSP if str(scope.get("path", "")).startswith("/docs") else _CSP

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(_BASE_HEADERS)
                headers.append((b"content-security-policy", csp.encode()))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)
