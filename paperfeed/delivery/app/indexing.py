"""Index jobs the delivery entry points run: refresh after an ingest, full builds with progress."""

from __future__ import annotations

from paperfeed.core.settings import Settings
from paperfeed.delivery.common.progress import StageProgress, on_terminal
from paperfeed.index import SearchIndex, open_search_index
from paperfeed.store import Store

INLINE_EMBED_MAX = 64  # new papers embedded right after an ingest; more wait for `index build`


def refresh_index_after_ingest(settings: Settings, store: Store, embed_new: bool = True, *,
                               sample: bool = False) -> SearchIndex:
    """Make papers just ingested searchable (lexical delta); embed a few new ones if vectors exist.

    After an ingest of the bundled sample (sample=True), its papers take the vectors shipped with
    it, so search by meaning works at once, with no model loaded and no index build.
    """
    index = open_search_index(settings, store)
    index.refresh()
    given = {"shipped": 0, "embedded": 0}
    if sample and index.semantic_available():
        index.embed(shipped_only=True)
        given = dict(index.last_embed)
    if embed_new and index.semantic.count() and index.semantic_available():
        index.embed(limit=INLINE_EMBED_MAX)
        given = {k: v + index.last_embed[k] for k, v in given.items()}
    index.last_embed = given  # both passes: what the shipped vectors gave, what was embedded
    return index


def stderr_index_progress() -> StageProgress | None:
    """tqdm progress bars (one per stage) on stderr when it is a terminal; None (quiet)
    otherwise."""
    return StageProgress() if on_terminal() else None
