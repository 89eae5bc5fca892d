"""Search and similar papers: the one query evaluator used by the CLI, the web pages, the API, feeds
and digests (a saved search in a digest is `search_papers` restricted to the window's papers).

Search never writes: it re-reads the index's pointer file (bounded staleness), nothing more.

A query is parsed (paperfeed.ranking.query), filters become a row mask over the lexical index, BM25
scores every row, the semantic run scores its nearest neighbours, and the two are fused (convex
combination of min-max normalised scores by default, or reciprocal rank fusion).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import compress
from typing import Protocol

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import Paper
from paperfeed.index.lexical import LexicalIndex, Matches
from paperfeed.index.segment import idf_of, title_hash
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.text import analyse, document_terms, is_stop_word, words
from paperfeed.ranking import fusion
from paperfeed.ranking.query import ParsedQuery, parse_query
from paperfeed.ranking.search_request import (
    DEFAULT_FUSION,
    FUSIONS,
    MAX_K,
    MODES,
    SORTS,
    Mask,
    SearchFilters,
    SearchRequest,
    filter_mask,
)

# the request types and choices live in search_request; callers import them from here too
__all__ = [
    "DEFAULT_FUSION",
    "FUSIONS",
    "MAX_K",
    "MODES",
    "SORTS",
    "Hit",
    "SearchFilters",
    "SearchRequest",
    "SearchResult",
    "Searchable",
    "run_search",
    "search_papers",
    "similar_papers",
]

LEXICAL_POOL = 1000  # lexical candidates fused with the semantic ones
SEMANTIC_MATCHES = 100  # nearest neighbours the semantic run contributes as matches
PHRASE_CHECK_MAX = 2000  # candidates whose text is checked for an exact phrase
SIMILAR_TERMS = 30  # distinctive terms of a paper used for lexical "similar"
# Queries of up to this many distinct terms (keyword queries) rank the papers holding all of them
# first; longer ones (a question, a claim, a pasted abstract) are ranked by BM25 alone, where
# requiring every word would bury the best matches (SciFact: BENCHMARKS.md section 12).
ALL_FIRST_MAX_TERMS = 4

RowArray = npt.NDArray[np.int64]
FloatArray64 = npt.NDArray[np.float64]
_NO_ROWS: RowArray = np.empty(0, dtype=np.int64)
_NO_SCORES: FloatArray64 = np.empty(0, dtype=np.float64)


class Searchable(Protocol):
    """What the query evaluator reads from an index (paperfeed.index.SearchIndex is one); it never
    writes."""

    lexical: LexicalIndex
    semantic: SemanticIndex

    def reload_if_changed(self) -> None:
        """Pick up a writer's swap by re-reading the pointer (read-only)."""
        ...

    def query_vector(self, text: str) -> npt.NDArray[np.float32] | None:
        """The embedding of a query, or None when semantic search is unavailable."""
        ...

    def papers(self, ids: Sequence[int]) -> dict[int, Paper]:
        """Papers by id (for phrase checks)."""
        ...


@dataclass(frozen=True)
class Hit:
    """One result: the paper, its final score, and why it matched."""

    paper_id: int
    score: float
    lexical: float | None  # BM25 score (None: no query word in the paper)
    semantic: float | None  # cosine similarity to the query (None: no vector or not asked)
    matched_terms: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    """A page of hits, how many matched in all, and a notice about the query when it needed one."""

    hits: list[Hit]
    total: int
    notice: str | None
    query: str
    mode: str = "hybrid"
    # papers holding every query word, and those holding only some (None: no words to match);
    # with a phrase, counted before the phrase check
    all_words: int | None = None
    some_words: int | None = None


@dataclass
class _Terms:
    stems: list[str]
    surface: dict[str, list[str]]  # query word -> its stems (for matched terms)


def _query_terms(pq: ParsedQuery) -> _Terms:
    stems: list[str] = []
    surface: dict[str, list[str]] = {}
    for chunk in [*pq.words, *pq.phrases]:
        for w in words(chunk):
            s = analyse(w)
            if not s:
                continue
            surface.setdefault(w, s)
            stems.extend(s)
    return _Terms(stems, surface)


def _phrase_ok(text: str, phrases: Sequence[str], excluded: Sequence[str]) -> bool:
    body = " " + " ".join(words(text)) + " "
    for p in phrases:
        if " " + " ".join(words(p)) + " " not in body:
            return False
    for p in excluded:
        key = " ".join(words(p))
        if key and " " + key + " " in body:
            return False
    return True


def _check_phrases(
    index: Searchable, rows: RowArray, pq: ParsedQuery, need: int
) -> tuple[RowArray, int]:
    """Keep rows whose text holds every phrase (checked in ranked order); the total, estimated past
    the cap."""
    lex = index.lexical
    kept: list[int] = []
    checked = 0
    for start in range(0, min(len(rows), PHRASE_CHECK_MAX), 200):
        chunk = rows[start : start + 200]
        papers = index.papers([int(lex.paper_ids[r]) for r in chunk])
        for r in chunk:
            p = papers.get(int(lex.paper_ids[r]))
            if p is not None and _phrase_ok(f"{p.title}\n{p.abstract}\n{', '.join(p.authors)}",
                                            pq.phrases, pq.excluded_phrases):
                kept.append(int(r))
        checked += len(chunk)
        if len(kept) >= need and checked >= min(len(rows), PHRASE_CHECK_MAX):
            break
    total = len(kept) + max(0, len(rows) - checked)
    return np.asarray(kept, dtype=np.int64), total


def search_papers(
    index: Searchable,
    query: str,
    *,
    k: int = 20,
    offset: int = 0,
    sort: str = "relevance",
    since: date | None = None,
    until: date | None = None,
    category: str | None = None,
    author: str | None = None,
    mode: str = "hybrid",
    fusion_method: str = DEFAULT_FUSION,
    alpha: float = fusion.DEFAULT_ALPHA,
    within: Iterable[int] | None = None,
) -> SearchResult:
    """Search papers: query syntax, filters, hybrid ranking; a page of hits with why each matched.

    `within` restricts the search to these paper ids (a digest's window), everything else equal. The
    keyword form of `run_search(index, SearchRequest(...))`.
    """
    filters = SearchFilters(since, until, category, author, within)
    return run_search(
        index, SearchRequest(query, k, offset, sort, mode, fusion_method, alpha, filters)
    )


@dataclass
class _Query:
    """A request as the candidate steps see it: parsed, its terms, its row mask, its vector."""

    req: SearchRequest
    pq: ParsedQuery
    terms: _Terms
    mask: Mask
    qvec: npt.NDArray[np.float32] | None
    mode: str  # the mode that runs (lexical when no vector could be had)
    all_first: bool


@dataclass
class _Candidates:
    """What a mode's candidate step hands to the one fuse / order / page pipeline."""

    match: Matches
    pool: RowArray  # rows ranked precisely
    fused: FloatArray64  # their final scores, aligned with pool
    semantic: FloatArray64  # their cosine similarity (NaN: none), aligned with pool
    sem_rows: RowArray  # rows the semantic run matched (for date order)
    total: int
    ranked: RowArray | None = None  # the pool already in final order (a lexical page)


def run_search(index: Searchable, req: SearchRequest) -> SearchResult:
    """Run one search request: a candidate step for its mode, then fuse, order, phrase-check,
    page."""
    req.check()
    index.reload_if_changed()
    lex = index.lexical
    pq = parse_query(req.query)
    notices = list(pq.notices)
    if lex.n_rows == 0:
        return SearchResult([], 0, _notice(notices), req.query, req.mode)
    mask, pq = filter_mask(lex, pq, req.filters, notices)
    terms = _query_terms(pq)
    qvec = None
    if req.mode != "lexical" and pq.positive_text:
        qvec = index.query_vector(pq.positive_text)
        if qvec is None and req.mode == "semantic":
            notices.append(
                "semantic search is not available (no vectors yet or the semantic extra is "
                "missing): showing lexical results"
            )
    mode = req.mode if qvec is not None else "lexical"
    if not terms.stems and qvec is None:
        return _filters_only(lex, req, pq, mask, mode, _notice(notices))
    n_terms = len(set(terms.stems))
    q = _Query(
        req, pq, terms, mask, qvec, mode, mode != "semantic" and 0 < n_terms <= ALL_FIRST_MAX_TERMS
    )
    cands = _lexical_candidates(index, q) if mode == "lexical" else _fused_candidates(index, q)
    m = cands.match
    all_words = m.total_full() if n_terms else None
    some_words = m.total() - all_words if all_words is not None else None
    ranked, total = _order(lex, q, cands)
    if pq.phrases or pq.excluded_phrases:
        ranked, total = _check_phrases(index, ranked, pq, req.need)
    hits = _page_hits(lex, q, cands, ranked[req.offset : req.need])
    return SearchResult(hits, total, _notice(notices), req.query, mode, all_words, some_words)


def _filters_only(lex: LexicalIndex, req: SearchRequest, pq: ParsedQuery, mask: Mask, mode: str,
                  notice: str | None) -> SearchResult:
    """Filters only (or nothing searchable): every paper passing them, newest first."""
    rows = np.flatnonzero(lex.alive if mask is None else mask)
    if pq.phrases:
        rows = rows[:0]
    order = rows[np.lexsort((-lex.paper_ids[rows], -lex.days[rows].astype(np.int64)))]
    hits = [Hit(int(lex.paper_ids[r]), 0.0, None, None, ()) for r in order[req.offset : req.need]]
    return SearchResult(hits, len(rows), notice, req.query, mode)


def _lexical_candidates(index: Searchable, q: _Query) -> _Candidates:
    """BM25 alone: a relevance page without phrases is ranked by the match itself, nothing to
    fuse."""
    lex, req = index.lexical, q.req
    exact = req.sort == "relevance" and not (q.pq.phrases or q.pq.excluded_phrases)
    # a phrase check walks further down the ranking than the page
    size = req.need if exact else max(LEXICAL_POOL, req.need)
    m = lex.match(
        q.terms.stems,
        mask=q.mask,
        top=size if req.sort == "relevance" else 0,
        all_first=q.all_first,
    )
    top = m.top if m.top is not None else m.rows()
    if exact:  # the page is read off the ranking: no pool scores needed
        return _Candidates(m, top, _NO_SCORES, _NO_SCORES, _NO_ROWS, m.total(), top)
    pool = np.sort(top)
    return _Candidates(
        m, pool, m.scores[pool].astype(np.float64), np.full(len(pool), np.nan), _NO_ROWS, m.total()
    )


def _fused_candidates(index: Searchable, q: _Query) -> _Candidates:
    """Semantic or hybrid: the best lexical rows plus every semantic match, scored both ways and
    fused."""
    lex, req, qvec = index.lexical, q.req, q.qvec
    assert qvec is not None
    # without filters, let the vector index search everything: dead rows are dropped below
    allowed = None if q.mask is None else lex.paper_ids[q.mask]
    sem_ids = index.semantic.search(qvec, max(SEMANTIC_MATCHES, req.need), allowed)
    m = lex.match(
        q.terms.stems,
        mask=q.mask,
        top=max(LEXICAL_POOL, req.need) if req.sort == "relevance" else 0,
        all_first=q.all_first,
    )
    rows_map = lex.rows_of(pid for pid, _ in sem_ids)
    sem_rows = np.asarray([rows_map[pid] for pid, _ in sem_ids if pid in rows_map], dtype=np.int64)
    if q.mask is not None:
        sem_rows = sem_rows[q.mask[sem_rows]]
    if q.mode == "semantic":
        pool, total = sem_rows, len(sem_rows)
    else:
        top = m.top if m.top is not None else m.rows()
        # both small: cheaper than union1d on all matches
        pool = np.unique(np.concatenate([top, sem_rows]))
        total = m.total() + int((m.counts[sem_rows] == 0).sum())
    lex_pool = m.scores[pool].astype(np.float64)
    sem_pool = index.semantic.scores_for(lex.paper_ids[pool], qvec)
    if q.mode == "semantic":
        fused = np.nan_to_num(sem_pool, nan=-1.0)
    elif req.fusion_method == "rrf":
        fused = fusion.rrf(np.where(lex_pool > 0, lex_pool, np.nan), sem_pool)
    else:
        fused = fusion.convex(lex_pool, sem_pool, req.alpha)
    return _Candidates(m, pool, fused, sem_pool, sem_rows, total)


def _order(lex: LexicalIndex, q: _Query, c: _Candidates) -> tuple[RowArray, int]:
    """The candidates in final order (by date, or by score with every word first), and the total."""
    if c.ranked is not None:
        return c.ranked, c.total
    pool, fused, counts = c.pool, c.fused, c.match.counts
    if q.req.sort != "date":
        if q.all_first:
            return pool[np.lexsort((-fused, counts[pool] != c.match.n_terms))], c.total
        return pool[np.argsort(-fused, kind="stable")], c.total
    order = np.lexsort((-fused, -lex.days[pool].astype(np.int64)))
    if c.total <= len(pool):
        return pool[order], c.total
    # date order covers every match, not only the precisely ranked pool
    is_match = counts > 0
    if q.mode != "lexical":
        is_match[c.sem_rows] = True
    is_match[pool] = False
    rest = np.flatnonzero(is_match)
    rest_order = rest[np.lexsort((-c.match.scores[rest], -lex.days[rest].astype(np.int64)))]
    pool_sorted = pool[order]
    merged = np.concatenate([pool_sorted, rest_order])
    keys = np.concatenate([lex.days[pool_sorted], lex.days[rest_order]]).astype(np.int64)
    return merged[np.argsort(-keys, kind="stable")], c.total


def _page_hits(lex: LexicalIndex, q: _Query, c: _Candidates, page: RowArray) -> list[Hit]:
    """The page's hits: scores read from the pool, why-matched words for these rows only."""
    lxs = c.match.scores[page].tolist()
    ids = lex.paper_ids[page].tolist()
    matched = _matched_terms(lex, page, q.terms)
    if c.ranked is not None:  # a lexical page: the pool is the ranking
        return [
            Hit(ids[n], round(lxs[n], 6), round(lxs[n], 4), None, mt)
            for n, mt in enumerate(matched)
        ]
    pool = c.pool
    if not len(pool):
        return [
            Hit(
                ids[n],
                round(lxs[n], 6) if lxs[n] > 0 else 0.0,
                round(lxs[n], 4) if lxs[n] > 0 else None,
                None,
                mt,
            )
            for n, mt in enumerate(matched)
        ]
    # where each page row sits in the pool (sorted by np.unique, except in semantic mode), at once
    sorter = np.argsort(pool, kind="stable")
    at = sorter[np.minimum(np.searchsorted(pool, page, sorter=sorter), len(pool) - 1)]
    in_pool = (pool[at] == page).tolist()
    sms = c.semantic[at].tolist()
    fus = c.fused[at].tolist()
    hits = []
    for n, mt in enumerate(matched):
        lx = lxs[n] if lxs[n] > 0 else None
        sm = sms[n] if in_pool[n] and math.isfinite(sms[n]) else None
        score = fus[n] if in_pool[n] else (lx or 0.0)
        hits.append(Hit(ids[n], round(score, 6), None if lx is None else round(lx, 4),
                        None if sm is None else round(sm, 4), mt))
    return hits


def _matched_terms(lex: LexicalIndex, rows: RowArray, terms: _Terms) -> list[tuple[str, ...]]:
    """The query words each row's text holds (every stem of the word), for a page of hits."""
    if not len(rows):
        return []
    stems = list(dict.fromkeys(st for sts in terms.surface.values() for st in sts))
    if not stems:
        return [() for _ in rows]
    surface = list(terms.surface)
    has = lex.has_terms(np.asarray(rows, dtype=np.int64), stems)
    if len(stems) == len(surface) and all(len(sts) == 1 for sts in terms.surface.values()):
        # the usual case: one stem per word, each its own, so the columns are the words in order
        return [tuple(compress(surface, row)) for row in has.tolist()]
    pos = {st: i for i, st in enumerate(stems)}
    # rows x query words: a word is held when every one of its stems is (numpy, not a generator per
    # row)
    held = np.stack(
        [has[:, [pos[st] for st in sts]].all(axis=1) for sts in terms.surface.values()], axis=1
    )
    return [tuple(compress(surface, row)) for row in held.tolist()]


def _notice(notices: list[str]) -> str | None:
    return "; ".join(notices) if notices else None


def similar_papers(index: Searchable, paper_id: int, k: int = 10) -> list[Hit]:
    """Papers like this one: nearest vectors, or distinctive shared words when it has no vector.

    Excludes the paper itself and papers with the same normalised title (its duplicates), and lists
    each title once.
    """
    if not 1 <= k <= MAX_K:
        raise BadRequest(f"k must be between 1 and {MAX_K}, got {k}")
    index.reload_if_changed()
    lex = index.lexical
    paper = index.papers([paper_id]).get(paper_id)
    if paper is None:
        raise NotFound(f"no paper #{paper_id}")
    own_title = title_hash(paper.title)
    seen = {own_title}
    hits: list[Hit] = []
    vec = index.semantic.vector(paper_id)
    if vec is not None:
        for pid, score in index.semantic.search(vec, k * 3 + 10, None):
            row = lex.row_of(pid)
            if pid == paper_id or row is None:
                continue
            th = int(lex.title_hashes[row])
            if th in seen:
                continue
            seen.add(th)
            hits.append(Hit(pid, round(score, 6), None, round(score, 4), ()))
            if len(hits) >= k:
                return hits
        if hits:
            return hits
    # lexical: the paper's most distinctive terms as a weighted query
    stems = document_terms(paper.title, paper.abstract, ())
    if not stems or lex.main is None:
        return []
    counts: dict[str, int] = {}
    for st in stems:
        counts[st] = counts.get(st, 0) + 1
    weighted = sorted(((c * idf_of(lex.main, st), st) for st, c in counts.items()), reverse=True)
    chosen = [(w, st) for w, st in weighted[:SIMILAR_TERMS] if w > 0]
    if not chosen:
        return []
    scores = lex.scores([st for _, st in chosen], [w for w, _ in chosen])
    own_row = lex.row_of(paper_id)
    if own_row is not None:
        scores[own_row] = 0.0
    cand = np.flatnonzero(scores > 0)
    order = cand[np.argsort(-scores[cand], kind="stable")][: k * 3 + 10]
    top = float(scores[order[0]]) if len(order) else 1.0
    for r in order:
        th = int(lex.title_hashes[r])
        if th in seen:
            continue
        seen.add(th)
        shared = tuple(
            st for _, st in chosen if lex.has_term(np.asarray([r]), st)[0] and not is_stop_word(st)
        )
        hits.append(
            Hit(
                int(lex.paper_ids[r]),
                round(float(scores[r]) / top, 6),
                round(float(scores[r]), 4),
                None,
                shared[:10],
            )
        )
        if len(hits) >= k:
            break
    return hits
