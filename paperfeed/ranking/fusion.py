"""Score fusion of a lexical and a semantic run: convex combination and reciprocal rank fusion.

Both take dense arrays over one candidate pool (NaN where a run has no score for a candidate) and
return one fused score per candidate, higher is better.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Tuned on SciFact train only (benchmarks/beir.py --tune); see BENCHMARKS.md section 2.2.
DEFAULT_ALPHA = 0.4  # weight of the lexical part in the convex combination
RRF_K = 10.0  # tuned on SciFact train (10, 30, 60, 100 tried)


def minmax(scores: FloatArray) -> FloatArray:
    """Scale finite scores to [0, 1] over the pool; NaN (no score) becomes 0."""
    out = np.zeros(len(scores), dtype=np.float64)
    finite = np.isfinite(scores)
    if not finite.any():
        return out
    lo = float(scores[finite].min())
    hi = float(scores[finite].max())
    if hi > lo:
        out[finite] = (scores[finite] - lo) / (hi - lo)
    else:
        out[finite] = 1.0
    return out


def convex(lexical: FloatArray, semantic: FloatArray, alpha: float = DEFAULT_ALPHA) -> FloatArray:
    """alpha * minmax(lexical) + (1 - alpha) * minmax(semantic)."""
    return alpha * minmax(lexical) + (1.0 - alpha) * minmax(semantic)


def ranks(scores: FloatArray) -> FloatArray:
    """1-based rank of each candidate by descending score; NaN and non-positive-lexical gaps get
    inf."""
    out = np.full(len(scores), np.inf)
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite):
        order = finite[np.argsort(-scores[finite], kind="stable")]
        out[order] = np.arange(1, len(order) + 1, dtype=np.float64)
    return out


def rrf(lexical: FloatArray, semantic: FloatArray, k: float | None = None) -> FloatArray:
    """Reciprocal rank fusion: sum over runs of 1 / (k + rank); a run without the candidate adds
    0."""
    k = RRF_K if k is None else k
    return 1.0 / (k + ranks(lexical)) + 1.0 / (k + ranks(semantic))
