"""Request dependencies: who is calling (session or Bearer token), CSRF checks, rate limits,
rendering."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.core.errors import Forbidden, PaperfeedError, Unauthorized
from paperfeed.core.ids import MAX_ID
from paperfeed.core.models import User
from paperfeed.delivery.web.security import CSRF_HEADER, check_csrf, csrf_token, token_hash
from paperfeed.delivery.web.state import WebState, get_state, session_user

# F6: the one bounded id type of every path parameter (every id column is int4 on PostgreSQL), so
# /groups/2147483648 or /groups/9223372036854775808 is a 422 naming the parameter, never a 500.
# tests/test_web_security_round3.py walks every route and refuses an unbounded integer parameter.
DbId = Annotated[int, Path(ge=1, le=MAX_ID, description="Id (1 to 2**31 - 1).")]
PaperId = Annotated[int, Path(ge=1, le=MAX_ID, description="Internal paper id.")]
CollectionId = Annotated[int, Path(ge=1, le=MAX_ID, description="Collection id.")]
CommentId = Annotated[int, Path(ge=1, le=MAX_ID, description="Comment id.")]
GroupId = Annotated[int, Path(ge=1, le=MAX_ID, description="Lab (group) id.")]
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="Account id.")]


class LoginRequired(PaperfeedError):
    """A page needs a logged-in user: the handler redirects to the login page."""

    status = 401

    def __init__(self, next_url: str) -> None:
        super().__init__("log in first")
        self.next_url = next_url


def json_response(data: object, status: int = 200) -> Response:
    """A JSON answer with non-ASCII text kept as is (the API's one way to answer with JSON)."""
    return Response(
        json.dumps(data, ensure_ascii=False), status_code=status, media_type="application/json"
    )


def client_key(request: Request) -> str:
    """The client address for rate limits."""
    return request.client.host if request.client else "unknown"


def safe_next(raw: str | None, default: str = "/") -> str:
    """A local path to go back to; anything else (other hosts, '//x', schemes) becomes the
    default."""
    if (
        not raw
        or not raw.startswith("/")
        or raw.startswith("//")
        or "\\" in raw
        or any(ord(c) < 32 for c in raw)
    ):
        return default
    return raw


# ----- pages --------------------------------------------------------------------------------------


def page_user(request: Request) -> User | None:
    """The logged-in user of the page request, if any."""
    return session_user(request)


def require_page_user(request: Request) -> User:
    """The logged-in user, or a redirect to the login page."""
    user = session_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(
            target if request.method == "GET" else request.headers.get("referer", "/")
        )
    return user


def csrf_form(request: Request, csrf_token: str = Form("")) -> None:
    """Dependency of every state-changing form: the hidden csrf_token must match the session's."""
    check_csrf(request.session, csrf_token or request.headers.get(CSRF_HEADER))


def write_limit(request: Request, user: User | None) -> None:
    """Count a write against the user's (or the address's) write limit."""
    get_state(request).limits.hit("write", f"u{user.id}" if user else client_key(request))


def flash(request: Request, message: str, kind: str = "info") -> None:
    """A message shown on the next page."""
    request.session.setdefault("flash", [])
    request.session["flash"] = [*request.session["flash"], [kind, message]][-5:]


Context = dict[str, Any] | Callable[[], dict[str, Any]]


def render(
    request: Request, template: str, context: Context, status_code: int = 200,
    cache_key: tuple[Any, ...] | None = None,
) -> HTMLResponse:
    """Render a page; pages for anonymous visitors with a cache key are cached with the data stamp.

    `context` may be a function so that a cached page costs no queries.
    """
    state = get_state(request)
    user = session_user(request)
    has_flash = "session" in request.scope and bool(request.session.get("flash"))
    if cache_key is not None and user is None and not has_flash:
        # Key and links only on the query parameters the page declares: `?utm_source=...` neither
        # splits the cache nor ends up in the page served to everyone.
        used = used_query(request)
        here = request.url.path + (f"?{urlencode(used)}" if used else "")
        body: str = state.cached(("page", template, request.url.path, *cache_key, tuple(used)),
                                 lambda: _render(state, request, template, context, None, here))
        return HTMLResponse(body, status_code=status_code,
                            headers={"Cache-Control": "public, max-age=30", "Vary": "Cookie"})
    html = _render(state, request, template, context, user)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Cache-Control": "private, no-store", "Vary": "Cookie"},
    )


def used_query(request: Request) -> list[tuple[str, str]]:
    """The query parameters the route declares, in the route's order (others are ignored)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    names = [p.alias or p.name for p in getattr(dependant, "query_params", [])]
    return [(n, v) for n in names for v in request.query_params.getlist(n)]


def _render(state: WebState, request: Request, template: str, context: Context, user: User | None,
            here: str | None = None) -> str:
    values = context() if callable(context) else context
    flashes: list[list[str]] = []
    csrf = ""
    if "session" in request.scope:
        flashes = (
            request.session.pop("flash", [])
            if user is not None or request.session.get("flash")
            else []
        )
        if user is not None or values.get("needs_csrf"):
            csrf = csrf_token(request.session)
    path = request.url.path
    full = (
        here if here is not None else path + (f"?{request.url.query}" if request.url.query else "")
    )
    base = {
        "user": user, "csrf": csrf, "flashes": flashes, "path": path, "here": full,
        "here_q": quote(full, safe=""), "site": "paperfeed", "needs_csrf": False, "nav_q": "",
    }
    return state.env.get_template(template).render({**base, **values})


# ----- API ----------------------------------------------------------------------------------------


def api_user(request: Request) -> User | None:
    """The caller of an API request: a Bearer token, or a browser session (CSRF-checked for
    writes)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization: expected 'Bearer <token>'")
        found = get_state(request).store.security.token_user(token_hash(token.strip()))
        if found is None:
            raise Unauthorized(
                "unknown, revoked or expired API token (make a new one on your profile page)"
            )
        request.scope["pf_token_scope"] = found[1]
        return found[0]
    user = session_user(request)
    if user is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
        check_csrf(request.session, request.headers.get(CSRF_HEADER))
    return user


def api_writer(request: Request) -> User:
    """The caller of an API write: logged in (token or session + CSRF), within the write limit."""
    user = api_user(request)
    if user is None:
        raise Unauthorized(
            "log in or send 'Authorization: Bearer <token>' (create one on your profile page)"
        )
    if request.scope.get("pf_token_scope") == "read":
        raise Forbidden(
            "this API token is read-only: make a token with the 'write' scope on your profile page"
        )
    write_limit(request, user)
    return user
