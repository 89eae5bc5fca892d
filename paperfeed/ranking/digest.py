"""Digest selection: pure functions that pick each user's papers from the papers new in a window.

A `CandidatePool` is built once per run over every paper first seen since the oldest window of the
run; each user's digest then works on a mask of it (their own window, minus papers they were already
sent or upvoted). Sections draw from it in turn (round-robin, so no section starves the others) and
a paper appears in one section only. Every pick carries its reason.

Saved searches (and followed authors) are evaluated by the one query evaluator,
`paperfeed.ranking.search.search_papers`, restricted to the papers the user's window allows: the
same saved search picks the same papers in the email as /search does over the same papers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import BadRequest
from paperfeed.core.models import Paper, Subscription
from paperfeed.core.rules import DIGEST_SECTIONS
from paperfeed.index.text import analyse, term_counts, words
from paperfeed.ranking.categories import category_name, resolve_category
from paperfeed.ranking.search import MAX_K, Hit, Searchable, search_papers
from paperfeed.ranking.topics import Topic, growth_text, rising_in
from paperfeed.ranking.trending import TrendingParams, age_hours, trending_points, trending_score

BoolArray = npt.NDArray[np.bool_]


# ----- periods ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One digest period of one subscription: its key, when it is due, and its nominal length."""

    key: str  # "d:2026-03-05" or "w:2026-W10"
    due_at: datetime  # UTC
    length: timedelta

    def is_due(self, now: datetime) -> bool:
        """Whether the digest of this period should go out at `now`."""
        return now >= self.due_at


def zone(name: str) -> ZoneInfo:
    """The time zone, UTC when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def current_period(sub: Subscription, now: datetime, weekday: int = 0) -> Period:
    """The period `now` falls in for this subscription (in the user's time zone).

    Daily: the local day; due at send_hour local time. Weekly: the ISO week; due on `weekday`
    at send_hour. Before the due time of this period, the key is still this period's (not due).
    """
    tz = zone(sub.timezone)
    local = now.astimezone(tz)
    if sub.frequency == "weekly":
        monday = local.date() - timedelta(days=local.weekday())
        send_day = monday + timedelta(days=weekday)
        iso = monday.isocalendar()
        key = f"w:{iso.year}-W{iso.week:02d}"
        length = timedelta(days=7)
    else:
        send_day = local.date()
        key = f"d:{send_day.isoformat()}"
        length = timedelta(days=1)
    due_local = datetime.combine(send_day, time(sub.send_hour), tzinfo=tz)
    return Period(key, due_local.astimezone(UTC), length)


def digest_window(last_end: datetime | None, now: datetime, period: Period,
                  max_catchup_days: int) -> tuple[datetime, int]:
    """Where this digest's window starts and how many days of gap it catches up (0: none).

    The window starts where the previous digest's ended; a first digest covers one period. A
    previous window that ended more than 1.5 periods ago means digests were missed (server down):
    the digest catches up, at most `max_catchup_days`, and says so.
    """
    floor = now - timedelta(days=max_catchup_days)
    if last_end is None:
        return max(now - period.length, floor), 0
    start = max(last_end, floor)
    gap = now - last_end
    gap_days = int(gap.total_seconds() // 86400) if gap > period.length * 1.5 else 0
    return start, gap_days


# ----- the candidate pool -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """One paper chosen for a digest, the section it is in, and why."""

    paper_id: int
    section: str
    reason: str
    score: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """JSON form stored with the delivery."""
        return {"paper_id": self.paper_id, "section": self.section, "reason": self.reason}


@dataclass(frozen=True)
class SearchSpec:
    """A saved search as selection sees it."""

    name: str
    query: str
    category: str | None = None
    author: str | None = None


@dataclass
class Interests:
    """One user's explicit interests and what to leave out."""

    searches: Sequence[SearchSpec] = ()
    categories: Sequence[str] = ()
    authors: Sequence[str] = ()


class CandidatePool:
    """The papers new since the oldest window of a run, with the scores and terms selection needs.

    Matching a saved search or a followed author is not done here: that is `search_papers` over
    the search index, restricted to the pool rows a user's window allows.
    """

    def __init__(self, papers: Sequence[Paper], votes: Mapping[int, int], ref: datetime,
                 params: TrendingParams | None = None) -> None:
        params = params or TrendingParams()
        self.papers = list(papers)
        n = len(self.papers)
        self.ids = np.asarray([p.id or 0 for p in self.papers], dtype=np.int64)
        self.row_of = {int(pid): i for i, pid in enumerate(self.ids)}
        self.first_seen = np.asarray(
            [(p.first_seen_at or ref).timestamp() for p in self.papers], dtype=np.float64)
        self.days = [p.day or ref.date() for p in self.papers]
        # Undated papers (no known day) have no age: they never enter the trending section.
        self.dated = np.asarray([p.day is not None for p in self.papers], dtype=bool)
        self.points = np.asarray(
            [
                trending_points(votes.get(p.id or 0, 0), p.external_upvotes or 0, params)
                for p in self.papers
            ],
            dtype=np.float64,
        )
        self.upvotes = np.asarray(
            [votes.get(p.id or 0, 0) + (p.external_upvotes or 0) for p in self.papers]
        )
        self.trending = np.asarray(
            [
                trending_score(self.points[i], age_hours(self.days[i], ref), params)
                for i in range(n)
            ],
            dtype=np.float64,
        )
        self.df: dict[str, int] = {}
        self.surface: dict[str, str] = {}  # stem -> a word it came from (shown in reasons)
        self.terms: list[dict[str, int]] = []
        self.by_category: dict[str, list[int]] = {}
        seen_words: set[str] = set()
        for i, p in enumerate(self.papers):
            tf = term_counts(p.title, p.abstract, p.authors)
            self.terms.append(tf)
            for st in tf:
                self.df[st] = self.df.get(st, 0) + 1
            for w in words(f"{p.title} {p.abstract}"):
                if w not in seen_words:
                    seen_words.add(w)
                    for st in analyse(w):
                        self.surface.setdefault(st, w)
            for code in p.categories:
                self.by_category.setdefault(code, []).append(i)
        self.category_codes = frozenset(self.by_category)
        # term ids over the pool's vocabulary, for the "your topics" reasons
        self.vocab = {st: i for i, st in enumerate(self.df)}
        self.vocab_words = [self.surface.get(st, st) for st in self.df]
        self.idf_arr = np.asarray([self.idf(st) for st in self.df], dtype=np.float64)
        self.row_terms = [np.fromiter((self.vocab[st] for st in tf), dtype=np.int64, count=len(tf))
                          for tf in self.terms]

    def __len__(self) -> int:
        return len(self.papers)

    def idf(self, stem: str) -> float:
        """BM25 idf of a stem over the pool."""
        df = self.df.get(stem, 0)
        n = len(self.papers)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def window_mask(self, start: datetime | None, end: datetime,
                    exclude: set[int] | frozenset[int] = frozenset()) -> BoolArray:
        """Papers first seen in (start, end] and not excluded."""
        mask = self.first_seen <= end.timestamp()
        if start is not None:
            mask &= self.first_seen > start.timestamp()
        for pid in exclude:
            row = self.row_of.get(pid)
            if row is not None:
                mask[row] = False
        return mask

    def category_rows(self, value: str) -> BoolArray:
        """Rows in a category, an archive ('cs') or a category named by its name."""
        mask = np.zeros(len(self.papers), dtype=bool)
        for code in resolve_category(value, self.category_codes):
            mask[self.by_category.get(code, [])] = True
        return mask

    def sparse_terms(
        self, tf: Mapping[str, int]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """A paper's length-normalised term counts as (pool term ids, values), pool vocabulary
        only."""
        total = float(sum(tf.values())) or 1.0
        pairs = [(self.vocab[st], c / total) for st, c in tf.items() if st in self.vocab]
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        idx, val = zip(*pairs, strict=True)
        return np.asarray(idx, dtype=np.int64), np.asarray(val, dtype=np.float64)

    def profile(
        self, sparse: Sequence[tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]
    ) -> npt.NDArray[np.float64]:
        """A user's term profile over the pool vocabulary: the sum of their examples' sparse
        terms."""
        out = np.zeros(len(self.vocab), dtype=np.float64)
        for idx, val in sparse:
            out[idx] += val  # ids are unique within one paper
        return out

    def top_terms(self, row: int, profile: npt.NDArray[np.float64], k: int = 3) -> tuple[str, ...]:
        """The paper's words that weigh most in a user's term profile (shown as a reason)."""
        idx = self.row_terms[row]
        if not len(idx) or not len(profile):
            return ()
        scores = profile[idx] * self.idf_arr[idx]
        best = np.argsort(-scores, kind="stable")[:k]
        return tuple(self.vocab_words[int(idx[b])] for b in best if scores[b] > 0)


# ----- selection ----------------------------------------------------------------------------------


def _saved_search_hits(index: Searchable, query: str, within: npt.NDArray[np.int64], limit: int,
                       category: str | None = None, author: str | None = None) -> list[Hit]:
    """The one query evaluator (as /search runs it) restricted to the window's papers."""
    try:
        return search_papers(index, query, k=min(limit, MAX_K), category=category, author=author,
                             within=within).hits
    except BadRequest:  # e.g. a category this index has never seen: nothing matches
        return []


def _ranked_searches(
    index: Searchable, within: npt.NDArray[np.int64], searches: Sequence[SearchSpec], limit: int
) -> list[Pick]:
    # interleave the searches so each gets a turn
    per: list[list[Pick]] = []
    for spec in searches:
        found = []
        for h in _saved_search_hits(index, spec.query, within, limit, spec.category, spec.author):
            terms = f" ({', '.join(h.matched_terms)})" if h.matched_terms else ""
            found.append(
                Pick(
                    h.paper_id,
                    "searches",
                    f"matches your saved search “{spec.name}”{terms}",
                    h.score,
                )
            )
        per.append(found)
    return _interleave(per)


def _ranked_categories(
    pool: CandidatePool, categories: Sequence[str], allowed: BoolArray, limit: int
) -> list[Pick]:
    per: list[list[Pick]] = []
    for cat in categories:
        rows = np.flatnonzero(pool.category_rows(cat) & allowed)
        rows = rows[np.lexsort((-pool.ids[rows], -pool.trending[rows]))][:limit]
        name = category_name(cat)
        label = f"{cat} ({name})" if name else cat
        per.append(
            [
                Pick(
                    int(pool.ids[r]),
                    "categories",
                    f"new in {label}, which you follow",
                    float(pool.trending[r]),
                )
                for r in rows
            ]
        )
    return _interleave(per)


def _ranked_authors(index: Searchable, within: npt.NDArray[np.int64], authors: Sequence[str],
                    limit: int) -> list[Pick]:
    per: list[list[Pick]] = []
    for name in authors:
        hits = _saved_search_hits(index, "", within, limit, author=name)
        per.append(
            [Pick(h.paper_id, "authors", f"new paper by {name}, whom you follow") for h in hits]
        )
    return _interleave(per)


def _ranked_trending(pool: CandidatePool, allowed: BoolArray, limit: int) -> list[Pick]:
    rows = np.flatnonzero(allowed & (pool.points > 0) & pool.dated)
    if len(rows) > limit:
        rows = rows[np.argpartition(-pool.trending[rows], limit - 1)[:limit]]
    rows = rows[np.lexsort((-pool.ids[rows], -pool.trending[rows]))]
    out = []
    for r in rows:
        n = int(pool.upvotes[r])
        out.append(
            Pick(
                int(pool.ids[r]),
                "trending",
                f"trending: {n} upvote{'s' if n != 1 else ''}",
                float(pool.trending[r]),
            )
        )
    return out


def _ranked_rising(
    pool: CandidatePool,
    topics: Sequence[Topic],
    categories: Sequence[str],
    allowed: BoolArray,
    limit: int,
    min_share: float,
) -> list[Pick]:
    """New papers of growing topics whose papers are mostly in a followed category, per topic by
    trending."""
    per: list[list[Pick]] = []
    for topic, code in rising_in(topics, categories, min_share):
        rows = np.asarray([r for r in (pool.row_of.get(pid, -1) for pid in topic.paper_ids)
                           if r >= 0 and allowed[r]], dtype=np.int64)
        rows = rows[np.lexsort((-pool.ids[rows], -pool.trending[rows]))][:limit]
        reason = (f"rising topic “{topic.name}” ({growth_text(topic)}), "
                  f"in {code}, which you follow")
        per.append([Pick(int(pool.ids[r]), "rising", reason, topic.growth) for r in rows])
    return _interleave(per)


def _interleave(lists: Sequence[Sequence[Pick]]) -> list[Pick]:
    out: list[Pick] = []
    seen: set[int] = set()
    longest = max((len(x) for x in lists), default=0)
    for i in range(longest):
        for lst in lists:
            if i < len(lst) and lst[i].paper_id not in seen:
                seen.add(lst[i].paper_id)
                out.append(lst[i])
    return out


def select_digest(
    pool: CandidatePool,
    interests: Interests,
    allowed: BoolArray,
    sections: Sequence[str],
    max_papers: int,
    recommended: Sequence[Pick] = (),
    index: Searchable | None = None,
    rising: Sequence[Topic] = (),
    rising_share: float = 0.2,
) -> list[Pick]:
    """Choose up to max_papers picks: sections take turns, a paper appears once, order by section.

    Saved searches and followed authors need the search index (they are searches); without one those
    sections stay empty. "rising" takes the new papers of growing topics (`rising`, from
    topics.json) in the followed categories.
    """
    enabled = [s for s in DIGEST_SECTIONS if s in sections]
    ranked: dict[str, list[Pick]] = {}
    within = pool.ids[allowed]
    if index is not None and len(within):
        if "searches" in enabled and interests.searches:
            ranked["searches"] = _ranked_searches(index, within, interests.searches, max_papers)
        if "authors" in enabled and interests.authors:
            ranked["authors"] = _ranked_authors(index, within, interests.authors, max_papers)
    if "categories" in enabled and interests.categories:
        ranked["categories"] = _ranked_categories(pool, interests.categories, allowed, max_papers)
    if "recommended" in enabled and recommended:
        ranked["recommended"] = list(recommended)
    if "rising" in enabled and rising and interests.categories:
        ranked["rising"] = _ranked_rising(
            pool, rising, interests.categories, allowed, max_papers, rising_share
        )
    if "trending" in enabled:
        ranked["trending"] = _ranked_trending(pool, allowed, max_papers)
    chosen: dict[str, list[Pick]] = {s: [] for s in enabled}
    taken: set[int] = set()
    cursors = {s: 0 for s in ranked}
    total = 0
    while total < max_papers:
        progressed = False
        for s in enabled:
            lst = ranked.get(s)
            if not lst:
                continue
            i = cursors[s]
            while i < len(lst) and lst[i].paper_id in taken:
                i += 1
            if i < len(lst):
                chosen[s].append(lst[i])
                taken.add(lst[i].paper_id)
                total += 1
                progressed = True
                i += 1
            cursors[s] = i
            if total >= max_papers:
                break
        if not progressed:
            break
    return [p for s in enabled for p in chosen[s]]


def period_label(key: str) -> str:
    """A human label for a period key: 'Thursday 5 March 2026' or 'week 10 of 2026'."""
    kind, _, value = key.partition(":")
    if kind == "d":
        d = date.fromisoformat(value)
        return f"{d:%A} {d.day} {d:%B %Y}"
    year, _, week = value.partition("-W")
    return f"week {int(week)} of {year}"
