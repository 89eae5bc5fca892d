"""Approximate nearest neighbours for large vector collections: a usearch HNSW graph of int8 codes.

The graph holds int8 codes of the vectors (a quarter of float32), keyed by paper id. The codes
use one scale for the whole graph, fixed when it is created from the largest component seen
(usearch's own conversion maps unit vectors onto +-127, which for 384 dimensions leaves ~6 levels
per component and cost 3-5 points of recall@10 in tests; ours uses ~3x finer steps). It is saved
as one file per generation and memory-mapped for serving (`view=True`), so a searching process
keeps only the pages it touches. It is extended in place as vectors arrive: new vectors first
form a small "tail" searched exactly, and once the tail reaches TAIL_MAX the writer loads the
graph, drops keys whose vectors were replaced or removed, adds the tail and saves a new
generation (never a rebuild from scratch). Candidates from the graph are re-scored exactly with
the float32 vectors, so the scores returned are exact and only recall is approximate.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

THRESHOLD = 200_000  # live vectors above which search goes through the graph
CONNECTIVITY = 32  # HNSW M: 16 gave recall@10 0.982 against 0.9965 at 30k (real queries, ef 512)
EXPANSION_ADD = 128  # efConstruction
EXPANSION_SEARCH = 512  # ef: candidates explored per query (recall@10 0.996 at 30k real queries)
TAIL_MAX = 20_000  # vectors searched exactly before they are added to the graph
ADD_STEP = 50_000  # vectors converted and added per step (bounded memory)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def ann_available() -> bool:
    """Whether usearch (part of the semantic extra) is installed."""
    import importlib.util

    return importlib.util.find_spec("usearch") is not None


def usearch_index() -> Any:
    """usearch's index module, imported after onnxruntime when that is installed.

    onnxruntime 1.32 segfaults in get_available_providers() when usearch 2.26 (its bundled SIMD
    kernels) was loaded first in the process; loaded in the other order both work.
    """
    import importlib
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is not None:
        importlib.import_module("onnxruntime")
    return importlib.import_module("usearch.index")


def _new_index(dim: int) -> Any:
    Index = usearch_index().Index
    return Index(ndim=dim, metric="ip", dtype="i8", connectivity=CONNECTIVITY,
                 expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)


def open_graph(path: Path) -> Any:
    """The saved graph, memory-mapped read-only (for search)."""
    graph = usearch_index().Index.restore(str(path), view=True)
    if graph is None:
        raise FileNotFoundError(path)
    graph.expansion_search = EXPANSION_SEARCH
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

    `vectors_of(ids)` returns the float32 rows of some ids; they are fetched ADD_STEP at a time
    so memory stays bounded by the graph itself. Returns the number of keys in the new graph.
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
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        graph.save(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    size = len(graph)
    del graph
    return size


def graph_candidates(graph: Any, query: FloatArray, scale: float, want: int) -> IntArray:
    """Paper ids of up to `want` approximate nearest neighbours of a query (best first)."""
    graph.expansion_search = max(EXPANSION_SEARCH, want)
    matches = graph.search(codes(query, scale), want, threads=1)
    keys = np.asarray(matches.keys, dtype=np.uint64)
    return keys.astype(np.int64)
