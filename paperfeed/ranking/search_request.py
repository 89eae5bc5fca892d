"""A search request (the query, the page, the ranking, the filters) and the row mask its filters
make.

paperfeed.ranking.search runs a request; this module only checks it and turns filters into rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import BadRequest
from paperfeed.index.lexical import LexicalIndex
from paperfeed.index.text import analyse, words
from paperfeed.ranking import fusion
from paperfeed.ranking.categories import resolve_category
from paperfeed.ranking.query import ParsedQuery

SORTS = ("relevance", "date")
MODES = ("hybrid", "lexical", "semantic")
FUSIONS = ("convex", "rrf")
DEFAULT_FUSION = "convex"  # beat RRF on SciFact train; see BENCHMARKS.md section 2.2
MAX_K = 1000

RowArray = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_] | None  # None: every alive row passes


def choice(name: str, value: str, valid: Sequence[str]) -> None:
    """Raise BadRequest unless value is one of valid."""
    if value not in valid:
        raise BadRequest(f"unknown {name} {value!r}; valid: {', '.join(valid)}")


@dataclass(frozen=True)
class SearchFilters:
    """What restricts a search besides its query text (the query's own author:, cat:, year: add to
    these)."""

    since: date | None = None
    until: date | None = None
    category: str | None = None
    author: str | None = None
    within: Iterable[int] | None = None  # only these paper ids (a digest's window)


@dataclass(frozen=True)
class SearchRequest:
    """One search: the query, the page asked for, how to rank, and the filters."""

    query: str
    k: int = 20
    offset: int = 0
    sort: str = "relevance"
    mode: str = "hybrid"
    fusion_method: str = DEFAULT_FUSION
    alpha: float = fusion.DEFAULT_ALPHA
    filters: SearchFilters = SearchFilters()

    def check(self) -> None:
        """Raise BadRequest naming the first value out of range."""
        choice("sort", self.sort, SORTS)
        choice("mode", self.mode, MODES)
        choice("fusion", self.fusion_method, FUSIONS)
        if not 1 <= self.k <= MAX_K:
            raise BadRequest(f"k must be between 1 and {MAX_K}, got {self.k}")
        if self.offset < 0:
            raise BadRequest(f"offset must be 0 or more, got {self.offset}")
        f = self.filters
        if f.since and f.until and f.since > f.until:
            raise BadRequest(f"since {f.since} is after until {f.until}")

    @property
    def need(self) -> int:
        """Ranked rows needed to cut the page."""
        return self.offset + self.k


def and_mask(mask: Mask, other: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Both masks (None stands for every row)."""
    return other if mask is None else mask & other


def filter_mask(lex: LexicalIndex, pq: ParsedQuery, filters: SearchFilters,
                notices: list[str]) -> tuple[Mask, ParsedQuery]:
    """The rows passing the filters and the query's own ones (None: every alive row); the query
    with unknown cat: values turned into words."""
    since, until, category, author = filters.since, filters.until, filters.category, filters.author
    s = max([d for d in (since, pq.since) if d], default=None)
    u = min([d for d in (until, pq.until) if d], default=None)
    mask: Mask = lex.day_mask(s, u) if s or u else None
    if category:
        codes = resolve_category(category, lex.category_codes())
        if not codes:
            raise BadRequest(
                f"unknown category {category!r} (use an arXiv code such as cs.CL, or an archive "
                "such as cs)"
            )
        mask = and_mask(mask, rows_mask(lex, lex.rows_in_categories(codes)))
    extra_words: list[str] = []
    for value in pq.categories:
        codes = resolve_category(value, lex.category_codes())
        if not codes:
            notices.append(f"unknown category cat:{value}: searched {value!r} as words")
            extra_words.append(value)
            continue
        mask = and_mask(mask, rows_mask(lex, lex.rows_in_categories(codes)))
    for name in [*([author] if author else []), *pq.authors]:
        if not words(name):
            notices.append(f"author:{name} has no name words: ignored")
            continue
        mask = and_mask(mask, rows_mask(lex, lex.rows_with_author(name)))
    for word in pq.excluded:
        stems = analyse(word)
        if not stems:
            continue
        hit = rows_mask(lex, lex.rows_with_term(stems[0]))
        for st in stems[1:]:
            hit &= rows_mask(lex, lex.rows_with_term(st))
        mask = and_mask(mask, ~hit)
    for phrase in pq.phrases:
        for st in analyse(phrase):  # every word of a phrase must be there
            mask = and_mask(mask, rows_mask(lex, lex.rows_with_term(st)))
    if extra_words:
        pq = ParsedQuery(**{**pq.__dict__, "words": (*pq.words, *extra_words)})
    if filters.within is not None:
        w = filters.within
        ids = w if isinstance(w, np.ndarray) else np.fromiter(w, dtype=np.int64)
        mask = and_mask(mask, rows_mask(lex, lex.rows_of_ids(ids)))
    if mask is not None and len(lex.dead):
        mask[lex.dead] = False
    return mask, pq


def rows_mask(lex: LexicalIndex, rows: RowArray) -> npt.NDArray[np.bool_]:
    """A mask holding these rows."""
    m = np.zeros(lex.n_rows, dtype=bool)
    m[rows] = True
    return m
