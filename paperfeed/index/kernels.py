"""Compiled query scoring for the lexical index, used when numba is installed (the `fast` extra).

`match_top` does in one compiled pass what LexicalIndex's numpy path does in a dozen numpy calls:
the BM25 score and distinct-term count of every row for a query's term columns (main and delta
segment), the number of rows that hold some term and all terms, and the best `size` rows, rows
holding every term first when asked. One numpy call costs a few microseconds of Python, and a query
made ~40 of them: that, not the arithmetic, was most of a query's time (BENCHMARKS.md 2.7).

Without numba (a plain `pip install paperfeed`) the numpy path gives the same scores, counts and top
rows (tests/test_index_kernels.py); numba adds ~200 MB (llvmlite), so it is not required.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

FULL_BONUS = 1e9  # added to the key of rows holding every term (BM25 scores stay far below)

MatchTop = Callable[
    ..., tuple[npt.NDArray[np.float32], npt.NDArray[np.uint16], npt.NDArray[np.int64], int, int]
]
HasTerms = Callable[..., npt.NDArray[np.bool_]]


def _match_top(
    indices_a: npt.NDArray[np.int32],
    data_a: npt.NDArray[np.float32],
    indices_b: npt.NDArray[np.int32],
    data_b: npt.NDArray[np.float32],
    spans: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float32],
    n_rows: int,
    n_main: int,
    mask: npt.NDArray[np.bool_],
    n_terms: int,
    size: int,
    all_first: bool,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint16], npt.NDArray[np.int64], int, int]:
    """Scores, counts, the best `size` rows (ranked), rows with some term, rows with all terms.

    `spans` rows are (segment 0 main / 1 delta, start, end, term number) of one term's column; a
    term has at most one span per segment, so a row's count is its number of distinct terms.
    """
    scores = np.zeros(n_rows, dtype=np.float32)
    counts = np.zeros(n_rows, dtype=np.uint16)
    length = np.zeros(n_terms, dtype=np.int64)
    for i in range(spans.shape[0]):
        length[spans[i, 3]] += spans[i, 2] - spans[i, 1]
    # every matching row, each once, noted as the postings pass first reaches it: no scan of all
    # n_rows afterwards (at 74k rows two such scans cost as much as the postings themselves)
    cand = np.empty(max(1, length.sum()), dtype=np.int64)
    nt = 0
    # branch-free inner loops (a masked row adds 0, a row seen before overwrites its slot): a
    # data-dependent branch per posting cost more than the arithmetic
    for i in range(spans.shape[0]):
        w = weights[i]
        if spans[i, 0] == 0:
            for j in range(spans[i, 1], spans[i, 2]):
                r = np.int64(indices_a[j])
                keep = mask[r]
                c = counts[r]
                cand[nt] = r
                nt += keep & (c == 0)
                counts[r] = c + keep
                scores[r] += data_a[j] * w * keep
        else:
            for j in range(spans[i, 1], spans[i, 2]):
                r = np.int64(indices_b[j]) + n_main
                keep = mask[r]
                c = counts[r]
                cand[nt] = r
                nt += keep & (c == 0)
                counts[r] = c + keep
                scores[r] += data_b[j] * w * keep
    # rows holding every term are among the rows of the rarest term: count (and, for all_first,
    # rank) them from its column alone when there are enough of them for the page
    rare = np.argmin(length) if n_terms else 0
    take = min(size, nt)
    full = np.empty(length[rare] if n_terms else 0, dtype=np.int64)
    n_full = 0
    for i in range(spans.shape[0]):
        if spans[i, 3] != rare:
            continue
        for j in range(spans[i, 1], spans[i, 2]):
            r = np.int64(indices_a[j]) if spans[i, 0] == 0 else np.int64(indices_b[j]) + n_main
            if counts[r] == n_terms:
                full[n_full] = r
                n_full += 1
    nc = nt
    if all_first and n_full >= take:
        cand = full
        nc = n_full
    # the best `size` (key, row) pairs, key = -score (minus a bonus when every term is there),
    # kept in a max-heap: sorting all matches (numba's sort is ~5x slower than numpy's) is avoided
    heap_k = np.empty(take, dtype=np.float64)
    heap_r = np.empty(take, dtype=np.int64)
    filled = 0
    for i in range(nc):
        r = cand[i]
        key = -np.float64(scores[r])
        if all_first and counts[r] == n_terms:
            key -= FULL_BONUS
        if take == 0:
            continue
        if filled < take:
            # sift up
            c = filled
            filled += 1
            while c > 0:
                parent = (c - 1) // 2
                if heap_k[parent] > key or (heap_k[parent] == key and heap_r[parent] > r):
                    break
                heap_k[c] = heap_k[parent]
                heap_r[c] = heap_r[parent]
                c = parent
            heap_k[c] = key
            heap_r[c] = r
        elif key < heap_k[0] or (key == heap_k[0] and r < heap_r[0]):
            # replace the worst kept pair, sift down
            c = 0
            while True:
                left = 2 * c + 1
                if left >= take:
                    break
                big = left
                right = left + 1
                if right < take and (
                    heap_k[right] > heap_k[left]
                    or (heap_k[right] == heap_k[left] and heap_r[right] > heap_r[left])
                ):
                    big = right
                if heap_k[big] < key or (heap_k[big] == key and heap_r[big] < r):
                    break
                heap_k[c] = heap_k[big]
                heap_r[c] = heap_r[big]
                c = big
            heap_k[c] = key
            heap_r[c] = r
    # rank the kept pairs: by row first, then stably by key (ties stay by row)
    by_row = np.argsort(heap_r)
    heap_k = heap_k[by_row]
    heap_r = heap_r[by_row]
    order = np.argsort(heap_k, kind="mergesort")
    return scores, counts, heap_r[order], nt, n_full


def _has_terms(
    indices_a: npt.NDArray[np.int32],
    indices_b: npt.NDArray[np.int32],
    spans: npt.NDArray[np.int64],
    n_main: int,
    n_terms: int,
    rows: npt.NDArray[np.int64],
) -> npt.NDArray[np.bool_]:
    """For each row and term number, whether the term's column holds the row (binary search)."""
    out = np.zeros((len(rows), n_terms), dtype=np.bool_)
    for i in range(spans.shape[0]):
        seg, s, e, t = spans[i, 0], spans[i, 1], spans[i, 2], spans[i, 3]
        for k in range(len(rows)):
            local = rows[k] if seg == 0 else rows[k] - n_main
            if local < 0 or (seg == 0 and local >= n_main):
                continue
            lo, hi = s, e
            while lo < hi:
                mid = (lo + hi) // 2
                v = np.int64(indices_a[mid]) if seg == 0 else np.int64(indices_b[mid])
                if v < local:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < e:
                v = np.int64(indices_a[lo]) if seg == 0 else np.int64(indices_b[lo])
                if v == local:
                    out[k, t] = True
    return out


_compiled: list[tuple[MatchTop, HasTerms] | None] = []  # filled on first use: numba takes ~0.5 s
enabled = True  # False: always the numpy path (tests compare the two)


def compiled() -> tuple[MatchTop, HasTerms] | None:
    """The compiled `_match_top` and `_has_terms`, or None without numba (or when disabled)."""
    if not enabled:
        return None
    if not _compiled:
        try:
            import numba
        except ImportError:
            _compiled.append(None)
        else:
            jit = numba.njit(cache=True, nogil=True)
            _compiled.append((jit(_match_top), jit(_has_terms)))
    return _compiled[0]
