"""The application factory: `create_app(ctx)` for tests and `paperfeed serve`, `app_from_env()` for
workers."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote, urlsplit

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from paperfeed import __version__
from paperfeed.core.errors import PaperfeedError, TooManyRequests
from paperfeed.core.settings import Settings
from paperfeed.delivery.common.context import AppContext, open_context
from paperfeed.delivery.common.logs import REQUEST_ID, configure_logging
from paperfeed.delivery.common.secret_key import check_production, resolve_secret_key
from paperfeed.delivery.web import (
    account,
    api,
    auth,
    author_routes,
    collection_api,
    digest_routes,
    discussion_routes,
    docs,
    feeds,
    group_routes,
    me_routes,
    ops_routes,
    pages,
    paper_refs,
    source_routes,
    topic_routes,
    verify_routes,
)
from paperfeed.delivery.web.cache import Stamp, TTLCache
from paperfeed.delivery.web.deps import LoginRequired, render
from paperfeed.delivery.web.guards import NoStore, RequestGuard
from paperfeed.delivery.web.observe import RequestContext
from paperfeed.delivery.web.security import RateLimits, SecurityHeaders
from paperfeed.delivery.web.state import STATIC, SearchHolder, WebState, make_env

log = logging.getLogger("paperfeed.web")
SESSION_COOKIE = "paperfeed_session"
# the cookie's lifetime; the server-side session (delivery/app/accounts.py) decides validity
SESSION_DAYS = 14


class CachedStatic(StaticFiles):
    """Static files with long cache headers: their URLs carry a content hash (see `static_url`)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """Serve the file, cacheable for a year when asked for by hashed URL."""
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            versioned = b"v=" in scope.get("query_string", b"")
            response.headers["Cache-Control"] = (
                "public, max-age=31536000, immutable" if versioned else "public, max-age=3600"
            )
        return response


def _static_url_builder() -> Callable[[str], str]:
    hashes: dict[str, str] = {}
    for path in STATIC.iterdir():
        if path.is_file():
            hashes[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]

    def static_url(name: str) -> str:
        return f"/static/{name}?v={hashes.get(name, __version__)}"

    return static_url


class PaperfeedApp(FastAPI):
    """FastAPI whose security headers wrap even the 500 page (Starlette answers those outermost)."""

    def build_middleware_stack(self) -> ASGIApp:
        """The usual stack inside SecurityHeaders."""
        return SecurityHeaders(
            super().build_middleware_stack(), hsts=bool(getattr(self.state, "hsts", False))
        )


def _hosts(settings: Settings) -> list[str]:
    """The Host names TrustedHostMiddleware accepts."""
    if settings.allowed_hosts.strip():
        return [h.strip() for h in settings.allowed_hosts.split(",") if h.strip()]
    if not settings.is_production:
        return ["*"]
    host = urlsplit(settings.base_url).hostname
    return [host] if host else ["*"]


def _is_api(scope: Scope | Request) -> bool:
    path = scope.url.path if isinstance(scope, Request) else str(scope.get("path", ""))
    return path.startswith("/api/")


def _error(scope: Scope, status: int, message: str) -> Response:
    return JSONResponse({"status": status, "message": message}, status_code=status)


def create_app(ctx: AppContext) -> FastAPI:
    """Build the web app over an open context (settings + store)."""
    settings = ctx.settings
    secret = resolve_secret_key(settings)
    nav: list[tuple[str, str]] = []
    env = make_env(nav)
    env.globals["static_url"] = _static_url_builder()
    state = WebState(
        ctx=ctx,
        secret_key=secret,
        env=env,
        cache=TTLCache(settings.web_cache_seconds),
        stamp=Stamp(
            lambda: (ctx.store.votes.community_stamp(), ctx.store.comments.comment_stamp())
        ),
        limits=RateLimits(settings),
        search=SearchHolder(settings, ctx.store),
        nav_links=nav,
    )
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Handlers are sync and mostly CPU: a few threads keep them from fighting for the GIL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        yield

    check_production(settings)
    app = PaperfeedApp(
        lifespan=lifespan,
        title="paperfeed API",
        version=__version__,
        description="A self-hosted research-paper discovery hub. Reads are open; writes need a "
        "Bearer token (profile page) or a session with its CSRF token in X-CSRF-Token.",
        docs_url=None,  # served by docs.router: admin-only, from packaged assets
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.web = state
    https = settings.base_url.startswith("https://")
    app.add_middleware(
        SessionMiddleware, secret_key=secret, session_cookie=SESSION_COOKIE,
        max_age=SESSION_DAYS * 86400, same_site="lax", https_only=https,
    )
    app.state.hsts = https
    app.add_middleware(NoStore)
    app.add_middleware(RequestGuard, max_body=settings.web_max_body_bytes, error=_error)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=_hosts(settings))
    if settings.trusted_proxies.strip():
        # uvicorn's own X-Forwarded-For/-Proto handling, believed only from the configured proxies.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # outermost: the request id covers every other layer; the access line reads the client after
    # ProxyHeadersMiddleware has replaced it with the forwarded one
    app.add_middleware(RequestContext)
    app.router.redirect_slashes = False  # its redirect would be built from the Host header
    app.mount("/static", CachedStatic(directory=str(STATIC)), name="static")
    docs.mount(app)
    for router in (
        api.router,
        collection_api.router,
        feeds.router,
        auth.router,
        account.router,
        pages.router,
        digest_routes.router,
        docs.router,
        discussion_routes.router,
        verify_routes.router,
        author_routes.router,
        group_routes.router,
        source_routes.router,
        ops_routes.router,
        me_routes.router,
        topic_routes.router,
        paper_refs.router,
    ):  # paper_refs last: its paths catch all
        app.include_router(router)
    nav.extend(digest_routes.NAV)
    nav.extend(group_routes.NAV)
    nav.extend(discussion_routes.NAV)
    _install_error_handlers(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    def answer(request: Request, status: int, message: str) -> Response:
        if _is_api(request):
            return JSONResponse({"status": status, "message": message}, status_code=status)
        return render(
            request,
            "error.html",
            {"title": f"Error {status}", "status": status, "message": message},
            status_code=status,
        )

    @app.exception_handler(PaperfeedError)
    async def paperfeed_error(request: Request, exc: PaperfeedError) -> Response:
        if isinstance(exc, LoginRequired) and not _is_api(request):
            return RedirectResponse(f"/login?next={quote(exc.next_url, safe='/')}", status_code=303)
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc.message)
        response = answer(request, exc.status, exc.message)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}"
        response = answer(request, exc.status_code, message)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return answer(request, 400, _validation_message(exc))

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        # this handler runs outside the request-id middleware: echo the id the log line carries
        headers = {"X-Request-ID": rid} if (rid := REQUEST_ID.get()) else None
        if _is_api(request):
            return JSONResponse(
                {"status": 500, "message": "internal error"}, status_code=500, headers=headers
            )
        return HTMLResponse("<h1>Internal error</h1>", status_code=500, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """One line naming the first bad parameter and what was wrong with it."""
    errors = exc.errors()
    if not errors:
        return "bad request"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body",)]
    where = ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc)
    kind = loc[0] if loc else "request"
    return f"{kind} {where}: {first.get('msg', 'invalid')}".replace("query query", "query")


def app_from_env() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment (set by `paperfeed serve`)."""
    ctx = open_context()
    configure_logging(ctx.settings)
    return create_app(ctx)
