"""Index jobs the delivery entry points run: refresh after an ingest, full builds with progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from paperfeed.core.settings import Settings
from paperfeed.index import SearchIndex, open_search_index
from paperfeed.store import Store

IndexProgress = Callable[[str, int, int], None]
INLINE_EMBED_MAX = 64  # new papers embedded right after an ingest; more wait for `index build`


def refresh_index_after_ingest(settings: Settings, store: Store, embed_new: bool = True) -> SearchIndex:
    """Make papers just ingested searchable (lexical delta); embed a few new ones if vectors exist."""
    index = open_search_index(settings, store)
    index.refresh()
    if embed_new and index.semantic.count() and index.semantic_available():
        index.embed(limit=INLINE_EMBED_MAX)
    return index


def stderr_index_progress() -> IndexProgress | None:
    """A one-line progress bar on stderr when it is a terminal; None (quiet) otherwise."""
    if not sys.stderr.isatty():
        return None
    started = time.monotonic()
    last = [0.0]

    def show(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2 and done < total:
            return
        last[0] = now
        elapsed = now - started
        if total > 0:
            frac = min(1.0, done / total)
            bar = "#" * int(frac * 30)
            rate = done / elapsed if elapsed > 0 else 0.0
            eta = (total - done) / rate if rate > 0 else 0.0
            sys.stderr.write(f"\r{stage}: [{bar:<30}] {done:,}/{total:,} ({rate:,.0f}/s, eta {eta:,.0f}s)  ")
        else:
            sys.stderr.write(f"\r{stage}...  ")
        sys.stderr.flush()

    return show
