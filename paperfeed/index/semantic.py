"""The search side of paper vectors: a thin adapter over paperfeed.index.vectors.

It gives the index and ranking code the few operations they need (ids, append, remove, exact scores
for a candidate pool, nearest neighbours), reloads when another process appended, and keeps working
(empty) when the vector directory does not exist yet.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # the vectors module is imported on first use (it pulls the ANN code)
    from paperfeed.index.vectors import VectorIndex

EMBED_BATCH = 128  # papers embedded and saved per step of the resumable embedding job

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def _vectors() -> ModuleType:
    from paperfeed.index import vectors

    return vectors


def embedder_available() -> bool:
    """Whether the semantic extra is installed (checked without importing the runtime)."""
    if importlib.util.find_spec("paperfeed.index.embedder") is None:
        return False
    from paperfeed.index.embedder import semantic_available

    return bool(semantic_available())


class SemanticIndex:
    """Paper vectors under one directory, reloaded when their files change."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._index: VectorIndex | None = None
        self._stamp: tuple[float, ...] | None = None
        self._ids = np.empty(0, dtype=np.int64)
        self._order = np.empty(0, dtype=np.int64)

    def _file_stamp(self) -> tuple[float, ...] | None:
        meta = self.directory / "meta.json"
        try:
            st = meta.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def reload(self) -> None:
        """Load (or forget) the vectors from disk."""
        self._stamp = self._file_stamp()
        if self._stamp is None:
            self._index = None
            self._ids = np.empty(0, dtype=np.int64)
        else:
            self._index = _vectors().open_vectors(self.directory)
            self._ids = np.asarray(self._index.ids, dtype=np.int64)
        self._order = np.argsort(self._ids, kind="stable")

    def reload_if_changed(self) -> None:
        """Reload when another process saved new vectors."""
        if self._file_stamp() != self._stamp:
            self.reload()

    def count(self) -> int:
        """Vectors stored."""
        return len(self._ids)

    def ids(self) -> IntArray:
        """Paper ids that have a vector."""
        return self._ids

    def model_name(self) -> str | None:
        """The model the vectors were made with."""
        return None if self._index is None else str(self._index.model)

    def matches_model(self, name: str) -> bool:
        """Whether stored vectors came from this model (vectors of different models never mix)."""
        return self._index is not None and str(self._index.model) == name

    def ensure_model(self, name: str, dim: int) -> None:
        """Create the vector directory for a model (a different stored model is replaced)."""
        self.reload_if_changed()
        if self._index is None or str(self._index.model) != name or int(self._index.dim) != dim:
            _vectors().create_vectors(self.directory, model=name, dim=dim)
            self.reload()

    def append(self, ids: Sequence[int], vecs: FloatArray) -> None:
        """Add vectors (replacing any stored for the same ids) and save."""
        if not len(ids):
            return
        assert self._index is not None, "ensure_model first"
        self._index.append(np.asarray(ids, dtype=np.int64), np.asarray(vecs, dtype=np.float32))
        self.reload()

    def remove(self, ids: Sequence[int]) -> None:
        """Forget the vectors of these papers (stale text, merged away)."""
        self.reload_if_changed()
        if self._index is None or not len(ids):
            return
        present = np.intersect1d(np.asarray(ids, dtype=np.int64), self._ids)
        if len(present):
            self._index.remove([int(x) for x in present])
            self.reload()

    def rows(self, paper_ids: IntArray) -> IntArray:
        """Row of each paper id in the vector matrix, -1 when it has none."""
        if not len(self._ids) or not len(paper_ids):
            return np.full(len(paper_ids), -1, dtype=np.int64)
        pos = np.searchsorted(self._ids, paper_ids, sorter=self._order)
        pos = np.minimum(pos, len(self._ids) - 1)
        rows = self._order[pos]
        return np.where(self._ids[rows] == paper_ids, rows, -1)

    def scores_for(self, paper_ids: IntArray, query: FloatArray) -> npt.NDArray[np.float64]:
        """Cosine of each paper to the query; NaN for papers without a vector."""
        out = np.full(len(paper_ids), np.nan)
        if self._index is None:
            return out
        rows = self.rows(paper_ids)
        has = rows >= 0
        if has.any():
            out[has] = self._index.take(rows[has]) @ query
        return out

    def vectors_for(self, paper_ids: IntArray) -> tuple[IntArray, FloatArray]:
        """The papers among paper_ids that have a vector, and their vectors (one row each)."""
        if self._index is None or not len(paper_ids):
            return np.empty(0, dtype=np.int64), np.empty((0, 0), dtype=np.float32)
        ids = np.asarray(paper_ids, dtype=np.int64)
        rows = self.rows(ids)
        has = rows >= 0
        return ids[has], np.asarray(self._index.take(rows[has]), dtype=np.float32)

    def vector(self, paper_id: int) -> FloatArray | None:
        """The stored vector of a paper."""
        rows = self.rows(np.asarray([paper_id], dtype=np.int64))
        if self._index is None or rows[0] < 0:
            return None
        return np.asarray(self._index.take(rows[:1])[0], dtype=np.float32)

    def search(
        self, query: FloatArray, k: int, allowed: IntArray | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest papers to a query vector, optionally among allowed paper ids."""
        if self._index is None or k <= 0:
            return []
        result: list[tuple[int, float]] = self._index.search(
            query, k, allowed_ids=None if allowed is None else allowed
        )
        return [(int(i), float(s)) for i, s in result]
