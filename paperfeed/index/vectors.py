"""Paper vectors saved as plain files in one directory: exact search, and an int8 scan for big ones.

Layout (format 1)::

    meta.json                  the commit point: model, dim, count, segments (replaced atomically)
    s000001.ids.npy            int64 paper ids of a segment
    s000001.vectors.npy        float32 rows of a segment (L2-normalised)
    s000001.dead-000004.npy    int64 rows of a segment that were removed or replaced (optional)
    int8-000007.npy/.json      int8 codes of the live rows and their scale (large collections only)
    ann-000009.usearch         HNSW graph of int8 codes keyed by paper id (large collections only)
    ann-000009.keys.npy        sorted paper ids the graph holds
    ann-stale-000011.npy       graph keys whose vectors were replaced or removed since

Every write puts new, never-reused file names on disk first and then swaps meta.json with
os.replace, so a reader sees the old index or the new one, never half of one; files no longer
named by meta.json are deleted afterwards (open memory maps keep their data alive). Appends
add a segment; segments are merged so their sizes grow geometrically, which keeps an embedding
job that saves every few hundred papers from rewriting the whole matrix each time.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import BadRequest, ConfigError
from paperfeed.core.util import atomic_file, write_atomic
from paperfeed.index import ann
from paperfeed.index.vector_files import _cleanup, _save_npy_chunks

if TYPE_CHECKING:
    from usearch.index import Index

FORMAT = 1
META = "meta.json"
LARGE_THRESHOLD = ann.THRESHOLD  # below this an exact float32 matrix product takes < 15 ms
RERANK = 10  # int8 candidates re-scored exactly per result wanted (at least 100)
MAX_DEAD_FRACTION = 0.2  # compact once this share of stored rows is dead
MERGE_STEP = 100_000  # rows copied at a time when segments are merged

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def large_available() -> bool:
    """Whether the optional SIMD scan library (usearch) for large collections is installed."""
    import importlib.util

    return importlib.util.find_spec("usearch") is not None


def _save_npy(path: Path, arr: np.ndarray) -> None:
    # Written to a temporary name and renamed, so a crash never leaves a truncated file
    # under a name that a later meta.json could point at.
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        np.save(f, arr, allow_pickle=False)


def _save_json(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=1).encode("utf-8"))


def _load(path: Path) -> np.ndarray:
    arr: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False)
    return arr


@dataclass
class _Segment:
    name: str
    ids: IntArray  # memory-mapped
    vectors: FloatArray  # memory-mapped
    dead_file: str | None
    dead: IntArray  # sorted rows

    def alive_mask(self) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(self.ids), dtype=bool)
        mask[self.dead] = False
        return mask


class VectorIndex:
    """A loaded vector directory; every mutating method saves before it returns."""

    def __init__(self, directory: Path, meta: dict[str, Any], segments: list[_Segment]) -> None:
        self.directory = directory
        self.meta = meta
        self.model: str = str(meta["model"])
        self.dim: int = int(meta["dim"])
        self._segments = segments
        masks = [s.alive_mask() for s in segments]
        self._masks = masks
        self.ids: IntArray = (
            np.concatenate([np.asarray(s.ids)[m] for s, m in zip(segments, masks, strict=False)])
            if segments else np.empty(0, dtype=np.int64)
        )
        self._sorter = np.argsort(self.ids, kind="stable")
        self._vectors: FloatArray | None = None
        self._codes: tuple[np.ndarray, float] | None = None
        # live row -> (segment, local row), for reading rows without concatenating segments
        self._starts = np.cumsum([0] + [int(m.sum()) for m in masks])
        self._local = [np.flatnonzero(m) for m in masks]
        self._graph: Index | None = None
        self._load_ann()

    def _load_ann(self) -> None:
        self.ann_keys, self.ann_stale, self._tail_rows = ann.load_state(self)

    def take(self, rows: IntArray) -> FloatArray:
        """The float32 vectors of some live rows, read segment by segment (no full copy)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(self._segments) == 1 and not len(self._segments[0].dead):
            return np.asarray(self._segments[0].vectors[rows], dtype=np.float32)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        seg_of = np.searchsorted(self._starts, rows, side="right") - 1
        for j in np.unique(seg_of):
            sel = np.flatnonzero(seg_of == j)
            local = self._local[j][rows[sel] - self._starts[j]]
            order = np.argsort(local)  # ascending rows read the memory map sequentially
            out[sel[order]] = self._segments[j].vectors[local[order]]
        return out

    # ----- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def count(self) -> int:
        """Live vectors."""
        return len(self)

    @property
    def vectors(self) -> FloatArray:
        """Live vectors, row-aligned with `ids` (memory-mapped when stored as one segment)."""
        if self._vectors is None:
            segs = self._segments
            if len(segs) == 1 and not len(segs[0].dead):
                self._vectors = segs[0].vectors
            elif not segs:
                self._vectors = np.empty((0, self.dim), dtype=np.float32)
            else:
                self._vectors = np.concatenate(
                    [np.asarray(s.vectors)[m] for s, m in zip(segs, self._masks, strict=False)]
                )
        return self._vectors

    def rows_of(self, paper_ids: IntArray) -> IntArray:
        """Row of each paper id in `vectors`, -1 when it has none."""
        paper_ids = np.asarray(paper_ids, dtype=np.int64)
        if not len(self.ids) or not len(paper_ids):
            return np.full(len(paper_ids), -1, dtype=np.int64)
        pos = np.searchsorted(self.ids, paper_ids, sorter=self._sorter)
        pos = np.minimum(pos, len(self.ids) - 1)
        rows = self._sorter[pos]
        return np.where(self.ids[rows] == paper_ids, rows, -1).astype(np.int64)

    def missing(self, paper_ids: IntArray) -> IntArray:
        """The paper ids that have no vector yet (what a resumed embedding job still has to do)."""
        return np.setdiff1d(np.asarray(paper_ids, dtype=np.int64), self.ids)

    def vector(self, paper_id: int) -> FloatArray | None:
        """The stored vector of one paper, or None."""
        row = int(self.rows_of(np.asarray([paper_id]))[0])
        return None if row < 0 else self.take(np.asarray([row]))[0]

    def _check_query(self, query: FloatArray) -> FloatArray:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise BadRequest(f"query vector has {q.shape[0]} dimensions, the index {self.dim}")
        return q

    def exact_search(
        self, query: FloatArray, k: int, allowed_ids: IntArray | None = None
    ) -> list[tuple[int, float]]:
        """The k highest dot products, by a full matrix product (or over allowed ids only)."""
        q = self._check_query(query)
        if k <= 0 or not len(self.ids):
            return []
        if allowed_ids is None:
            scores = np.concatenate(
                [np.asarray(s.vectors[loc] if len(s.dead) else s.vectors, dtype=np.float32) @ q
                 for s, loc in zip(self._segments, self._local, strict=False)]
            ) if len(self._segments) > 1 else np.asarray(self.vectors @ q, dtype=np.float32)
            cand = np.arange(len(scores))
        else:
            rows = self.rows_of(np.unique(np.asarray(allowed_ids, dtype=np.int64)))
            cand = rows[rows >= 0]
            if not len(cand):
                return []
            cand.sort()  # ascending rows read the memory map sequentially
            scores = np.asarray(self.take(cand) @ q, dtype=np.float32)
        return self._top(scores, cand, k)

    def _top(self, scores: np.ndarray, rows: IntArray, k: int) -> list[tuple[int, float]]:
        k = min(k, len(scores))
        part = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        # ties broken by paper id so results are deterministic
        order = np.lexsort((self.ids[rows[part]], -scores[part]))
        best = part[order]
        return [(int(self.ids[rows[i]]), float(scores[i])) for i in best]

    def search(
        self, query: FloatArray, k: int, allowed_ids: IntArray | None = None
    ) -> list[tuple[int, float]]:
        """The k nearest papers (dot product of unit vectors = cosine), best first.

        Exact below LARGE_THRESHOLD vectors; above it, an int8 scan whose best candidates are
        re-scored exactly (when usearch is installed, else exact). A filter that keeps few
        papers is answered exactly over those papers.
        """
        q = self._check_query(query)
        n = len(self.ids)
        if k <= 0 or not n:
            return []
        if n < LARGE_THRESHOLD or not large_available():
            return self.exact_search(q, k, allowed_ids)
        approximate = self.ann_search if self.meta.get("ann") else self.int8_search
        if allowed_ids is None:
            return approximate(q, k)
        allowed = np.unique(np.asarray(allowed_ids, dtype=np.int64))
        share = len(allowed) / n
        if share < 0.2:  # gathering the allowed rows is cheaper than scanning everything
            return self.exact_search(q, k, allowed)
        # Over-fetch so that, after dropping disallowed papers, k are very likely left.
        hits = approximate(q, min(n, int(k / share * 2) + 10))
        ok = np.isin(np.asarray([pid for pid, _ in hits], dtype=np.int64), allowed)
        keep = [h for h, good in zip(hits, ok, strict=False) if good]
        if len(keep) >= min(k, len(allowed)):
            return keep[:k]
        return self.exact_search(q, k, allowed)

    def similar(self, paper_id: int, k: int) -> list[tuple[int, float]]:
        """The k papers nearest to a stored paper, itself left out."""
        vec = self.vector(paper_id)
        if vec is None:
            return []
        return [(pid, s) for pid, s in self.search(vec, k + 1) if pid != paper_id][:k]

    # ----- large collections -----------------------------------------------------------------

    def ann_search(self, query: FloatArray, k: int) -> list[tuple[int, float]]:
        """Approximate top k: HNSW candidates plus the exact tail, all re-scored in float32."""
        q = self._check_query(query)
        if self._graph is None:
            self._graph = ann.open_graph(self.directory / self.meta["ann"]["graph"])
        rows = ann.candidate_rows(self, self._graph, q, k)
        if not len(rows):
            return []
        scores = np.asarray(self.take(rows) @ q, dtype=np.float32)
        return self._top(scores, rows, k)

    def ann_tail(self) -> int:
        """Live vectors not (or no longer correctly) held by the graph: searched exactly."""
        return len(self._tail_rows)

    def build_ann(self, force: bool = False) -> bool:
        """Add the tail to the HNSW graph (creating it) when it is due or forced; saves."""
        entry = ann.grow(self, LARGE_THRESHOLD, force)
        if entry is None:
            return False
        self._commit(self._segment_meta(), int(entry.pop("gen")), ann_entry=entry)
        return True

    def _stale_entry(self, ids: IntArray, gen: int) -> dict[str, Any] | None:
        return ann.stale_entry(self, ids, gen)

    def int8_search(self, query: FloatArray, k: int) -> list[tuple[int, float]]:
        """Approximate top k: SIMD int8 scan (usearch), then exact float32 re-scoring."""
        q = self._check_query(query)
        codes, scale = self.int8_codes()
        rows = ann.int8_scan(codes, scale, q, min(len(self.ids), max(k * RERANK, 100)))
        return self._top(np.asarray(self.take(rows) @ q, dtype=np.float32), rows, k)

    def int8_file(self) -> Path:
        """Where the int8 codes of this exact state of the index are (or would be) saved."""
        return self.directory / f"int8-{int(self.meta.get('next', 0)):06d}.npy"

    def int8_codes(self) -> tuple[np.ndarray, float]:
        """The rows as int8 codes and their scale (code = round(value * scale)), built once.

        The file name carries the index generation: any append or remove makes it stale, and
        the next large search (or a writer calling this) builds it again.
        """
        if self._codes is None:
            path = self.int8_file()
            scale_path = path.with_suffix(".json")
            if not (path.is_file() and scale_path.is_file()):
                self._build_int8(path, scale_path)
            scale = float(json.loads(scale_path.read_text(encoding="utf-8"))["scale"])
            self._codes = (_load(path), scale)
        return self._codes

    def _build_int8(self, path: Path, scale_path: Path) -> None:
        scale = ann.write_int8_codes(self.take, len(self.ids), self.dim, path)
        _save_json(scale_path, {"scale": scale, "rows": len(self.ids)})

    # ----- writing ---------------------------------------------------------------------------

    def _next_gen(self) -> int:
        return int(self.meta.get("next", 0)) + 1

    def _commit(self, segments: list[dict[str, Any]], gen: int,
                ann_entry: dict[str, Any] | None | bool = True) -> None:
        # ann_entry True keeps the current graph entry; None drops it
        entry = self.meta.get("ann") if ann_entry is True else ann_entry
        meta = {
            "format": FORMAT,
            "model": self.model,
            "dim": self.dim,
            "dtype": "float32",
            "count": 0,
            "segments": segments,
            "next": gen,
        }
        if entry:
            meta["ann"] = entry
        count = 0
        for seg in segments:
            dead = len(_load(self.directory / seg["dead"])) if seg.get("dead") else 0
            count += int(seg["rows"]) - dead
        meta["count"] = count
        _save_json(self.directory / META, meta)
        _cleanup(self.directory, meta)
        fresh = open_vectors(self.directory)
        self.__dict__.update(fresh.__dict__)

    def append(self, paper_ids: Sequence[int] | IntArray, vectors: FloatArray) -> None:
        """Add vectors (replacing those stored for the same ids) and save."""
        ids = np.asarray(paper_ids, dtype=np.int64).reshape(-1)
        vecs = np.asarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape != (len(ids), self.dim):
            raise BadRequest(f"vectors must have shape ({len(ids)}, {self.dim}), not {vecs.shape}")
        if len(np.unique(ids)) != len(ids):
            raise BadRequest("paper ids in one append must be distinct")
        if not len(ids):
            return
        if not np.isfinite(vecs).all():
            raise BadRequest("vectors contain NaN or infinity")
        gen = self._next_gen()
        segs = self._dead_rows_for(ids, gen)
        name = f"s{gen:06d}"
        _save_npy(self.directory / f"{name}.ids.npy", ids)
        _save_npy(self.directory / f"{name}.vectors.npy", vecs)
        segs.append({"name": name, "rows": len(ids), "dead": None})
        entry = self._stale_entry(ids, gen)
        segs, gen = self._merge(segs, gen)
        self._commit(segs, gen, ann_entry=entry)
        self.build_ann()  # grows the graph once the exact tail is big enough

    def remove(self, paper_ids: Sequence[int] | IntArray) -> int:
        """Forget the vectors of these papers and save; returns how many were stored."""
        ids = np.unique(np.asarray(paper_ids, dtype=np.int64))
        found = int((self.rows_of(ids) >= 0).sum())
        if not found:
            return 0
        gen = self._next_gen()
        segs = self._dead_rows_for(ids, gen)
        entry = self._stale_entry(ids, gen)
        stored = sum(int(s["rows"]) for s in segs)
        if len(self.ids) - found < (1 - MAX_DEAD_FRACTION) * stored:
            segs, gen = self._merge(segs, gen, everything=True)
        self._commit(segs, gen, ann_entry=entry)
        return found

    def compact(self) -> None:
        """Rewrite everything live as one segment (dead rows dropped) and save."""
        gen = self._next_gen()
        segs, gen = self._merge(self._segment_meta(), gen, everything=True)
        self._commit(segs, gen)

    def _segment_meta(self) -> list[dict[str, Any]]:
        return [
            {"name": s.name, "rows": len(s.ids), "dead": s.dead_file} for s in self._segments
        ]

    def _dead_rows_for(self, ids: IntArray, gen: int) -> list[dict[str, Any]]:
        """Segment list with the rows holding these ids marked dead (new dead files written)."""
        if not (self.rows_of(ids) >= 0).any():
            return self._segment_meta()
        out = []
        for seg in self._segments:
            hit = np.flatnonzero(np.isin(np.asarray(seg.ids), ids))
            entry = {"name": seg.name, "rows": len(seg.ids), "dead": seg.dead_file}
            if len(hit):
                dead = np.union1d(seg.dead, hit).astype(np.int64)
                fname = f"{seg.name}.dead-{gen:06d}.npy"
                _save_npy(self.directory / fname, dead)
                entry["dead"] = fname
            out.append(entry)
        return out

    def _merge(
        self, segs: list[dict[str, Any]], gen: int, everything: bool = False
    ) -> tuple[list[dict[str, Any]], int]:
        """Merge trailing segments while a segment is no bigger than the one after it."""
        take = len(segs) if everything else 0
        if not everything:
            # Keep sizes decreasing by at least half from one segment to the next: an LSM-style
            # rule that rewrites each row O(log n) times over the life of the index.
            take = 1
            while take < len(segs) and int(segs[-take - 1]["rows"]) <= 2 * sum(
                int(s["rows"]) for s in segs[-take:]
            ):
                take += 1
            if take == 1:
                return segs, gen
        if take == 0:
            return segs, gen
        parts = []
        for seg in segs[-take:]:
            ids = _load(self.directory / f"{seg['name']}.ids.npy")
            mask = np.ones(len(ids), dtype=bool)
            if seg.get("dead"):
                mask[_load(self.directory / seg["dead"])] = False
            parts.append((seg["name"], np.asarray(ids)[mask], np.flatnonzero(mask)))
        gen += 1
        name = f"s{gen:06d}"
        merged_ids = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
        kept = segs[:-take]
        if len(merged_ids):
            _save_npy(self.directory / f"{name}.ids.npy", merged_ids)

            def live_rows() -> Iterator[np.ndarray]:
                # a chunk at a time: merging millions of rows never holds them all in memory
                for seg_name, _, rows in parts:
                    vecs = _load(self.directory / f"{seg_name}.vectors.npy")
                    for i in range(0, len(rows), MERGE_STEP):
                        yield np.asarray(vecs[rows[i : i + MERGE_STEP]], dtype=np.float32)
                    del vecs

            _save_npy_chunks(self.directory / f"{name}.vectors.npy", (len(merged_ids), self.dim),
                             live_rows())
            kept.append({"name": name, "rows": len(merged_ids), "dead": None})
        return kept, gen


def create_vectors(directory: Path, *, model: str, dim: int) -> VectorIndex:
    """Start an empty vector directory for a model (replacing whatever was stored there)."""
    if dim <= 0:
        raise BadRequest(f"dim must be positive, not {dim}")
    directory.mkdir(parents=True, exist_ok=True)
    previous = 0
    with contextlib.suppress(FileNotFoundError, ValueError):
        previous = int(json.loads((directory / META).read_text(encoding="utf-8")).get("next", 0))
    # Generation numbers keep growing so no file name is reused while a reader may map it.
    meta = {"format": FORMAT, "model": model, "dim": int(dim), "dtype": "float32", "count": 0,
            "segments": [], "next": previous + 1}
    _save_json(directory / META, meta)
    _cleanup(directory, meta)
    return open_vectors(directory)


def open_vectors(directory: Path) -> VectorIndex:
    """Load a vector directory (arrays memory-mapped); retried if a writer swaps meanwhile."""
    for attempt in range(5):
        try:
            meta: dict[str, Any] = json.loads((directory / META).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"no vector index at {directory}") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {directory / META}: {exc}") from None
        if int(meta.get("format", 0)) != FORMAT:
            raise ConfigError(f"{directory}: vector format {meta.get('format')} is not {FORMAT}")
        try:
            segments = []
            for seg in meta["segments"]:
                ids = _load(directory / f"{seg['name']}.ids.npy")
                vecs = _load(directory / f"{seg['name']}.vectors.npy")
                dead_file = seg.get("dead")
                dead = (np.asarray(_load(directory / dead_file), dtype=np.int64)
                        if dead_file else np.empty(0, dtype=np.int64))
                segments.append(_Segment(seg["name"], ids, vecs, dead_file, dead))
        except FileNotFoundError:
            if attempt == 4:
                raise
            continue  # a writer committed and cleaned up between our reads: read meta again
        return VectorIndex(directory, meta, segments)
    raise AssertionError("unreachable")
