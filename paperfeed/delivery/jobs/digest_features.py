"""Features for digest recommendations: example papers, vector and lexical feature spaces,
reasons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from paperfeed.core.models import Paper
from paperfeed.index.text import term_counts
from paperfeed.ranking.digest import CandidatePool
from paperfeed.ranking.recommend import (
    Background,
    Example,
    Features,
    Recommendation,
    fit,
    lexical_features,
    top,
    vector_features,
)
from paperfeed.store import Store
from paperfeed.store.digests import DigestProfile

MAX_EXAMPLES = 50  # most recent examples per user the recommender learns from
SOURCE_LABEL = {"upvoted": "you upvoted", "collected": "you saved", "more": "you asked for more of"}


class VectorSource(Protocol):
    """Where paper vectors come from (the semantic index)."""

    def vector(self, paper_id: int) -> npt.NDArray[np.float32] | None:
        """A paper's unit vector, or None."""
        ...


class ExampleCache:
    """Papers referenced as examples (titles for reasons, terms for the lexical model), fetched in
    bulk."""

    def __init__(self, store: Store, pool: CandidatePool) -> None:
        self.store = store
        self.pool = pool
        self.papers: dict[int, Paper] = {}
        self.terms: dict[int, dict[str, int]] = {}
        self._sparse: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}

    def sparse(self, pid: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The paper's terms over the pool vocabulary (cached)."""
        got = self._sparse.get(pid)
        if got is None:
            got = self._sparse[pid] = self.pool.sparse_terms(self.terms_of(pid))
        return got

    def load(self, ids: Sequence[int]) -> None:
        """Fetch the papers (and their terms) not loaded yet."""
        missing = [i for i in dict.fromkeys(ids) if i not in self.papers]
        for pid in list(missing):
            row = self.pool.row_of.get(pid)
            if row is not None:
                self.papers[pid] = self.pool.papers[row]
                self.terms[pid] = self.pool.terms[row]
                missing.remove(pid)
        if missing:
            self.papers.update(self.store.papers.get_papers(missing))

    def terms_of(self, pid: int) -> dict[str, int]:
        """Analysed term counts of a paper, as the index counts them."""
        tf = self.terms.get(pid)
        if tf is None and (row := self.pool.row_of.get(pid)) is not None:
            tf = self.pool.terms[row]
        if tf is None:
            p = self.papers.get(pid)
            tf = term_counts(p.title, p.abstract, p.authors) if p is not None else {}
            self.terms[pid] = tf
        return tf


@dataclass
class _Space:
    """One feature space with the pool's rows in it, centred once for every user's scoring."""

    features: Features
    background: Background
    pool_index: npt.NDArray[np.int64]  # pool rows that have features in this space
    pool_ids: list[int]
    pool_rows: npt.NDArray[np.float32]
    centred: npt.NDArray[np.float32]


class FeatureSpaces:
    """Vector features where the semantic index has them, the lexical stand-in for the rest."""

    def __init__(
        self, pool: CandidatePool, examples: ExampleCache, vectors: VectorSource | None
    ) -> None:
        self.pool = pool
        self.examples = examples
        self.semantic = vectors
        self._vec: dict[int, npt.NDArray[np.float32] | None] = {}
        self.vectors: Features | None = None
        self.lexical: Features | None = None
        self.spaces: dict[str, _Space] = {}
        self._df = pool.df
        self._seen: set[int] = set()

    def _vector(self, pid: int) -> npt.NDArray[np.float32] | None:
        if pid not in self._vec:
            vec = self.semantic.vector(pid) if self.semantic is not None else None
            self._vec[pid] = vec
        return self._vec[pid]

    def prepare(self, example_ids: Sequence[int]) -> None:
        """Build the feature rows of the pool (first call) and of these example papers."""
        new = [
            pid
            for pid in dict.fromkeys([*(int(i) for i in self.pool.ids), *example_ids])
            if pid not in self._seen
        ]
        if not new:
            return
        self._seen.update(new)
        with_vec = [(pid, v) for pid in new if (v := self._vector(pid)) is not None]
        if with_vec:
            self.vectors = _extend(
                self.vectors,
                vector_features([p for p, _ in with_vec], np.stack([v for _, v in with_vec])),
            )
        lex = [pid for pid in new if self._vec.get(pid) is None]
        if lex:
            self.lexical = _extend(
                self.lexical,
                lexical_features(
                    lex,
                    [self.examples.terms_of(pid) for pid in lex],
                    df=self._df,
                    n_docs=len(self.pool),
                ),
            )
        for feats in (self.vectors, self.lexical):
            if feats is None or feats.space in self.spaces:
                continue
            index = np.asarray(
                [
                    i
                    for i, p in enumerate(self.pool.ids)
                    if int(p) in feats.row_of
                    and (feats.space == "vectors") == (self._vec.get(int(p)) is not None)
                ],
                dtype=np.int64,
            )
            if not len(index):
                continue
            ids = [int(self.pool.ids[i]) for i in index]
            rows = feats.matrix[[feats.row_of[p] for p in ids]]
            bg = Background(rows)
            self.spaces[feats.space] = _Space(feats, bg, index, ids, rows,
                                              (rows - bg.mean).astype(np.float32))

    def recommend(
        self, examples: Sequence[Example], allowed: npt.NDArray[np.bool_], k: int
    ) -> list[Recommendation]:
        """Recommendations among the allowed pool papers from both spaces, best first."""
        out: list[Recommendation] = []
        for name, sp in self.spaces.items():
            feats = self.vectors if name == "vectors" else self.lexical
            if feats is None:
                continue
            sel = np.flatnonzero(allowed[sp.pool_index])
            if not len(sel):
                continue
            model = fit(feats, sp.background, examples)
            if model is None:
                continue
            scores = (sp.centred[sel] @ model.w.astype(np.float32)).astype(np.float64)
            out += top(model, name, [sp.pool_ids[i] for i in sel], sp.pool_rows[sel], scores, k)
        out.sort(key=lambda r: -r.score)
        return out[:k]


def _extend(old: Features | None, new: Features) -> Features:
    if old is None:
        return new
    ids = [*old.row_of, *new.row_of]
    return Features(ids, np.vstack([old.matrix, new.matrix]), new.space)


def examples_of(prof: DigestProfile) -> list[Example]:
    seen: set[int] = set()
    out: list[Example] = []
    for source, ids in (("less", prof.less), ("more", prof.more), ("upvoted", prof.upvoted),
                        ("collected", prof.collected)):
        for pid in ids:
            if pid not in seen and (source == "less" or len(out) < MAX_EXAMPLES):
                seen.add(pid)
                out.append(Example(pid, source))
    return out


def _quote_title(title: str, limit: int = 70) -> str:
    title = " ".join(title.split())
    return f"“{title if len(title) <= limit else title[:limit].rsplit(' ', 1)[0] + '…'}”"


def reason_for(rec: Recommendation, examples: ExampleCache, pool: CandidatePool,
            profile: npt.NDArray[np.float64]) -> str:
    parts = []
    if rec.similar_to:
        by_source: dict[str, list[str]] = {}
        for pid, source in rec.similar_to:
            p = examples.papers.get(pid)
            if p is not None:
                by_source.setdefault(source, []).append(_quote_title(p.title))
        parts.append(
            "; ".join(
                f"similar to {' and '.join(ts)}, which {SOURCE_LABEL.get(s, 'you liked')}"
                for s, ts in by_source.items()
            )
        )
    row = pool.row_of.get(rec.paper_id)
    terms = pool.top_terms(row, profile) if row is not None else ()
    if terms:
        parts.append(f"your topics: {', '.join(terms)}")
    return "; ".join(p for p in parts if p) or "close to papers you liked"
