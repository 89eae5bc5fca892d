"""What pages, API and feeds share on the web side: listings, trending and search pages (cached
cards).

Use cases (listings and trending, submit, vote, collect, look up a paper, paper as data) live in
paperfeed.delivery.app; this module adds the web's caching and cards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import Paper
from paperfeed.delivery.app import listing as lists
from paperfeed.delivery.app.listing import PERIODS
from paperfeed.delivery.app.papers import paper_data
from paperfeed.delivery.web.state import WebState
from paperfeed.ranking.days import staleness_notice
from paperfeed.ranking.trending import Ranked, TrendingParams, total_upvotes

MAX_PAGE_SIZE = 100


@dataclass
class Card:
    """A paper as a list shows it."""

    paper: Paper
    upvotes: int
    voted: bool = False
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Listing:
    """One page of a day/week/month listing."""

    period: str
    day: date | None
    since: date | None
    until: date | None
    prev_day: date | None
    next_day: date | None
    total: int
    page: int
    page_size: int
    cards: list[Card]
    category: str | None = None
    # e.g. today has no papers yet, so the latest day with papers is shown
    notice: str | None = None

    @property
    def pages(self) -> int:
        """How many pages the listing has."""
        return max(1, -(-self.total // self.page_size))


def parse_day(raw: str | None, what: str = "day") -> date | None:
    """A YYYY-MM-DD day or None; BadRequest naming the parameter otherwise."""
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{what}: {raw!r} is not a date (expected YYYY-MM-DD)") from None


def trending_params(state: WebState) -> TrendingParams:
    """The formula's parameters from settings (the use case's, shown on /about and in the API)."""
    return lists.trending_params(state.settings)


def paper_days(state: WebState) -> list[date]:
    """Days with papers, newest first (cached)."""
    days: list[date] = state.cached(
        ("days",), lambda: state.store.papers.paper_days(limit=lists.DAYS_LOOKED_AT)
    )
    return days


def _neighbours(
    days: list[date], since: date, until: date, period: str
) -> tuple[date | None, date | None]:
    """The day to show for 'previous' and 'next' (days are newest first)."""
    older = [d for d in days if d < since]
    newer = [d for d in days if d > until]
    if period == "day":
        return (older[0] if older else None), (newer[-1] if newer else None)
    span = timedelta(days=PERIODS[period])
    prev_day = until - span if older and until.toordinal() > 2 * PERIODS[period] else None
    next_day = min(until + span, days[0]) if newer else None
    return prev_day, next_day


def listing(
    state: WebState, day: date | None, period: str = "day", category: str | None = None,
    page: int = 1, page_size: int | None = None, user_id: int | None = None,
) -> Listing:
    """Papers of a day, week or month (ending at `day`, default the newest day), most upvoted
    first."""
    size = min(MAX_PAGE_SIZE, max(1, page_size or state.settings.web_page_size))
    page = max(1, page)
    days = paper_days(state)
    span = lists.listing_span(day, period, datetime.now(UTC).date(), days)
    if span is None:
        return Listing(period, None, None, None, None, None, 0, page, size, [], category)
    since, until = span.since, span.until
    ordered = state.cached(
        ("order", since, until, category), lambda: lists.most_upvoted(state.store, span, category)
    )
    prev_day, next_day = _neighbours(days, since, until, period)
    chosen = ordered[(page - 1) * size : page * size]
    cards = make_cards(
        state, [v.paper_id for v in chosen], {v.paper_id: total_upvotes(v) for v in chosen}, user_id
    )
    return Listing(
        period,
        until,
        since,
        until,
        prev_day,
        next_day,
        len(ordered),
        page,
        size,
        cards,
        category,
        span.notice,
    )


def make_cards(
    state: WebState,
    ids: Sequence[int],
    upvotes: dict[int, int] | None = None,
    user_id: int | None = None,
) -> list[Card]:
    """Cards for papers in the given order, with upvote counts and the viewer's own votes."""
    found = state.store.papers.get_papers(ids)
    if upvotes is None:
        counts = state.store.votes.vote_counts(ids)
        upvotes = {
            i: counts.get(i, 0) + (found[i].external_upvotes or 0) for i in ids if i in found
        }
    voted = state.store.votes.voted_by(user_id, ids) if user_id is not None else set()
    comments = state.store.comments.comment_counts(ids)
    submitters = state.store.authors.submitters(ids)
    return [Card(found[i], upvotes.get(i, 0), i in voted,
                 extra={"comments": comments.get(i, 0), "submitted_by": submitters.get(i)})
            for i in ids if i in found]


def trending(
    state: WebState,
    limit: int = 30,
    offset: int = 0,
    category: str | None = None,
    user_id: int | None = None,
) -> list[Card]:
    """The trending papers (cached ranking), best first."""

    def compute() -> list[Ranked]:
        days = paper_days(state)
        return lists.trending(
            state.store, state.settings, datetime.now(UTC), days[0] if days else None, category
        )

    ranked: list[Ranked] = state.cached(("trending", category), compute)
    chosen = ranked[offset : offset + limit]
    cards = make_cards(
        state, [r.paper_id for r in chosen], {r.paper_id: r.upvotes for r in chosen}, user_id
    )
    scores = {r.paper_id: r.score for r in chosen}
    for c in cards:
        c.score = scores.get(c.paper.id or 0)
    return cards


def trending_notice(state: WebState) -> str | None:
    """Says that trending is ranked as of the newest papers when the instance has no recent ones."""
    days = paper_days(state)
    return staleness_notice(datetime.now(UTC).date(), days[0] if days else None)


# ----- search -------------------------------------------------------------------------------------


@dataclass
class SearchPage:
    """One page of search results."""

    query: str
    cards: list[Card]
    total: int
    notice: str | None
    page: int
    page_size: int
    hits: dict[int, Any] = field(default_factory=dict)
    # papers holding every query word / only some of them (None: no words to count)
    all_words: int | None = None
    some_words: int | None = None

    @property
    def pages(self) -> int:
        """How many pages the results have."""
        return max(1, -(-self.total // self.page_size))


def search(
    state: WebState,
    query: str,
    *,
    page: int = 1,
    page_size: int | None = None,
    sort: str = "relevance",
    since: date | None = None,
    until: date | None = None,
    category: str | None = None,
    author: str | None = None,
    mode: str = "hybrid",
    user_id: int | None = None,
) -> SearchPage:
    """Run a search through ranking.search; an empty query lists nothing."""
    size = min(MAX_PAGE_SIZE, max(1, page_size or state.settings.web_page_size))
    page = max(1, page)
    if sort not in ("relevance", "date"):
        raise BadRequest(f"sort: {sort!r} is not one of relevance, date")
    if mode not in ("hybrid", "lexical", "semantic"):
        raise BadRequest(f"mode: {mode!r} is not one of hybrid, lexical, semantic")
    if len(query) > 500:
        raise BadRequest("q: at most 500 characters")
    if not query.strip() and not (category or author):
        return SearchPage(query, [], 0, None, page, size)
    index = state.search.get()
    if index is None:
        return SearchPage(
            query, [], 0, f"search is unavailable: {state.search.error or 'no index'}", page, size
        )
    from paperfeed.ranking.search import search_papers

    result = search_papers(
        index, query, k=size, offset=(page - 1) * size, sort=sort, since=since, until=until,
        category=category, author=author, mode=mode,
    )
    ids = [h.paper_id for h in result.hits]
    cards = make_cards(state, ids, None, user_id)
    hits = {h.paper_id: h for h in result.hits}
    for c in cards:
        c.score = getattr(hits.get(c.paper.id or 0), "score", None)
    return SearchPage(query, cards, int(result.total), result.notice, page, size, hits,
                      result.all_words, result.some_words)


def similar(state: WebState, paper_id: int, k: int = 10, user_id: int | None = None) -> list[Card]:
    """Papers like this one (empty without a search index)."""
    index = state.search.get()
    if index is None:
        return []
    from paperfeed.ranking.search import similar_papers

    def compute() -> list[int]:
        try:
            return [
                h.paper_id for h in similar_papers(index, paper_id, k=k) if h.paper_id != paper_id
            ]
        except NotFound:
            return []

    ids: list[int] = state.cached(("similar", paper_id, k), compute)
    return make_cards(state, ids, None, user_id)


# ----- lists as data
# -------------------------------------------------------------------------------


def card_json(c: Card) -> dict[str, Any]:
    """A list entry: the paper as data (paper_data) with its abstract, plus the score."""
    out = paper_data(c.paper, c.upvotes, full=False)
    out["abstract"] = c.paper.abstract
    out["comments"] = c.extra.get("comments", 0)
    if c.score is not None:
        out["score"] = round(c.score, 6)
    return out


def reader_search_status(index: dict[str, Any]) -> dict[str, Any]:
    """What a reader needs to know of the search index: by words, by meaning, and how much of it."""
    if not index.get("available", True) or "papers_indexed" not in index:
        return {"words": False, "meaning": False, "embedded": 0, "papers": 0}
    return {
        "words": True,
        "meaning": bool(index.get("semantic_available"))
        and int(index.get("papers_with_vectors") or 0) > 0,
        "embedded": int(index.get("papers_with_vectors") or 0),
        "papers": int(index.get("papers_indexed") or 0),
    }


def followed_sources(state: WebState) -> list[dict[str, Any]]:
    """The followed sources, by name and kind, with their last success (nothing internal)."""
    from paperfeed.delivery.app.sources import sources_health

    keep = ("name", "kind", "last_success_at", "stale", "failing")
    return [
        {k: h.as_dict()[k] for k in keep} for h in sources_health(state.store, state.ctx.settings)
    ]
