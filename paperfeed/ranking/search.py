"""Search and similar papers: the one query evaluator used by the CLI, the web pages, the API,
feeds and digests (a saved search in a digest is `search_papers` restricted to the window's papers).

Search never writes: it re-reads the index's pointer file (bounded staleness), nothing more.

A query is parsed (paperfeed.ranking.query), filters become a row mask over the lexical index,
BM25 scores every row, the semantic run scores its nearest neighbours, and the two are fused
(convex combination of min-max normalised scores by default, or reciprocal rank fusion).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import Paper
from paperfeed.index.lexical import LexicalIndex
from paperfeed.index.segment import idf_of, title_hash
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.text import analyse, document_terms, is_stop_word, words
from paperfeed.ranking import fusion
from paperfeed.ranking.categories import resolve_category
from paperfeed.ranking.query import ParsedQuery, parse_query

SORTS = ("relevance", "date")
MODES = ("hybrid", "lexical", "semantic")
FUSIONS = ("convex", "rrf")
DEFAULT_FUSION = "convex"  # beat RRF on SciFact train; see BENCHMARKS.md section 2.2
LEXICAL_POOL = 1000  # lexical candidates fused with the semantic ones
SEMANTIC_MATCHES = 100  # nearest neighbours the semantic run contributes as matches
PHRASE_CHECK_MAX = 2000  # candidates whose text is checked for an exact phrase
SIMILAR_TERMS = 30  # distinctive terms of a paper used for lexical "similar"
MAX_K = 1000
# Queries of up to this many distinct terms (keyword queries) rank the papers holding all of them
# first; longer ones (a question, a claim, a pasted abstract) are ranked by BM25 alone, where
# requiring every word would bury the best matches (SciFact: BENCHMARKS.md section 12).
ALL_FIRST_MAX_TERMS = 4

RowArray = npt.NDArray[np.int64]


class Searchable(Protocol):
    """What the query evaluator reads from an index (paperfeed.index.SearchIndex is one); it never writes."""

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


def _choice(name: str, value: str, valid: Sequence[str]) -> None:
    if value not in valid:
        raise BadRequest(f"unknown {name} {value!r}; valid: {', '.join(valid)}")


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


Mask = npt.NDArray[np.bool_] | None  # None: every alive row passes


def _and(mask: Mask, other: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    return other if mask is None else mask & other


def _mask(index: Searchable, pq: ParsedQuery, since: date | None, until: date | None,
          category: str | None, author: str | None, notices: list[str]) -> tuple[Mask, ParsedQuery]:
    lex = index.lexical
    s = max([d for d in (since, pq.since) if d], default=None)
    u = min([d for d in (until, pq.until) if d], default=None)
    mask: Mask = lex.day_mask(s, u) if s or u else None
    if category:
        codes = resolve_category(category, lex.category_codes())
        if not codes:
            raise BadRequest(f"unknown category {category!r} (use an arXiv code such as cs.CL, or an archive such as cs)")
        mask = _and(mask, _rows_mask(lex, lex.rows_in_categories(codes)))
    extra_words: list[str] = []
    for value in pq.categories:
        codes = resolve_category(value, lex.category_codes())
        if not codes:
            notices.append(f"unknown category cat:{value}: searched {value!r} as words")
            extra_words.append(value)
            continue
        mask = _and(mask, _rows_mask(lex, lex.rows_in_categories(codes)))
    for name in [*([author] if author else []), *pq.authors]:
        if not words(name):
            notices.append(f"author:{name} has no name words: ignored")
            continue
        mask = _and(mask, _rows_mask(lex, lex.rows_with_author(name)))
    for word in pq.excluded:
        stems = analyse(word)
        if not stems:
            continue
        hit = _rows_mask(lex, lex.rows_with_term(stems[0]))
        for st in stems[1:]:
            hit &= _rows_mask(lex, lex.rows_with_term(st))
        mask = _and(mask, ~hit)
    for phrase in pq.phrases:
        for st in analyse(phrase):  # every word of a phrase must be there
            mask = _and(mask, _rows_mask(lex, lex.rows_with_term(st)))
    if extra_words:
        pq = ParsedQuery(**{**pq.__dict__, "words": (*pq.words, *extra_words)})
    if mask is not None and len(lex.dead):
        mask[lex.dead] = False
    return mask, pq


def _rows_mask(lex: LexicalIndex, rows: RowArray) -> npt.NDArray[np.bool_]:
    m = np.zeros(lex.n_rows, dtype=bool)
    m[rows] = True
    return m


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


def _check_phrases(index: Searchable, rows: RowArray, pq: ParsedQuery, need: int) -> tuple[RowArray, int]:
    """Keep rows whose text holds every phrase (checked in ranked order); the total, estimated past the cap."""
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

    `within` restricts the search to these paper ids (a digest's window), everything else equal.
    """
    _choice("sort", sort, SORTS)
    _choice("mode", mode, MODES)
    _choice("fusion", fusion_method, FUSIONS)
    if not 1 <= k <= MAX_K:
        raise BadRequest(f"k must be between 1 and {MAX_K}, got {k}")
    if offset < 0:
        raise BadRequest(f"offset must be 0 or more, got {offset}")
    if since and until and since > until:
        raise BadRequest(f"since {since} is after until {until}")
    index.reload_if_changed()
    lex = index.lexical
    pq = parse_query(query)
    notices = list(pq.notices)
    if lex.n_rows == 0:
        return SearchResult([], 0, _notice(notices), query, mode)
    mask, pq = _mask(index, pq, since, until, category, author, notices)
    if within is not None:
        ids = within if isinstance(within, np.ndarray) else np.fromiter(within, dtype=np.int64)
        mask = _and(mask, _rows_mask(lex, lex.rows_of_ids(ids)))
    terms = _query_terms(pq)
    need = offset + k
    sem_ids: list[tuple[int, float]] = []
    qvec = None
    text = pq.positive_text
    if mode != "lexical" and text:
        qvec = index.query_vector(text)
        if qvec is None and mode == "semantic":
            notices.append("semantic search is not available (no vectors yet or the semantic extra is "
                           "missing): showing lexical results")
    effective = mode if qvec is not None else "lexical"
    if qvec is not None:
        # without filters, let the vector index search everything: dead rows are dropped below
        allowed = None if mask is None else lex.paper_ids[mask]
        sem_ids = index.semantic.search(qvec, max(SEMANTIC_MATCHES, need), allowed)
    if not terms.stems and qvec is None:
        # filters only (or nothing searchable): every paper passing them, newest first
        rows = np.flatnonzero(lex.alive if mask is None else mask)
        if pq.phrases and not terms.stems:
            rows = rows[:0]
        order = rows[np.lexsort((-lex.paper_ids[rows], -lex.days[rows].astype(np.int64)))]
        page = order[offset : offset + k]
        hits = [Hit(int(lex.paper_ids[r]), 0.0, None, None, ()) for r in page]
        return SearchResult(hits, len(rows), _notice(notices), query, effective)
    n_terms = len(set(terms.stems))
    all_first = effective != "semantic" and 0 < n_terms <= ALL_FIRST_MAX_TERMS
    # the pool ranked precisely: the best lexical rows (those with every word first for a keyword
    # query) plus every semantic match; a lexical-only page needs only its own rows (a phrase
    # check walks further down the ranking)
    exact = effective == "lexical" and sort == "relevance" and not (pq.phrases or pq.excluded_phrases)
    pool_size = need if exact else max(LEXICAL_POOL, need)
    m = lex.match(terms.stems, mask=mask, top=pool_size if sort == "relevance" else 0, all_first=all_first)
    lex_scores, counts = m.scores, m.counts
    n_lex = m.total()
    all_words = m.total_full() if n_terms else None
    some_words = n_lex - all_words if all_words is not None else None
    sem_rows_map = lex.rows_of(pid for pid, _ in sem_ids)
    sem_rows = np.asarray([sem_rows_map[pid] for pid, _ in sem_ids if pid in sem_rows_map], dtype=np.int64)
    if mask is not None:
        sem_rows = sem_rows[mask[sem_rows]]
    if effective == "semantic":
        total = len(sem_rows)
    elif effective == "hybrid":
        total = n_lex + int((counts[sem_rows] == 0).sum())
    else:
        total = n_lex
    if exact and m.top is not None:
        # a lexical page: ranked by the match already, nothing to fuse
        page = m.top[offset : offset + k]
        lxs = lex_scores[page].tolist()
        ids = lex.paper_ids[page].tolist()
        hits = [Hit(ids[n], round(lxs[n], 6), round(lxs[n], 4), None, mt)
                for n, mt in enumerate(_matched_terms(lex, page, terms))]
        return SearchResult(hits, total, _notice(notices), query, effective, all_words, some_words)
    top = m.top if m.top is not None else m.rows()
    if effective == "semantic":
        pool = sem_rows
    elif effective == "hybrid":
        pool = np.unique(np.concatenate([top, sem_rows]))  # both small: cheaper than union1d on all matches
    else:
        pool = np.sort(top)
    lex_pool = lex_scores[pool].astype(np.float64)
    if qvec is not None:
        sem_pool = index.semantic.scores_for(lex.paper_ids[pool], qvec)
    else:
        sem_pool = np.full(len(pool), np.nan)
    if effective == "lexical":
        fused = lex_pool
    elif effective == "semantic":
        fused = np.nan_to_num(sem_pool, nan=-1.0)
    elif fusion_method == "rrf":
        fused = fusion.rrf(np.where(lex_pool > 0, lex_pool, np.nan), sem_pool)
    else:
        fused = fusion.convex(lex_pool, sem_pool, alpha)
    if sort == "date":
        order = np.lexsort((-fused, -lex.days[pool].astype(np.int64)))
        # date order covers every match, not only the precisely ranked pool
        if total > len(pool):
            is_match = counts > 0
            if effective != "lexical":
                is_match[sem_rows] = True
            is_match[pool] = False
            rest = np.flatnonzero(is_match)
            rest_order = rest[np.lexsort((-lex_scores[rest], -lex.days[rest].astype(np.int64)))]
            pool_sorted = pool[order]
            merged = np.concatenate([pool_sorted, rest_order])
            keys = np.concatenate([lex.days[pool_sorted], lex.days[rest_order]]).astype(np.int64)
            ranked = merged[np.argsort(-keys, kind="stable")]
        else:
            ranked = pool[order]
    elif exact:
        ranked = top  # already ranked by the match
    elif all_first:
        ranked = pool[np.lexsort((-fused, counts[pool] != n_terms))]
    else:
        ranked = pool[np.argsort(-fused, kind="stable")]
    if pq.phrases or pq.excluded_phrases:
        ranked, total = _check_phrases(index, ranked, pq, need)
    page = ranked[offset : offset + k]
    # where each page row sits in the pool (sorted by np.unique, except in semantic mode), at once
    sorter = np.argsort(pool, kind="stable")
    j = np.minimum(np.searchsorted(pool, page, sorter=sorter), max(len(pool) - 1, 0))
    at = sorter[j] if len(pool) else np.zeros(len(page), dtype=np.int64)
    in_pool = (pool[at] == page).tolist() if len(pool) else [False] * len(page)
    lxs = lex_scores[page].tolist()
    sms = sem_pool[at].tolist() if len(pool) else [float("nan")] * len(page)
    fus = fused[at].tolist() if len(pool) else [0.0] * len(page)
    ids = lex.paper_ids[page].tolist()
    hits = []
    for n, mt in enumerate(_matched_terms(lex, page, terms)):
        lx = lxs[n] if lxs[n] > 0 else None
        sm = sms[n] if in_pool[n] and math.isfinite(sms[n]) else None
        score = fus[n] if in_pool[n] else (lx or 0.0)
        hits.append(Hit(ids[n], round(score, 6), None if lx is None else round(lx, 4),
                        None if sm is None else round(sm, 4), mt))
    return SearchResult(hits, total, _notice(notices), query, effective, all_words, some_words)


def _matched_terms(lex: LexicalIndex, rows: RowArray, terms: _Terms) -> list[tuple[str, ...]]:
    """The query words each row's text holds (every stem of the word), for a page of hits."""
    if not len(rows):
        return []
    stems = list(dict.fromkeys(st for sts in terms.surface.values() for st in sts))
    if not stems:
        return [() for _ in rows]
    pos = {st: i for i, st in enumerate(stems)}
    need = [(word, [pos[st] for st in sts]) for word, sts in terms.surface.items()]
    has = lex.has_terms(np.asarray(rows, dtype=np.int64), stems).tolist()
    return [tuple(w for w, cols in need if all(row[c] for c in cols)) for row in has]


def _notice(notices: list[str]) -> str | None:
    return "; ".join(notices) if notices else None


def similar_papers(index: Searchable, paper_id: int, k: int = 10) -> list[Hit]:
    """Papers like this one: nearest vectors, or distinctive shared words when it has no vector.

    Excludes the paper itself and papers with the same normalised title (its duplicates), and
    lists each title once.
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
        shared = tuple(st for _, st in chosen if lex.has_term(np.asarray([r]), st)[0] and not is_stop_word(st))
        hits.append(Hit(int(lex.paper_ids[r]), round(float(scores[r]) / top, 6), round(float(scores[r]), 4),
                        None, shared[:10]))
        if len(hits) >= k:
            break
    return hits
