"""ASGI middleware that checks requests before any handler (or authentication) runs.

- `RequestGuard`: the URL must not carry NUL bytes; the body must fit `web_max_body_bytes`
  (Content-Length is checked before a byte is read, a streamed body as it arrives); form and JSON
  bodies must be valid UTF-8 without NUL characters (PostgreSQL cannot store NUL in text, and a
  form field with broken bytes would otherwise be stored as replacement characters).
- `NoStore`: API answers to a request that carried credentials (a Bearer token or a session
  cookie) get `Cache-Control: no-store`, so no shared or browser cache keeps personal JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.core.errors import BadRequest, PayloadTooLarge

ErrorResponder = Callable[[Scope, int, str], Callable[[Scope, Receive, Send], Awaitable[None]]]


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return b""


def check_form_body(body: bytes) -> None:
    """BadRequest when a urlencoded form carries NUL characters or bytes that are not UTF-8."""
    for pair in body.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" "))
        value = unquote_to_bytes(raw_value.replace(b"+", b" "))
        label = name.decode("utf-8", "replace")[:40]
        for part in (name, value):
            if b"\x00" in part:
                raise BadRequest(f"form field {label!r} must not contain NUL characters")
            try:
                part.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"form field {label!r} is not valid UTF-8 text") from None


def check_multipart_body(body: bytes) -> None:
    """BadRequest for a multipart form with NUL or non-UTF-8 bytes (the site takes no file
    uploads)."""
    if b"\x00" in body:
        raise BadRequest("form fields must not contain NUL characters")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("form fields must be valid UTF-8 text") from None


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def check_json_body(body: bytes) -> None:
    """BadRequest when a JSON body holds a NUL character in any string."""
    if b"\x00" not in body and b"\\u0000" not in body:
        return
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return  # not JSON: the handler's parser answers 400
    if _has_nul(data):
        raise BadRequest("JSON strings must not contain NUL characters")


class RequestGuard:
    """Reject NUL in URLs, oversized bodies and broken form/JSON text before the app sees them."""

    def __init__(self, app: ASGIApp, max_body: int, error: ErrorResponder) -> None:
        self.app = app
        self.max_body = max_body
        self.error = error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope.get("path", ""):
            await self.error(scope, 400, "the URL must not contain NUL characters")(
                scope, receive, send
            )
            return
        length = _header(scope, b"content-length")
        if length:
            if not length.isdigit():
                await self.error(scope, 400, "Content-Length is not a number")(scope, receive, send)
                return
            if int(length) > self.max_body:
                await self.error(scope, 413, self._too_large())(scope, receive, send)
                return
        if scope.get("method") not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        # Bodies are read here, bounded, before routing and authentication (a chunked upload
        # without Content-Length is cut off at max_body too), then replayed to the app.
        kind = _header(scope, b"content-type").split(b";")[0].strip().lower()
        try:
            body = await self._read(receive)
            if kind == b"application/json":
                check_json_body(body)
            elif kind == b"application/x-www-form-urlencoded":
                check_form_body(body)
            elif kind == b"multipart/form-data":
                check_multipart_body(body)
        except (BadRequest, PayloadTooLarge) as exc:
            await self.error(scope, exc.status, exc.message)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body} bytes"

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(self._too_large())
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class NoStore:
    """`Cache-Control: no-store` on API answers to requests that carried credentials."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        personal = (
            scope["type"] == "http"
            and path.startswith("/api/")
            and bool(_header(scope, b"authorization") or _header(scope, b"cookie"))
        )
        if not personal:
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"cache-control", b"vary")
                ]
                headers += [
                    (b"cache-control", b"no-store, private"),
                    (b"vary", b"Authorization, Cookie"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)
