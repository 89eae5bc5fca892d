"""Listings and trending, written once: a day's (week's, month's) papers most upvoted first, and
trending.

The web pages, the API, the feeds, the CLI and the digests call these; each adapter only adds its
own caching and rendering, so "most upvoted" and "trending" mean the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from paperfeed.core.errors import BadRequest
from paperfeed.core.settings import Settings
from paperfeed.ranking.days import landing_day
from paperfeed.ranking.trending import (
    Ranked,
    TrendingParams,
    order_by_votes,
    rank_trending,
    reference_time,
    window_start,
)
from paperfeed.store import Store
from paperfeed.store.community import PaperVotes

PERIODS = {"day": 1, "week": 7, "month": 30}
DAYS_LOOKED_AT = 5000  # days with papers read to find the landing day and the neighbours


@dataclass(frozen=True)
class Span:
    """The days a listing covers: [since, until], and a notice when `until` is not the day asked
    for."""

    period: str
    since: date
    until: date
    notice: str | None = None


def listing_span(
    requested: date | None, period: str, today: date, days: Sequence[date]
) -> Span | None:
    """The days a day/week/month listing covers (ending at `requested`, default the landing day);
    None: no papers.

    `days` are the days that have papers, newest first. BadRequest names a bad period or day.
    """
    if period not in PERIODS:
        raise BadRequest(f"period: {period!r} is not one of day, week, month")
    landing = landing_day(requested, today, days)
    if landing.day is None:
        return None
    until = landing.day
    if until.toordinal() < PERIODS[period]:
        raise BadRequest(f"day: {until.isoformat()} is too early for a {period} listing "
                         f"(the {period} would start before year 1)")
    return Span(period, until - timedelta(days=PERIODS[period] - 1), until, landing.notice)


def most_upvoted(store: Store, span: Span, category: str | None = None) -> list[PaperVotes]:
    """The span's papers, most upvoted first (community votes plus Hugging Face upvotes, as cards
    count them)."""
    return order_by_votes(
        store.votes.paper_votes(since=span.since, until=span.until, category=category)
    )


def trending_params(settings: Settings) -> TrendingParams:
    """The trending formula's parameters from settings (trending_gravity, trending_offset_hours,
    ...)."""
    s = settings
    return TrendingParams(
        s.trending_gravity,
        s.trending_offset_hours,
        s.trending_external_weight,
        s.trending_window_days,
    )


def trending(store: Store, settings: Settings, now: datetime, newest_day: date | None,
             category: str | None = None, limit: int | None = 1000) -> list[Ranked]:
    """The trending papers of the window before the reference time (now, or the end of the newest
    day), best first."""
    params = trending_params(settings)
    ref = reference_time(now, newest_day)
    rows = store.votes.paper_votes(since=window_start(ref, params), category=category)
    return rank_trending(rows, ref, params, limit=limit)
