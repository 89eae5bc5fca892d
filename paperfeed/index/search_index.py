"""SearchIndex: the lexical BM25 index and the paper vectors of one data directory.

Readers only read: `reload_if_changed` re-reads the pointer file (at most every CHECK_EVERY seconds)
and maps the segments it names. Writers (`refresh`, `build`, `embed`) are jobs: after an ingest, in
the worker, `paperfeed index refresh`; never the search path. Files live under `<data_dir>/index/`:
segment directories (`main-*`, `delta-*`), `vectors/`, and `current.json`, the pointer naming the
live segments. Writers build a new directory beside the old, then replace the pointer with
os.replace, so readers see the old index or the new one, never a half-written one. Writers hold
`index/.lock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import ConfigError
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.core.util import write_atomic
from paperfeed.index.embedder import Embedder
from paperfeed.index.lexical import LexicalIndex
from paperfeed.index.lexical_build import build_segment
from paperfeed.index.segment import load_segment, text_hash, write_segment
from paperfeed.index.semantic import EMBED_BATCH, SemanticIndex, embedder_available
from paperfeed.index.shipped import SAMPLE_FILES, load_shipped
from paperfeed.store.protocols import PaperHolder

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
POINTER = "current.json"
# Changes committed by a transaction that started before a build's watermark are caught by
# looking this far back; papers whose indexed text is unchanged are skipped cheaply.
SLACK = timedelta(seconds=5)
DELTA_MAX = 20_000  # a delta larger than this (or a quarter of the main segment) means a rebuild
DELTA_MAX_FRACTION = 0.25
CHECK_EVERY = 1.0  # seconds between two freshness checks of a long-lived index


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class SearchIndex:
    """The lexical index (main + delta segments) and the vectors of one data directory."""

    def __init__(
        self, settings: Settings, store: PaperHolder, embedder: Embedder | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.root = settings.data_path / "index"
        self._embedder = embedder
        self._embedder_failed: str | None = None
        self.shipped_files = SAMPLE_FILES  # the bundled sample's vectors (tests point elsewhere)
        self.last_embed: dict[str, int] = {"shipped": 0, "embedded": 0}
        self._pointer: dict[str, Any] = {}
        self._pointer_stat: tuple[float, int] | None = None
        self._checked = 0.0
        self.lexical = LexicalIndex(None)
        self.semantic = SemanticIndex(self.root / "vectors")
        self._query_cache: dict[str, npt.NDArray[np.float32]] = {}
        self._load()

    # ----- loading -------------------------------------------------------------------------

    def _read_pointer(self) -> tuple[dict[str, Any], tuple[float, int] | None]:
        path = self.root / POINTER
        try:
            st = path.stat()
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return data, (st.st_mtime, st.st_ino)
        except FileNotFoundError:
            return {}, None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read search index pointer {path}: {exc}") from None

    def _load(self) -> None:
        for attempt in range(3):
            pointer, stat = self._read_pointer()
            try:
                main = load_segment(self.root / pointer["main"]) if pointer.get("main") else None
                delta = load_segment(self.root / pointer["delta"]) if pointer.get("delta") else None
            except FileNotFoundError:
                if attempt == 2:
                    raise
                time.sleep(0.05)  # a writer swapped and cleaned up between our two reads
                continue
            self._pointer, self._pointer_stat = pointer, stat
            self.lexical = LexicalIndex(main, delta)
            self.semantic.reload()
            return

    def _reload_if_changed(self) -> bool:
        path = self.root / POINTER
        try:
            st = path.stat()
            stat: tuple[float, int] | None = (st.st_mtime, st.st_ino)
        except FileNotFoundError:
            stat = None
        if stat != self._pointer_stat:
            self._load()
            return True
        self.semantic.reload_if_changed()
        return False

    def expire_check(self) -> None:
        """Make the next `reload_if_changed` look at the pointer (a write in this process swapped
        it)."""
        self._checked = 0.0

    def reload_if_changed(self) -> None:
        """Pick up a writer's swap by re-reading the pointer (at most every CHECK_EVERY seconds).

        Read-only: the search path calls this and never writes. A paper stored since the last
        refresh job is found once a job (ingest, worker, `paperfeed index refresh`) swaps it in.
        """
        now = time.monotonic()
        if now - self._checked < CHECK_EVERY:
            return
        self._checked = now
        self._reload_if_changed()

    # ----- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, blocking: bool = True, name: str = ".lock") -> Iterator[bool]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "a+b") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _swap(self, pointer: dict[str, Any]) -> None:
        write_atomic(self.root / POINTER, json.dumps(pointer, indent=1).encode("utf-8"))
        previous = self._pointer
        self._load()
        keep = {
            pointer.get("main"),
            pointer.get("delta"),
            previous.get("main"),
            previous.get("delta"),
        }
        for child in self.root.iterdir():
            if (
                child.is_dir()
                and child.name.startswith(("main-", "delta-", ".tmp-"))
                and child.name not in keep
            ):
                shutil.rmtree(child, ignore_errors=True)

    def build(self, progress: Progress | None = None, *, embed: bool = True) -> None:
        """Rebuild the lexical index from the whole store, then embed papers that lack vectors."""
        with self._lock():
            if self.lexical.main is not None:
                self._refresh_locked()  # first note which texts changed, so stale vectors go
            self._build_lexical_locked(progress)
            self._refresh_locked()
        if embed and self.semantic_available():
            self.embed(progress)

    def _build_lexical_locked(self, progress: Progress | None) -> None:
        started = time.monotonic()
        watermark = self.store.papers.last_change()
        total = self.store.papers.count_papers()
        name = f"main-{_stamp()}"
        tmp = self.root / f".tmp-{name}"
        # built in runs within the memory ceiling, then merged: scores equal a one-shot build
        meta = build_segment(
            self.store.papers.iter_index_papers(),
            tmp,
            memory_mb=self.settings.index_memory_mb,
            extra_meta={"watermark": _iso(watermark), "built_at": _iso(datetime.now(UTC))},
            total=total,
            progress=progress,
        )
        meta["build_seconds"] = round(time.monotonic() - started, 3)
        (tmp / "segment.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        os.replace(tmp, self.root / name)
        self._swap({"main": name, "delta": None, "synced_to": _iso(watermark)})
        if progress:
            progress("indexed", meta["n_docs"], total)

    def refresh(self) -> None:
        """Pick up papers added, changed or merged away since the last build (a small delta)."""
        with self._lock():
            self._refresh_locked()

    def _refresh_locked(self) -> None:
        self._reload_if_changed()
        main = self.lexical.main
        if main is None:
            if self.store.papers.count_papers() == 0 and self._pointer.get("synced_to") == _iso(
                self.store.papers.last_change()
            ):
                return
            self._build_lexical_locked(None)
            main = self.lexical.main
            assert main is not None
        last = self.store.papers.last_change()
        if _iso(last) == self._pointer.get("synced_to") and self._pointer:
            return
        # Incremental: look only at what moved since the last refresh (a little earlier, for
        # transactions that started before it and committed after), and carry the old delta over.
        synced = _parse(self._pointer.get("synced_to")) or _parse(main.meta.get("watermark"))
        since = synced - SLACK if synced else None
        found: dict[int, Paper] = {}
        prev = self.lexical.delta
        masked: set[int] = set(np.asarray(prev.masked_main_rows).tolist()) if prev else set()
        text_changed: list[int] = []
        main_ids = main.paper_ids
        main_hashes = main.text_hashes
        before: dict[int, int] = (
            dict(zip(prev.paper_ids.tolist(), np.asarray(prev.text_hashes).tolist(), strict=False))
            if prev
            else {}
        )
        for p in self.store.papers.iter_index_papers(updated_since=since):
            pid = int(p.id or 0)
            h = text_hash(p)
            pos = int(np.searchsorted(main_ids, pid))
            in_main = pos < len(main_ids) and int(main_ids[pos]) == pid
            if in_main and int(main_hashes[pos]) == h and pid not in before:
                continue
            if in_main:
                masked.add(pos)
            if before.get(pid, h) != h or (in_main and pid not in before):
                text_changed.append(pid)  # newly changed since the last refresh
            found[pid] = p
        removed = self.store.papers.removed_since(since)
        gone = set(removed)
        for pid in removed:
            found.pop(pid, None)
            pos = int(np.searchsorted(main_ids, pid))
            if pos < len(main_ids) and int(main_ids[pos]) == pid:
                masked.add(pos)
        carry = [pid for pid in before if pid not in found and pid not in gone]
        if carry:
            # papers merged away meanwhile are absent
            found.update(self.store.papers.get_papers(carry))
        changed = sorted(found.values(), key=lambda p: p.id or 0)
        if len(changed) > max(DELTA_MAX, DELTA_MAX_FRACTION * main.n_docs):
            self._build_lexical_locked(None)
            self._refresh_locked()
            return
        pointer: dict[str, Any] = {
            "main": self._pointer.get("main"),
            "delta": None,
            "synced_to": _iso(last),
        }
        if changed or masked:
            name = f"delta-{_stamp()}"
            tmp = self.root / f".tmp-{name}"
            write_segment(changed, tmp, base=main, masked_main_rows=sorted(masked),
                          extra_meta={"built_at": _iso(datetime.now(UTC)), "synced_to": _iso(last)})
            os.replace(tmp, self.root / name)
            pointer["delta"] = name
        # vectors of papers whose text changed or that were merged away would be stale
        with self._lock(name=".vectors.lock"):
            self.semantic.remove([*text_changed, *removed])
        self._swap(pointer)

    # ----- vectors -------------------------------------------------------------------------

    def semantic_available(self) -> bool:
        """Whether an embedder can be loaded (the semantic extra is installed)."""
        return self._embedder is not None or embedder_available()

    def embedder(self) -> Embedder | None:
        """The embedder, loaded on first use; None when the semantic extra is missing."""
        if self._embedder is None and self._embedder_failed is None:
            if not embedder_available():
                self._embedder_failed = "semantic extra not installed"
                return None
            from paperfeed.index.embedder import load_embedder

            try:
                self._embedder = load_embedder(
                    self.settings.data_path / "models",
                    device=self.settings.embed_device,
                    precision=self.settings.embed_precision,
                    max_length=self.settings.embed_max_length,
                )
            except ConfigError as exc:
                self._embedder_failed = exc.message
                log.warning("semantic search off: %s", exc.message)
        return self._embedder

    def _embedder_name(self) -> str | None:
        """The configured embedder's vector name, without loading the model; None when
        unavailable."""
        if self._embedder is not None:
            return self._embedder.name
        if self._embedder_failed is not None or not embedder_available():
            return None
        from paperfeed.index.embedder import embedder_name

        return embedder_name(self.settings.embed_precision, self.settings.embed_max_length)

    def embed(self, progress: Progress | None = None, limit: int | None = None,
              batch: int = EMBED_BATCH, *, shipped_only: bool = False) -> int:
        """Give alive papers lacking a vector one, saving after each batch (resumable).

        A paper of the bundled sample whose text is unchanged takes its shipped vector (when the
        installed model is the one they were made with); the others are embedded, the model loaded
        only when one needs it. With shipped_only, papers without a shipped vector are left. Returns
        the papers given a vector; `last_embed` says how many were shipped and embedded.
        """
        from paperfeed.index.embedder import paper_text

        self.last_embed = {"shipped": 0, "embedded": 0}
        name = self._embedder_name()
        shipped = load_shipped(name, self.shipped_files) if name else None
        if shipped is None:
            if shipped_only:
                return 0
            emb = self.embedder()
            if emb is None:
                return 0
            name, dim = emb.name, emb.dim
        else:
            dim = shipped.dim
        assert name is not None
        self._reload_if_changed()
        with self._lock(name=".vectors.lock"):
            self.semantic.ensure_model(name, dim)
        alive_ids = self.lexical.paper_ids[self.lexical.alive]
        todo = np.setdiff1d(alive_ids, self.semantic.ids())
        if limit is not None:
            todo = todo[:limit]
        total = len(todo)
        done = given = 0
        stage = "vectors (shipped)" if shipped_only else "embedding"
        if progress:
            progress(stage, 0, total)
        for start in range(0, total, batch):
            chunk = [int(x) for x in todo[start : start + batch]]
            papers = self.store.papers.get_papers(chunk)
            ids = [pid for pid in chunk if pid in papers]
            texts = [paper_text(papers[i].title, papers[i].abstract) for i in ids]
            vecs = np.zeros((len(ids), dim), dtype=np.float32)
            todo_rows = list(range(len(ids)))
            if shipped is not None:
                hits, found = shipped.match([papers[i] for i in ids])
                vecs[hits] = found
                taken = set(hits)
                todo_rows = [j for j in todo_rows if j not in taken]
                self.last_embed["shipped"] += len(hits)
            keep_rows = [j for j in range(len(ids)) if j not in set(todo_rows)]
            if todo_rows and not shipped_only:
                emb = self.embedder()
                if emb is None or emb.name != name:
                    break
                vecs[todo_rows] = emb.embed([texts[j] for j in todo_rows])
                self.last_embed["embedded"] += len(todo_rows)
                keep_rows = list(range(len(ids)))
            with self._lock(name=".vectors.lock"):
                # a refresh may have seen new text meanwhile: keep only vectors of unchanged text
                again = self.store.papers.get_papers([ids[j] for j in keep_rows])
                keep = [
                    j
                    for j in keep_rows
                    if ids[j] in again
                    and paper_text(again[ids[j]].title, again[ids[j]].abstract) == texts[j]
                ]
                self.semantic.append([ids[j] for j in keep], vecs[keep])
            done += len(chunk)
            given += len(keep_rows)
            if progress:
                progress(stage, done, total)
        return given if shipped_only else total

    def query_vector(self, text: str) -> npt.NDArray[np.float32] | None:
        """The embedding of a query (cached), or None when semantic search is unavailable."""
        if not text.strip() or self.semantic.count() == 0:
            return None
        cached = self._query_cache.get(text)
        if cached is not None:
            return cached
        emb = self.embedder()
        if emb is None or not self.semantic.matches_model(emb.name):
            return None
        vec = np.asarray(emb.embed_query(text), dtype=np.float32)
        if len(self._query_cache) > 512:
            self._query_cache.clear()
        self._query_cache[text] = vec
        return vec

    # ----- facts ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Papers indexed, vectors, when it was built, whether semantic search is available."""
        main = self.lexical.main
        delta = self.lexical.delta
        alive = (
            self.lexical.paper_ids[self.lexical.alive]
            if self.lexical.n_rows
            else np.empty(0, np.int64)
        )
        with_vectors = int(np.isin(alive, self.semantic.ids()).sum()) if len(alive) else 0
        return {
            "papers_indexed": len(alive),
            "papers_in_store": self.store.papers.count_papers(),
            "delta_papers": self.lexical.n_delta,
            "built_at": main.meta.get("built_at") if main else None,
            "build_seconds": main.meta.get("build_seconds") if main else None,
            "synced_to": self._pointer.get("synced_to"),
            "vectors": self.semantic.count(),
            "papers_with_vectors": with_vectors,
            "vector_model": self.semantic.model_name(),
            "semantic_available": self.semantic_available(),
            "delta_built_at": delta.meta.get("built_at") if delta else None,
            "index_dir": str(self.root),
        }

    def papers(self, ids: Sequence[int]) -> dict[int, Paper]:
        """Papers by id from the store (for display and phrase checks)."""
        return self.store.papers.get_papers(list(ids))


def open_search_index(
    settings: Settings, store: PaperHolder, *, embedder: Embedder | None = None
) -> SearchIndex:
    """Load `<data_dir>/index` (cheap when there is none yet); jobs refresh it, readers reload
    it."""
    return SearchIndex(settings, store, embedder=embedder)
