"""Request context middleware: a request id on every log line, one access line, request metrics.

Pure ASGI (not BaseHTTPMiddleware), so the context variable it sets is seen by the handler, by the
threads sync handlers run in (anyio copies the context), and by the error handlers. The access line
logs the path without its query string: links in digests carry tokens there.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.delivery.common.logs import REQUEST_ID, safe_path
from paperfeed.delivery.web.metrics import observe_request

access_log = logging.getLogger("paperfeed.access")
HEADER = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


_CONVERTOR = re.compile(r":[a-z]+\}")


def route_template(scope: Scope) -> str:
    """The matched route's template (/paper/{arxiv_id}), never the raw path (bounded label
    values)."""
    route: object = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        # "{paper_id:int}" is labelled as the OpenAPI path "{paper_id}"
        return _CONVERTOR.sub("}", path)
    return "<unmatched>"


class RequestContext:
    """Sets the request id (the caller's X-Request-ID when well-formed), echoes it, logs, counts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(HEADER.encode(), b"").decode("latin-1")
        request_id = given if _VALID_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers") or [])
                headers.append((HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        failed = True
        try:
            await self.app(scope, receive, send_with_id)
            failed = False
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            observe_request(scope.get("method", "GET"), route, status, seconds)
            client = scope.get("client")
            path = safe_path(str(scope.get("path", "")))
            access_log.info(
                "%s %s %s %.1fms", scope.get("method"), path, status, seconds * 1000,
                extra={"method": scope.get("method"), "path": path, "route": route,
                       "status": status, "duration_ms": round(seconds * 1000, 2),
                       "client": client[0] if client else None},
            )
            if not failed:  # on an error the id stays set for the outer error handler's log line
                REQUEST_ID.reset(token)
