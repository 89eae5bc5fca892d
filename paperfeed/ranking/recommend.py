"""Personal recommendations: a ridge classifier per user over paper features, as arxiv-sanity does
with a per-user SVM, but solved in closed form so 10,000 users cost seconds.

Examples: papers the user upvoted, put in a collection or marked "more like this" are positives
(label +1); papers marked "less like this" are negatives (label -1, weighted more, so one click
moves what comes next); the run's candidate papers are the background (label 0: "a typical new
paper"). The weight vector solves

    min_w  sum_i c_i (x_i . w - y_i)^2 + lambda |w|^2        (features centred on the background)

The background part of the normal equations, alpha * Cov(background) + lambda * I, is the same
for every user, so it is inverted once per run (`Background`); each user adds only a low-rank
term (their few examples), handled with the Woodbury identity: O(d^2 k) per user instead of a
d x d solve. A candidate's score is x . w; the model recommends candidates scoring above zero
(closer to the user's examples than to a typical new paper).

Features are the paper vectors of the semantic index when papers have them, else a lexical
stand-in: sublinear TF-IDF of the analysed text, hashed and randomly projected to a few hundred
dense dimensions (cosines survive the projection, so the same solver serves both).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
FloatVector = npt.NDArray[np.float64]

NEGATIVE_WEIGHT = 3.0  # one "less like this" outweighs one positive example
BACKGROUND_WEIGHT = 4.0
RIDGE_LAMBDA = 0.5
LEXICAL_DIM = 256
_HASH_BUCKETS = 1 << 14
SIMILAR_MIN = {"vectors": 0.35, "lexical": 0.15}  # cosine below which "similar to X" is not claimed


@dataclass(frozen=True)
class Example:
    """A labelled paper of one user: where it came from and its label."""

    paper_id: int
    source: str  # upvoted | collected | more | less

    @property
    def label(self) -> float:
        """+1 for positives, -1 for "less like this"."""
        return -1.0 if self.source == "less" else 1.0


@dataclass(frozen=True)
class Recommendation:
    """A recommended paper, its score, and the user's examples it is most like."""

    paper_id: int
    score: float
    similar_to: tuple[tuple[int, str], ...]  # (example paper id, its source), most similar first


class Features:
    """Dense L2-normalised feature rows for a set of paper ids, in one space ('vectors' or
    'lexical')."""

    def __init__(self, ids: Sequence[int], matrix: FloatMatrix, space: str) -> None:
        self.space = space
        self.matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self.row_of = {int(pid): i for i, pid in enumerate(ids)}

    @property
    def dim(self) -> int:
        """Feature dimension."""
        return int(self.matrix.shape[1])

    def has(self, paper_id: int) -> bool:
        """Whether the paper has a feature row."""
        return paper_id in self.row_of

    def rows(self, paper_ids: Sequence[int]) -> tuple[list[int], FloatMatrix]:
        """The ids that have rows, and their rows."""
        kept = [pid for pid in paper_ids if pid in self.row_of]
        return kept, self.matrix[[self.row_of[p] for p in kept]]


class Background:
    """The shared part of every user's ridge system, inverted once per run."""

    def __init__(
        self, background: FloatMatrix, alpha: float = BACKGROUND_WEIGHT, lam: float = RIDGE_LAMBDA
    ) -> None:
        x = np.asarray(background, dtype=np.float64)
        d = x.shape[1]
        self.mean = x.mean(axis=0) if len(x) else np.zeros(d)
        xc = x - self.mean
        cov = xc.T @ xc / max(len(x), 1)
        self.inverse = np.linalg.inv(alpha * cov + lam * np.eye(d))

    def fit(
        self, examples: FloatMatrix, labels: Sequence[float], weights: Sequence[float]
    ) -> FloatVector:
        """The user's weight vector from their examples (rows), labels and example weights."""
        u = np.asarray(examples, dtype=np.float64) - self.mean
        c = np.asarray(weights, dtype=np.float64)
        z = c * np.asarray(labels, dtype=np.float64)
        v = self.inverse @ u.T  # d x k
        g = u @ v  # k x k
        a = z - np.linalg.solve(np.diag(1.0 / c) + g, g @ z)
        w: FloatVector = v @ a
        return w

    def scores(self, candidates: FloatMatrix, w: FloatVector) -> FloatVector:
        """Predicted label of each candidate row."""
        out: FloatVector = (np.asarray(candidates, dtype=np.float64) - self.mean) @ w
        return out


@dataclass(frozen=True)
class Model:
    """One user's fitted model in one feature space."""

    w: FloatVector
    ex_ids: list[int]
    ex_rows: FloatMatrix
    labels: list[float]
    sources: dict[int, str]


def fit(features: Features, background: Background, examples: Sequence[Example]) -> Model | None:
    """Fit the user's ridge model on the examples that have features; None without a positive
    one."""
    ex_ids, ex_rows = features.rows([e.paper_id for e in examples])
    if not ex_ids:
        return None
    sources = {e.paper_id: e.source for e in examples}
    labels = [-1.0 if sources[p] == "less" else 1.0 for p in ex_ids]
    if max(labels) < 0:
        return None  # only "less like this": nothing to be like
    weights = [NEGATIVE_WEIGHT if lab < 0 else 1.0 for lab in labels]
    return Model(background.fit(ex_rows, labels, weights), ex_ids, ex_rows, labels, sources)


def top(
    model: Model,
    space: str,
    cand_ids: Sequence[int],
    cand_rows: FloatMatrix,
    scores: FloatVector,
    k: int,
    min_score: float = 0.0,
) -> list[Recommendation]:
    """The k best-scoring candidates above min_score, each with the user's examples it is most
    like."""
    if k <= 0 or not len(cand_ids):
        return []
    order = np.argsort(-scores, kind="stable") if len(scores) <= k else\
        np.argpartition(-scores, k - 1)[:k]
    order = order[np.argsort(-scores[order], kind="stable")][:k]
    pos_idx = [i for i, lab in enumerate(model.labels) if lab > 0]
    pos_rows = model.ex_rows[pos_idx]
    floor = SIMILAR_MIN.get(space, 0.3)
    out = []
    for j in order:
        if scores[j] <= min_score:
            break
        sims = pos_rows @ cand_rows[j]
        best = np.argsort(-sims, kind="stable")[:2]
        similar = tuple((model.ex_ids[pos_idx[b]], model.sources[model.ex_ids[pos_idx[b]]])
                        for b in best if sims[b] >= floor)
        out.append(Recommendation(int(cand_ids[j]), float(scores[j]), similar))
    return out


def recommend(features: Features, background: Background, examples: Sequence[Example],
              candidate_ids: Sequence[int], k: int, min_score: float = 0.0) -> list[Recommendation]:
    """The k candidates the user's model scores highest (above min_score), with their closest
    examples."""
    model = fit(features, background, examples)
    if model is None or k <= 0:
        return []
    cand_ids, cand_rows = features.rows(candidate_ids)
    if not cand_ids:
        return []
    return top(
        model,
        features.space,
        cand_ids,
        cand_rows,
        background.scores(cand_rows, model.w),
        k,
        min_score,
    )


# ----- the lexical stand-in for paper vectors -----------------------------------------------------


@lru_cache(maxsize=4)
def _projection(dim: int, seed: int) -> FloatMatrix:
    rng = np.random.default_rng(seed)
    proj: FloatMatrix = (rng.standard_normal((_HASH_BUCKETS, dim)) / np.sqrt(dim)).astype(
        np.float32
    )
    return proj


_BUCKET: dict[str, int] = {}


def _bucket(stem: str) -> int:
    b = _BUCKET.get(stem)
    if b is None:
        b = zlib.crc32(stem.encode("utf-8")) % _HASH_BUCKETS
        if len(_BUCKET) < 2_000_000:
            _BUCKET[stem] = b
    return b


def lexical_features(ids: Sequence[int], term_counts: Sequence[Mapping[str, int]],
                     df: Mapping[str, int] | None = None, n_docs: int | None = None,
                     dim: int = LEXICAL_DIM, seed: int = 42) -> Features:
    """Hashed, randomly projected sublinear TF-IDF rows (L2-normalised) for papers' analysed
    terms."""
    if df is None:
        counted: dict[str, int] = {}
        for tf in term_counts:
            for st in tf:
                counted[st] = counted.get(st, 0) + 1
        df = counted
    n = n_docs if n_docs is not None else len(term_counts)
    proj = _projection(dim, seed)
    vocab: dict[str, int] = {}
    flat: list[int] = []
    counts: list[int] = []
    offsets = [0]
    for tf in term_counts:
        flat.extend([vocab.setdefault(st, len(vocab)) for st in tf])
        counts.extend(tf.values())
        offsets.append(len(flat))
    terms = list(vocab)
    idf = np.log((1.0 + n) / (1.0 + np.asarray([df.get(t, 0) for t in terms], dtype=np.float64)))
    buckets = np.asarray([_bucket(t) for t in terms], dtype=np.int64)
    tid = np.asarray(flat, dtype=np.int64)
    weights = ((1.0 + np.log(np.asarray(counts, dtype=np.float64))) * idf[tid]).astype(np.float32)
    cols = buckets[tid]
    out = np.zeros((len(term_counts), dim), dtype=np.float32)
    for i in range(len(term_counts)):
        s, e = offsets[i], offsets[i + 1]
        if s < e:
            out[i] = weights[s:e] @ proj[cols[s:e]]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return Features(ids, out / norms, "lexical")


def vector_features(ids: Sequence[int], vectors: FloatMatrix) -> Features:
    """Features from paper vectors (re-normalised, in case they were stored quantised)."""
    mat = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return Features(ids, mat / norms, "vectors")
