"""Approximate nearest neighbours for large vector collections: a usearch HNSW graph of int8 codes.

The graph holds int8 codes of the vectors (a quarter of float32), keyed by paper id. The codes use
one scale for the whole graph, fixed when it is created from the largest component seen (usearch's
own conversion maps unit vectors onto +-127, which for 384 dimensions leaves ~6 levels per component
and cost 3-5 points of recall@10 in tests; ours uses ~3x finer steps). It is saved as one file per
generation and memory-mapped for serving (`view=True`), so a searching process keeps only the pages
it touches. It is extended in place as vectors arrive: new vectors first form a small "tail"
searched exactly, and once the tail reaches TAIL_MAX the writer loads the graph, drops keys whose
vectors were replaced or removed, adds the tail and saves a new generation (never a rebuild from
scratch). Candidates from the graph are re-scored exactly with the float32 vectors, so the scores
returned are exact and only recall is approximate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from paperfeed.core.util import atomic_file

if TYPE_CHECKING:  # usearch is imported on first use, after onnxruntime (see usearch_index)
    from usearch.index import Index

THRESHOLD = 200_000  # live vectors above which search goes through the graph
CONNECTIVITY = 32  # HNSW M: 16 gave recall@10 0.982 against 0.9965 at 30k (real queries, ef 512)
EXPANSION_ADD = 128  # efConstruction
# ef: candidates explored per query. recall@10 against exact search, real query embeddings:
# 0.996 at 30k with ef 512; at 1M 0.918 (512), 0.953 (1024), 0.977 (2048), 0.984 (3072, 10.6 ms),
# 0.988 (4096, 14 ms). The re-scored candidate count barely matters; ef does (BENCHMARKS.md 10.1).
EXPANSION_SEARCH = 3072
TAIL_MAX = 20_000  # vectors searched exactly before they are added to the graph
ADD_STEP = 50_000  # vectors converted and added per step (bounded memory)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def ann_available() -> bool:
    """Whether usearch (part of the semantic extra) is installed."""
    import importlib.util

    return importlib.util.find_spec("usearch") is not None


def usearch_index() -> ModuleType:
    """usearch's index module, imported after onnxruntime when that is installed.

    onnxruntime 1.32 segfaults in get_available_providers() when usearch 2.26 (its bundled SIMD
    kernels) was loaded first in the process; loaded in the other order both work.
    """
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime  # noqa: F401
    import usearch.index

    return usearch.index


def _index_class() -> type[Index]:
    cls: type[Index] = usearch_index().Index
    return cls


def _new_index(dim: int) -> Index:
    return _index_class()(ndim=dim, metric="ip", dtype="i8", connectivity=CONNECTIVITY,
                 expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)


def open_graph(path: Path) -> Index:
    """The saved graph, memory-mapped read-only (for search)."""
    graph = _index_class().restore(str(path), view=True)
    if graph is None:
        raise FileNotFoundError(path)
    graph.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]  # has a setter (see below)
    return graph


def codes(vectors: FloatArray, scale: float) -> npt.NDArray[np.int8]:
    """int8 codes of float vectors at the graph's scale (outliers clipped)."""
    out: npt.NDArray[np.int8] = np.clip(
        np.rint(np.asarray(vectors, dtype=np.float32) * scale), -127, 127
    ).astype(np.int8)
    return out


def scale_for(sample: FloatArray) -> float:
    """The code scale for vectors like these: their largest component maps to 127."""
    top = float(np.abs(sample).max()) if len(sample) else 1.0
    return 127.0 / max(top, 1e-6)


def extend_graph(
    previous: Path | None,
    dim: int,
    scale: float,
    drop: IntArray,
    add_ids: IntArray,
    vectors_of: Callable[[IntArray], FloatArray],
    out: Path,
    threads: int = 0,
) -> int:
    """Write a new graph generation to `out`: the previous one less `drop`, plus `add_ids`.

    `vectors_of(ids)` returns the float32 rows of some ids; they are fetched ADD_STEP at a time so
    memory stays bounded by the graph itself. Returns the number of keys in the new graph.
    """
    if previous is not None:
        graph = usearch_index().Index.restore(str(previous), view=False)
        if graph is None:
            raise FileNotFoundError(previous)
        if len(drop):
            present = drop[np.asarray(graph.contains(drop.astype(np.uint64)), dtype=bool)]
            if len(present):
                graph.remove(present.astype(np.uint64))
    else:
        graph = _new_index(dim)
    graph.expansion_add = EXPANSION_ADD
    for start in range(0, len(add_ids), ADD_STEP):
        ids = add_ids[start : start + ADD_STEP]
        graph.add(ids.astype(np.uint64), codes(vectors_of(ids), scale), threads=threads)
    with atomic_file(out) as tmp:
        graph.save(str(tmp))
    size = len(graph)
    del graph
    return size


def graph_candidates(graph: Index, query: FloatArray, scale: float, want: int) -> IntArray:
    """Paper ids of up to `want` approximate nearest neighbours of a query (best first)."""
    # usearch's stub types the property read-only; it has a setter (Index.expansion_search.fset)
    graph.expansion_search = max(EXPANSION_SEARCH, want)  # type: ignore[misc]
    matches = graph.search(codes(query, scale), want, threads=1)
    keys = np.asarray(matches.keys, dtype=np.uint64)
    return keys.astype(np.int64)


class _Vectors(Protocol):
    """What the graph code needs of a VectorIndex."""

    directory: Path
    meta: dict[str, Any]
    dim: int
    ids: IntArray
    ann_keys: IntArray
    ann_stale: IntArray
    _tail_rows: IntArray

    def take(self, rows: IntArray) -> FloatArray: ...
    def rows_of(self, paper_ids: IntArray) -> IntArray: ...
    def _next_gen(self) -> int: ...


def _load(path: Path) -> IntArray:
    arr: IntArray = np.load(path, mmap_mode="r", allow_pickle=False)
    return arr


def load_state(vi: _Vectors) -> tuple[IntArray, IntArray, IntArray]:
    """Graph keys, stale keys, and the live rows searched exactly (the tail) of a vector index."""
    entry = vi.meta.get("ann")
    if not entry:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.arange(len(vi.ids), dtype=np.int64)
    keys = _load(vi.directory / entry["keys"])
    stale = (np.asarray(_load(vi.directory / entry["stale"]), dtype=np.int64) if entry.get("stale")
             else np.empty(0, np.int64))
    covered = np.setdiff1d(keys, stale, assume_unique=True) if len(stale) else np.asarray(keys)
    tail = np.empty(0, dtype=np.int64)
    if len(vi.ids):
        # live vectors the graph does not hold (or holds stale): searched exactly
        pos = np.minimum(np.searchsorted(covered, vi.ids), max(len(covered) - 1, 0))
        inside = covered[pos] == vi.ids if len(covered) else np.zeros(len(vi.ids), bool)
        tail = np.flatnonzero(~inside).astype(np.int64)
    return keys, stale, tail


def candidate_rows(vi: _Vectors, graph: Index, query: FloatArray, k: int) -> IntArray:
    """Live rows to re-score for a query: the graph's candidates (stale ones dropped) and the
    tail."""
    # graph candidates are already near-exact (int8 HNSW): twice k, at least 100, suffice
    want = min(len(vi.ids), max(2 * k, 100))
    keys = graph_candidates(graph, query, float(vi.meta["ann"]["scale"]), want)
    if len(vi.ann_stale):
        keys = keys[~np.isin(keys, vi.ann_stale)]
    rows = vi.rows_of(keys)
    return np.union1d(rows[rows >= 0], vi._tail_rows)


def grow(vi: _Vectors, threshold: int, force: bool) -> dict[str, Any] | None:
    """Write the next graph generation when due (or forced); returns its ann entry (with "gen")."""
    if not ann_available() or not len(vi.ids):
        return None
    entry = vi.meta.get("ann")
    tail = len(vi._tail_rows)
    due = len(vi.ids) >= threshold and (entry is None or tail >= TAIL_MAX)
    if not (due or (force and tail)):
        return None
    gen = vi._next_gen()
    name = f"ann-{gen:06d}"
    add_ids = np.sort(vi.ids[vi._tail_rows])
    previous = vi.directory / entry["graph"] if entry else None
    # the scale is fixed when the graph is created: codes of all generations must agree
    scale = float(entry["scale"]) if entry else scale_for(vi.take(vi._tail_rows[:100_000]))
    extend_graph(previous, vi.dim, scale, vi.ann_stale, add_ids,
                 lambda ids: vi.take(vi.rows_of(ids)), vi.directory / f"{name}.usearch")
    keys = np.union1d(np.setdiff1d(np.asarray(vi.ann_keys), vi.ann_stale), add_ids)
    with atomic_file(vi.directory / f"{name}.keys.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, keys.astype(np.int64), allow_pickle=False)
    return {"graph": f"{name}.usearch", "keys": f"{name}.keys.npy", "stale": None, "scale": scale,
            "gen": gen}


def stale_entry(vi: _Vectors, ids: IntArray, gen: int) -> dict[str, Any] | None:
    """The ann entry after `ids` got new vectors or were removed (they become stale keys)."""
    entry = vi.meta.get("ann")
    if not entry:
        return None
    hit = np.intersect1d(np.asarray(vi.ann_keys), ids)
    if not len(hit) or np.isin(hit, vi.ann_stale).all():
        return dict(entry)
    fname = f"ann-stale-{gen:06d}.npy"
    with atomic_file(vi.directory / fname) as tmp, open(tmp, "wb") as f:
        np.save(f, np.union1d(vi.ann_stale, hit).astype(np.int64), allow_pickle=False)
    return {**entry, "stale": fname}


def int8_scan(codes: np.ndarray, scale: float, query: FloatArray, want: int) -> IntArray:
    """Rows of the `want` best int8 dot products with a query: an exact SIMD scan (usearch)."""
    usearch = usearch_index()
    q8 = np.clip(np.rint(query * scale), -127, 127).astype(np.int8)
    matches = usearch.search(codes, q8, want, usearch.MetricKind.IP, exact=True, threads=0)
    rows = np.asarray(matches.keys, dtype=np.int64)
    return np.sort(rows[(rows >= 0) & (rows < len(codes))])


def write_int8_codes(take: Callable[[IntArray], FloatArray], n: int, dim: int, path: Path) -> float:
    """Write int8 codes of n rows (read through `take`, a chunk at a time) to path; returns the
    scale."""
    step = 100_000  # bounded memory: rows are converted a chunk at a time

    def chunk(i: int) -> FloatArray:
        return take(np.arange(i, min(i + step, n)))

    top = max((float(np.abs(chunk(i)).max()) for i in range(0, n, step)), default=1.0)
    # One scale for all rows keeps the int8 dot product proportional to the float one.
    scale = 127.0 / max(top, 1e-12)
    with atomic_file(path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int8, shape=(n, dim))
        for i in range(0, n, step):
            out[i : i + step] = np.clip(np.rint(chunk(i) * scale), -127, 127)
        out.flush()
        del out
    return scale
