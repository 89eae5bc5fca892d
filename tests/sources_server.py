"""A scripted HTTP server on 127.0.0.1 for the source fetchers' tests, plus helpers shared by them.

Each path gets a queue of replies; the last one repeats. Every request is recorded with its path,
query and arrival time, so tests can check paging parameters and the spacing between requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from paperfeed.core.settings import Settings
from paperfeed.sources.http import HttpClient, RateLimiter

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sources"


def fixture(name: str) -> bytes:
    """The bytes of a file under tests/fixtures/sources."""
    return (FIXTURES / name).read_bytes()


@dataclass
class Reply:
    """One scripted answer."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/xml; charset=utf-8"
    delay: float = 0.0  # seconds to wait before answering (for timeouts)
    cut_at: int | None = None  # send only this many body bytes but announce them all, then close


@dataclass
class Seen:
    """One request the server received."""

    path: str
    query: dict[str, str]
    at: float


Script = Callable[[Seen], Reply]


class ScriptedServer:
    """Answers GETs from per-path reply queues or functions; records every request."""

    def __init__(self) -> None:
        self.queues: dict[str, list[Reply]] = {}
        self.scripts: dict[str, Script] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # the name http.server calls
                parts = urlsplit(self.path)
                seen = Seen(parts.path, dict(parse_qsl(parts.query)), time.monotonic())
                reply = owner._reply(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if reply.cut_at is not None:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    self.wfile.write(body if reply.cut_at is None else body[: reply.cut_at])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )

    def _reply(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            if seen.path in self.scripts:
                return self.scripts[seen.path](seen)
            queue = self.queues.get(seen.path)
            if not queue:
                return Reply(b"not found", 404, content_type="text/plain")
            return queue.pop(0) if len(queue) > 1 else queue[0]

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        """The full URL of a path on this server."""
        return self.base + path

    def add(self, path: str, *replies: Reply) -> None:
        """Queue replies for a path (the last one repeats)."""
        self.queues.setdefault(path, []).extend(replies)

    def script(self, path: str, fn: Script) -> None:
        """Answer a path with a function of the request."""
        self.scripts[path] = fn

    def paths(self, path: str) -> list[Seen]:
        """The requests received for one path, in order."""
        return [r for r in self.requests if r.path == path]

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the socket, join the threads."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


@contextmanager
def serve() -> Iterator[ScriptedServer]:
    """A started ScriptedServer, stopped and closed on exit."""
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def settings_for(server: ScriptedServer, **changes: Any) -> Settings:
    """Settings pointing every source at the local server, fast timeouts, no pacing."""
    values: dict[str, Any] = {
        "arxiv_api_url": server.url("/api/query"),
        "arxiv_oai_url": server.url("/oai"),
        "hf_api_url": server.url("/api/daily_papers"),
        "arxiv_delay": 0.0,
        "hf_delay": 0.0,
        "http_timeout": 2.0,
        "http_retries": 2,
        "http_backoff": 0.01,
    }
    values.update(changes)
    return Settings(**values)


class Sleeps:
    """A sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def quick_client(settings: Settings, sleeps: Sleeps | None = None) -> HttpClient:
    """An HttpClient with a recorded sleep and its own pacing state (so tests do not share it)."""
    return HttpClient(settings, sleep=sleeps or Sleeps(), limiter=RateLimiter())
