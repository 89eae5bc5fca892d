"""Which day a daily page opens on, and how stale the newest data is: pure functions.

The web pages, the API and the CLI all call `landing_day`, so "today has no papers yet" reads the
same everywhere: the page opens on the latest day that has papers and says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Landing:
    """The day to show and, when it is not the day asked for, a notice saying why."""

    day: date | None
    notice: str | None = None


def format_day(day: date) -> str:
    """A day as people read it: 27 Feb 2026."""
    return f"{day.day} {day:%b %Y}"


def landing_day(requested: date | None, today: date, days: Sequence[date]) -> Landing:
    """The day a daily listing shows: the one requested, else today, else the latest day with
    papers.

    `days` are the days that have papers, newest first. With no papers at all there is no day.
    """
    if requested is not None:
        return Landing(requested)
    if not days:
        return Landing(None)
    if today in days:
        return Landing(today)
    latest = next((d for d in days if d <= today), days[0])
    return Landing(
        latest,
        f"No papers for today ({format_day(today)}) yet: showing {format_day(latest)}, "
        "the latest day with papers.",
    )


def staleness_notice(today: date, newest_day: date | None) -> str | None:
    """A line saying ranking runs as of the newest data, when the newest papers are older than
    today."""
    if newest_day is None or newest_day >= today:
        return None
    return (
        f"Ranked as of the newest data (newest papers: {format_day(newest_day)}): this instance "
        "has "
        "not ingested newer papers."
    )
