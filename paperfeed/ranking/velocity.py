"""Upvote velocity: how fast a paper gains Hugging Face upvotes, from the readings the followed
sources keep (store.upvote_history / store.upvote_gains). Pure functions; trending and "rising"
lists rank by it, totals alone favour papers that were popular once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Rising:
    """A paper with the upvotes it gained per day over the window."""

    paper_id: int
    per_day: float
    gained: int


def velocity(readings: Sequence[tuple[datetime, int]], now: datetime, window_hours: float = 24.0) -> float:
    """Upvotes per day gained in the last `window_hours`, from (time, upvotes) readings, oldest first.

    The reading just before the window is the baseline (a paper read only inside the window counts
    from its first reading), so a paper whose upvotes did not move has velocity 0.
    """
    if not readings or window_hours <= 0:
        return 0.0
    start = now.timestamp() - window_hours * 3600.0
    before = [u for t, u in readings if t.timestamp() <= start]
    inside = [u for t, u in readings if start < t.timestamp() <= now.timestamp()]
    if not inside:
        return 0.0
    base = before[-1] if before else inside[0]
    return max(0, inside[-1] - base) * 24.0 / window_hours


def rank_rising(gains: Mapping[int, int], window_hours: float, limit: int | None = None,
                candidates: Iterable[int] | None = None) -> list[Rising]:
    """Papers by upvotes gained per day over the window (store.upvote_gains), fastest first."""
    allowed = set(candidates) if candidates is not None else None
    out = [
        Rising(pid, gained * 24.0 / window_hours, gained)
        for pid, gained in gains.items()
        if gained > 0 and (allowed is None or pid in allowed)
    ]
    out.sort(key=lambda r: (-r.per_day, -r.paper_id))
    return out[:limit] if limit is not None else out
