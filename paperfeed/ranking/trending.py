"""Trending and vote ordering: pure functions shared by the web pages, the API, feeds and email.

The trending score is Hacker News's gravity formula over both upvote signals:

    points = community_votes + external_weight * hf_upvotes
    score  = points / (age_hours + offset_hours) ** gravity

`age_hours` runs from the start (00:00 UTC) of the paper's day to the reference time. The
reference time is now, or the end of the newest day that has papers when that is earlier, so an
instance whose feed stopped updating still ranks its last days sensibly instead of flattening
every score towards zero. A larger gravity makes old papers sink faster; the offset keeps a brand
new paper from dividing by (almost) zero. Ties (zero points, say) go to the fresher paper.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, TypeVar


class Votes(Protocol):
    """What ranking needs to know about a paper (store.community.PaperVotes has these fields)."""

    @property
    def paper_id(self) -> int: ...
    @property
    def day(self) -> date: ...
    @property
    def external_upvotes(self) -> int: ...
    @property
    def votes(self) -> int: ...


V = TypeVar("V", bound=Votes)


@dataclass(frozen=True)
class TrendingParams:
    """The formula's parameters (settings trending_gravity, trending_offset_hours, ...)."""

    gravity: float = 1.8
    offset_hours: float = 2.0
    external_weight: float = 1.0
    window_days: int = 14


@dataclass(frozen=True)
class Ranked:
    """A paper id with its trending score and the inputs that produced it."""

    paper_id: int
    score: float
    points: float
    age_hours: float
    upvotes: int


FORMULA = "score = (community votes + w × Hugging Face upvotes) / (age in hours + offset) ^ gravity"


def total_upvotes(item: Votes) -> int:
    """Community votes plus outside (Hugging Face) upvotes: the count shown on a card."""
    return item.votes + item.external_upvotes


def day_start(day: date) -> datetime:
    """00:00 UTC of a day."""
    return datetime.combine(day, time(0), tzinfo=UTC)


def reference_time(now: datetime, newest_day: date | None) -> datetime:
    """Now, or the end of the newest day with papers when the feed is older than now."""
    if newest_day is None:
        return now
    return min(now, day_start(newest_day) + timedelta(days=1))


def age_hours(day: date, ref: datetime) -> float:
    """Hours from the start of `day` to `ref`, never negative."""
    return max(0.0, (ref - day_start(day)).total_seconds() / 3600.0)


def trending_points(votes: int, external_upvotes: int, params: TrendingParams) -> float:
    """The formula's points: community votes plus the weighted outside (Hugging Face) upvotes."""
    return votes + params.external_weight * external_upvotes


def trending_score(points: float, hours: float, params: TrendingParams) -> float:
    """HN-style gravity: points / (hours + offset) ** gravity."""
    return float(points / (hours + params.offset_hours) ** params.gravity)


def rank_trending(
    items: Iterable[Votes],
    ref: datetime,
    params: TrendingParams = TrendingParams(),
    limit: int | None = None,
) -> list[Ranked]:
    """Score papers and sort them, best first; ties go to the fresher paper, then the newer id."""
    ranked = []
    for it in items:
        points = trending_points(it.votes, it.external_upvotes, params)
        hours = age_hours(it.day, ref)
        ranked.append(
            Ranked(
                it.paper_id, trending_score(points, hours, params), points, hours, total_upvotes(it)
            )
        )
    ranked.sort(key=lambda r: (-r.score, r.age_hours, -r.paper_id))
    return ranked[:limit] if limit is not None else ranked


def window_start(ref: datetime, params: TrendingParams) -> date:
    """The first day whose papers compete for trending."""
    return (ref - timedelta(days=params.window_days)).date()


def order_by_votes(items: Sequence[V]) -> list[V]:
    """Most upvoted first (community + outside), then the newest day, then the newest id."""
    return sorted(items, key=lambda it: (-total_upvotes(it), -it.day.toordinal(), -it.paper_id))
