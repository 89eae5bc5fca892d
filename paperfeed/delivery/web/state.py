"""What every request handler shares: settings, store, templates, caches, limits, the search
index."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from starlette.requests import Request

from paperfeed.core.errors import PaperfeedError
from paperfeed.core.models import User
from paperfeed.core.settings import Settings
from paperfeed.core.urls import paper_links
from paperfeed.delivery.common.context import AppContext
from paperfeed.delivery.web.cache import Stamp, TTLCache
from paperfeed.delivery.web.categories import category_name
from paperfeed.delivery.web.richtext import rich
from paperfeed.delivery.web.security import RateLimits
from paperfeed.index import SearchIndex, open_search_index
from paperfeed.store import Store

T = TypeVar("T")

log = logging.getLogger("paperfeed.web")
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
INDEX_CHECK_SECONDS = 5.0


class SearchHolder:
    """Opens the search index lazily (retrying every few seconds while that fails)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._index: SearchIndex | None = None
        self._error: str | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()

    def get(self) -> SearchIndex | None:
        """The open index, or None (see `error`) when there is none."""
        now = time.monotonic()
        if self._index is not None or now < self._next_check:
            return self._index
        with self._lock:
            if self._index is not None or now < self._next_check:
                return self._index
            try:
                # Read-only: searches re-read the index's pointer; jobs (ingest, worker) refresh it.
                self._index = open_search_index(self.settings, self.store)
                self._error = None
            except (PaperfeedError, OSError, ValueError) as exc:
                self._error = getattr(exc, "message", None) or str(exc)
                log.warning("search index unavailable: %s", self._error)
            self._next_check = now + INDEX_CHECK_SECONDS
            return self._index

    def reload_soon(self) -> None:
        """Re-read the index pointer on the next search (after a write in this process refreshed
        it)."""
        if self._index is not None:
            self._index.expire_check()

    @property
    def error(self) -> str | None:
        """Why there is no index, if there is none."""
        return self._error

    def status(self) -> dict[str, Any]:
        """The index's own status, or why it is missing."""
        index = self.get()
        if index is None:
            return {
                "available": False,
                "error": self._error or "not built: run `paperfeed index build`",
            }
        try:
            info = dict(index.status())
        except (PaperfeedError, OSError, ValueError) as exc:
            return {"available": False, "error": str(exc)}
        return {"available": True, **info}


@dataclass
class WebState:
    """Everything the handlers need; one per app (per worker process)."""

    ctx: AppContext
    secret_key: str
    env: jinja2.Environment
    cache: TTLCache
    stamp: Stamp
    limits: RateLimits
    search: SearchHolder
    nav_links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def settings(self) -> Settings:
        """The resolved settings."""
        return self.ctx.settings

    @property
    def store(self) -> Store:
        """The open store."""
        return self.ctx.store

    def after_write(self) -> None:
        """Forget cached pages after a write in this process (other workers see the new stamp)."""
        self.stamp.invalidate()
        self.cache.clear()
        self.search.reload_soon()

    def cached(self, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
        """A value cached under key + the current data stamp."""
        return self.cache.get_or_compute((key, self.stamp.get()), compute)


def make_env(nav_links: list[tuple[str, str]]) -> jinja2.Environment:
    """The Jinja2 environment: autoescaping on for every template, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["category_name"] = category_name
    env.globals["paper_links"] = paper_links
    env.globals["nav_links"] = nav_links
    env.filters["shorten"] = shorten
    env.filters["rich"] = rich
    return env


def shorten(text: str, limit: int = 300) -> str:
    """Cut text at a word boundary near `limit` characters, adding an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:") + "…"


def get_state(request: Request) -> WebState:
    """The app's WebState."""
    state: WebState = request.app.state.web
    return state


def session_user(request: Request) -> User | None:
    """The logged-in user of a browser session, if any (the session must still exist server-
    side)."""
    sid = request.session.get("sid") if "session" in request.scope else None
    if not isinstance(sid, str):
        return None
    cached = request.scope.get("pf_user")
    if isinstance(cached, User):
        return cached
    from paperfeed.delivery.app.accounts import session_user as live_session_user

    user = live_session_user(get_state(request).store, sid)
    if user is None:  # logged out elsewhere, expired, or the account is gone
        request.session.pop("sid", None)
        return None
    request.scope["pf_user"] = user
    return user
