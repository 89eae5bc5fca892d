"""Reads over the lexical index: a main segment and a small delta segment seen as one set of rows.

Rows 0..n_main-1 are the main segment's, then the delta's; main rows whose paper changed since are
masked (not alive). Segments are written and loaded by paperfeed.index.segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from paperfeed.index import kernels
from paperfeed.index.segment import FloatArray, IntArray, Segment
from paperfeed.index.text import author_keys

_ONE = np.uint16(1)
SPAN_CACHE_MAX = 50_000  # terms whose column spans are kept (a few MB at most)


@dataclass
class Matches:
    """Which rows hold the query terms: BM25 score and distinct-term count per row, dense."""

    scores: FloatArray
    counts: npt.NDArray[np.uint16]
    n_terms: int  # distinct query terms
    rarest: IntArray | None  # rows of the term held by the fewest rows (every full match is one)
    top: IntArray | None = None  # the best rows, ranked, when asked for
    n_any: int | None = None  # known from the compiled pass
    n_full: int | None = None

    def rows(self) -> IntArray:
        """Every row holding at least one term, ascending."""
        return np.flatnonzero(self.counts > 0)  # a bool scan: ~5x faster than on the counts

    def full_rows(self) -> IntArray:
        """Rows holding every term, ascending (read off the rarest term's rows)."""
        if not self.n_terms:
            return np.empty(0, dtype=np.int64)
        if self.rarest is None:
            return np.flatnonzero(self.counts == self.n_terms)
        r = self.rarest
        return np.asarray(r[self.counts[r] == self.n_terms], dtype=np.int64)

    def total(self) -> int:
        """How many rows hold at least one term."""
        return self.n_any if self.n_any is not None else int(np.count_nonzero(self.counts))

    def total_full(self) -> int:
        """How many rows hold every term."""
        return self.n_full if self.n_full is not None else len(self.full_rows())

    def best(self, size: int, all_first: bool) -> IntArray:
        """The best `size` rows, ranked by score (rows holding every term first with all_first);
        ties by row."""
        scores, counts = self.scores, self.counts
        if all_first:
            full = self.full_rows()
            sel = best_rows(full, scores, size)
            if len(sel) < size and self.total() > len(full):
                rest = self.rows()
                rest = rest[counts[rest] < self.n_terms]
                sel = np.concatenate([sel, best_rows(rest, scores, size - len(sel))])
        else:
            sel = best_rows(self.rows(), scores, size)
        sel = np.sort(sel)
        partial = counts[sel] < self.n_terms if all_first else np.zeros(len(sel), dtype=bool)
        return sel[np.lexsort((-scores[sel], partial))]


def best_rows(rows: IntArray, scores: FloatArray, size: int) -> IntArray:
    """The `size` rows of `rows` with the highest `scores[row]`, in no particular order.

    Exact, and faster than one argpartition over millions of matches: a threshold read from an
    evenly strided sample keeps about four times `size` candidates; when at least `size` rows reach
    it, every row of the true top `size` does too, so only those are partitioned. Otherwise (a
    skewed sample) it falls back to partitioning them all.
    """
    if len(rows) <= size:
        return rows
    vals = scores[rows]
    if len(rows) > 32 * size:
        sample = np.sort(vals[:: max(1, len(rows) // 16_384)])
        cut = sample[max(0, len(sample) - 1 - int(len(sample) * 4 * size / len(rows)))]
        keep = np.flatnonzero(vals >= cut)
        if len(keep) >= size:
            rows, vals = rows[keep], vals[keep]
    return rows[np.argpartition(-vals, size - 1)[:size]]


class LexicalIndex:
    """A main segment plus an optional delta, read as one row space: main rows, then delta rows."""

    def __init__(self, main: Segment | None, delta: Segment | None = None) -> None:
        self.main = main
        self.delta = delta
        self.n_main = main.n_docs if main else 0
        self.n_delta = delta.n_docs if delta else 0
        self.n_rows = self.n_main + self.n_delta
        ids = [s.paper_ids for s in (main, delta) if s is not None]
        self.paper_ids: IntArray = np.concatenate(ids) if ids else np.empty(0, dtype=np.int64)
        self.alive = np.ones(self.n_rows, dtype=bool)
        if delta is not None and len(delta.masked_main_rows):
            self.alive[np.asarray(delta.masked_main_rows)] = False
        days = [np.asarray(s.days) for s in (main, delta) if s is not None]
        self.days = np.concatenate(days) if days else np.empty(0, dtype=np.int32)
        th = [np.asarray(s.title_hashes) for s in (main, delta) if s is not None]
        self.title_hashes: IntArray = np.concatenate(th) if th else np.empty(0, dtype=np.int64)
        self._delta_order = np.argsort(delta.paper_ids) if delta is not None else None
        self.dead: IntArray = np.flatnonzero(~self.alive).astype(np.int64)
        # term -> its columns' spans: a vocabulary lookup and two indptr reads per term and
        # segment were a tenth of a short query's time
        self._span_cache: dict[str, tuple[tuple[int, int, int], ...]] = {}

    @property
    def n_alive(self) -> int:
        """Papers searchable now."""
        return int(self.alive.sum())

    def _segments(self) -> list[tuple[Segment, int]]:
        out: list[tuple[Segment, int]] = []
        if self.main is not None:
            out.append((self.main, 0))
        if self.delta is not None:
            out.append((self.delta, self.n_main))
        return out

    def scores(self, terms: Sequence[str], weights: Sequence[float] | None = None) -> FloatArray:
        """BM25 score of every row for the query terms (masked rows score 0)."""
        return self.match(terms, weights).scores

    def match(
        self,
        terms: Sequence[str],
        weights: Sequence[float] | None = None,
        *,
        mask: npt.NDArray[np.bool_] | None = None,
        top: int = 0,
        all_first: bool = False,
    ) -> Matches:
        """Per row: the BM25 score for the query terms and how many distinct terms it holds; with
        `top`, the best `top` rows ranked (rows holding every term first with `all_first`).

        A term given twice counts twice in the score (as BM25 over the query's tokens does) and once
        in the count; masked rows (dead, or outside `mask`) get 0 in both.
        """
        merged: dict[str, float] = {}
        for j, term in enumerate(terms):
            merged[term] = merged.get(term, 0.0) + (1.0 if weights is None else float(weights[j]))
        compiled = kernels.compiled()
        if compiled is not None and self.n_rows:
            return self._match_compiled(compiled[0], merged, mask, top, all_first)
        out = np.zeros(self.n_rows, dtype=np.float32)
        count = np.zeros(self.n_rows, dtype=np.uint16)
        segments = self._segments()
        rarest: list[npt.NDArray[np.int32] | npt.NDArray[np.int64]] | None = None
        for term, w in merged.items():
            parts: list[npt.NDArray[np.int32] | npt.NDArray[np.int64]] = []
            for seg, base in segments:
                rows, vals = seg.column(term)
                if not len(rows):
                    continue
                if base:
                    rows = rows + base
                parts.append(rows)
                # rows are unique within a column, so a fancy += is exact (and, on these ascending
                # rows, faster than np.add.at)
                out[rows] += vals if w == 1.0 else vals * np.float32(w)
                count[rows] += _ONE
            if rarest is None or sum(map(len, parts)) < sum(map(len, rarest)):
                rarest = parts
        if len(self.dead):
            out[self.dead] = 0.0
            count[self.dead] = 0
        if mask is not None:
            out[~mask] = 0.0
            count[~mask] = 0
        rare: IntArray = np.asarray(np.concatenate(rarest) if rarest else [], dtype=np.int64)
        m = Matches(out, count, len(merged), rare)
        if top:
            m.top = m.best(top, all_first)
        return m

    def _match_compiled(
        self,
        compiled: kernels.MatchTop,
        merged: dict[str, float],
        mask: npt.NDArray[np.bool_] | None,
        top: int,
        all_first: bool,
    ) -> Matches:
        spans, weights = self._spans(list(merged), list(merged.values()))
        main, delta = self.main, self.delta
        empty_i, empty_f = np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        scores, counts, best, n_any, n_full = compiled(
            main.indices if main is not None else empty_i,
            main.data if main is not None else empty_f,
            delta.indices if delta is not None else empty_i,
            delta.data if delta is not None else empty_f,
            spans,
            weights,
            self.n_rows,
            self.n_main,
            self.alive if mask is None else mask,
            len(merged),
            top,
            all_first,
        )
        return Matches(scores, counts, len(merged), None, top=best if top else None,
                       n_any=int(n_any), n_full=int(n_full))

    def _spans(
        self, terms: Sequence[str], weights: Sequence[float]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """(segment, start, end, term number) of each term's column in each segment, and weights."""
        spans: list[tuple[int, int, int, int]] = []
        ws: list[float] = []
        cache = self._span_cache
        for t, term in enumerate(terms):
            where = cache.get(term)
            if where is None:
                where = self._term_spans(term)
                # segments are immutable: only the size needs a bound
                if len(cache) >= SPAN_CACHE_MAX:
                    cache.clear()
                cache[term] = where
            for seg, start, end in where:
                spans.append((seg, start, end, t))
                ws.append(weights[t])
        return np.asarray(spans, dtype=np.int64).reshape(-1, 4), np.asarray(ws, dtype=np.float32)

    def _term_spans(self, term: str) -> tuple[tuple[int, int, int], ...]:
        """(segment 0 main / 1 delta, start, end) of the term's column in each segment holding
        it."""
        out = []
        for seg, _ in self._segments():
            i = seg.vocab.get(term)
            if i is None or i + 1 >= len(seg.indptr):
                continue
            out.append((0 if seg is self.main else 1, int(seg.indptr[i]), int(seg.indptr[i + 1])))
        return tuple(out)

    def has_terms(self, rows: npt.NDArray[np.int64], terms: Sequence[str]) -> npt.NDArray[np.bool_]:
        """For each given row (a page of hits), which of the terms its text holds: rows x terms."""
        rows = np.asarray(rows, dtype=np.int64)
        compiled = kernels.compiled()
        if compiled is None or not self.n_rows:
            out = np.zeros((len(rows), len(terms)), dtype=bool)
            for t, term in enumerate(terms):
                out[:, t] = self.has_term(rows, term)
            return out
        spans, _ = self._spans(terms, [1.0] * len(terms))
        empty_i = np.empty(0, dtype=np.int32)
        return compiled[1](
            self.main.indices if self.main is not None else empty_i,
            self.delta.indices if self.delta is not None else empty_i,
            spans,
            self.n_main,
            len(terms),
            rows,
        )

    def rows_with_term(self, term: str) -> npt.NDArray[np.int64]:
        """Alive rows whose text holds the term."""
        parts = []
        for seg, base in self._segments():
            rows, _ = seg.column(term)
            if len(rows):
                parts.append(rows.astype(np.int64) + base)
        return self._alive_only(parts)

    def has_term(self, rows: npt.NDArray[np.int64], term: str) -> npt.NDArray[np.bool_]:
        """For each given row, whether its text holds the term."""
        out = np.zeros(len(rows), dtype=bool)
        for seg, base in self._segments():
            col, _ = seg.column(term)
            if not len(col):
                continue
            local = rows - base
            inside = (local >= 0) & (local < seg.n_docs)
            if not inside.any():
                continue
            pos = np.searchsorted(col, local[inside])
            pos = np.minimum(pos, len(col) - 1)
            out[inside] = np.asarray(col)[pos] == local[inside]
        return out

    def _alive_only(self, parts: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
        if not parts:
            return np.empty(0, dtype=np.int64)
        rows = np.concatenate(parts)
        return rows[self.alive[rows]]

    def rows_in_categories(self, codes: Iterable[str]) -> npt.NDArray[np.int64]:
        """Alive rows listed under any of the categories."""
        parts = []
        for code in codes:
            for seg, base in self._segments():
                rows = seg.categories.get(code)
                if len(rows):
                    parts.append(rows.astype(np.int64) + base)
        alive = self._alive_only(parts)
        if len(parts) == 1:
            return alive  # one posting list: already sorted and unique
        # A boolean pass is ~50x faster than np.unique's hash + sort on tens of thousands of rows.
        seen = np.zeros(self.n_rows, dtype=bool)
        seen[alive] = True
        return np.flatnonzero(seen).astype(np.int64)

    def category_codes(self) -> set[str]:
        """Every category some indexed paper is listed under."""
        out: set[str] = set()
        for seg, _ in self._segments():
            out.update(seg.categories.keys())
        return out

    def rows_with_author(self, name: str) -> npt.NDArray[np.int64]:
        """Alive rows with an author whose name words include all words of `name`."""
        keys = author_keys([name])
        if not keys:
            return np.empty(0, dtype=np.int64)
        result: npt.NDArray[np.int64] | None = None
        for key in keys:
            parts = []
            for seg, base in self._segments():
                rows = seg.authors.get(key)
                if len(rows):
                    parts.append(rows.astype(np.int64) + base)
            found = self._alive_only(parts)
            result = found if result is None else np.intersect1d(result, found, assume_unique=False)
            if not len(result):
                break
        return np.asarray(result, dtype=np.int64)

    def row_of(self, paper_id: int) -> int | None:
        """The alive row of a paper id, if it is indexed."""
        if self.delta is not None and self._delta_order is not None and self.n_delta:
            ids = self.delta.paper_ids
            pos = int(np.searchsorted(ids, paper_id, sorter=self._delta_order))
            if pos < self.n_delta and ids[self._delta_order[pos]] == paper_id:
                return self.n_main + int(self._delta_order[pos])
        if self.main is not None and self.n_main:
            ids = self.main.paper_ids
            pos = int(np.searchsorted(ids, paper_id))
            if pos < self.n_main and ids[pos] == paper_id and self.alive[pos]:
                return pos
        return None

    def rows_of(self, paper_ids: Iterable[int]) -> dict[int, int]:
        """Alive rows of many paper ids (unknown ids left out)."""
        out = {}
        for pid in paper_ids:
            row = self.row_of(int(pid))
            if row is not None:
                out[int(pid)] = row
        return out

    def rows_of_ids(self, paper_ids: npt.ArrayLike) -> IntArray:
        """Alive rows of many paper ids at once, vectorised (unknown ids left out)."""
        ids = np.asarray(paper_ids, dtype=np.int64).ravel()
        parts: list[IntArray] = []
        if self.main is not None and self.n_main and len(ids):
            main_ids = self.main.paper_ids
            pos = np.minimum(np.searchsorted(main_ids, ids), self.n_main - 1)
            hit = main_ids[pos] == ids
            rows = pos[hit]
            parts.append(rows[self.alive[rows]].astype(np.int64))
        if self.delta is not None and self._delta_order is not None and self.n_delta and len(ids):
            order = self._delta_order
            d_ids = np.asarray(self.delta.paper_ids)
            pos = np.minimum(np.searchsorted(d_ids, ids, sorter=order), self.n_delta - 1)
            hit = d_ids[order[pos]] == ids
            parts.append(self.n_main + np.asarray(order[pos[hit]], dtype=np.int64))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def day_mask(self, since: date | None, until: date | None) -> npt.NDArray[np.bool_]:
        """Rows whose day lies in [since, until] (rows with no day fail any bound)."""
        mask = self.alive.copy()
        if since is not None:
            mask &= self.days >= since.toordinal()
        if until is not None:
            mask &= (self.days <= until.toordinal()) & (self.days > 0)
        return mask
