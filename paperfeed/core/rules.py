"""Rules and constants shared by every layer: digest sections, subscription checks, leases."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperfeed.core.errors import BadRequest

# The digest sections, in the order they take turns in (and are shown in). The one list: the
# store validates against it, selection ranks by it, pages and emails title by it.
DIGEST_SECTIONS: tuple[str, ...] = (
    "alerts",
    "discussion",
    "searches",
    "authors",
    "categories",
    "recommended",
    "rising",
    "trending",
)
SECTION_TITLES = {
    "alerts": "Alerts: new versions, code and journal references of your papers",
    "discussion": "Discussion: replies to you and comments on your papers",
    "searches": "Your saved searches",
    "authors": "Authors you follow",
    "categories": "Categories you follow",
    "recommended": "Recommended for you",
    "rising": "Rising in your categories",
    "trending": "Trending",
}
FREQUENCIES = ("daily", "weekly")
# What a user may set on a subscription (delivery.app.subscriptions.save_subscription checks them).
SUBSCRIPTION_FIELDS = (
    "frequency",
    "send_hour",
    "weekday",
    "timezone",
    "max_papers",
    "sections",
    "active",
)
MAX_DIGEST_PAPERS = 200
MAX_SAVED_SEARCHES = 50
MAX_FOLLOWS = 200


INGEST_LEASE = "ingest"  # one scheduled ingest at a time, across workers and machines


def ingest_lease_seconds(ingest_minutes: float) -> float:
    """How long the ingest lease is held: far longer than a slow ingest; a crashed holder's lease
    expires."""
    return max(3600.0, ingest_minutes * 60)


def ingest_due(last_run: datetime | None, now: datetime, ingest_minutes: float) -> bool:
    """Whether the scheduled ingest is due: never ran, or last ran `ingest_minutes` ago or more."""
    return last_run is None or now - last_run >= timedelta(minutes=ingest_minutes)


def validate_subscription(
    frequency: str,
    send_hour: int,
    weekday: int,
    timezone: str,
    max_papers: int,
    sections: Sequence[str],
) -> None:
    """Raise BadRequest naming the first bad subscription value."""
    if frequency not in FREQUENCIES:
        raise BadRequest(f"frequency {frequency!r}: valid: {', '.join(FREQUENCIES)}")
    if not 0 <= send_hour <= 23:
        raise BadRequest(f"send_hour must be 0..23, got {send_hour}")
    if not 0 <= weekday <= 6:
        raise BadRequest(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday}")
    if not 1 <= max_papers <= MAX_DIGEST_PAPERS:
        raise BadRequest(f"max_papers must be 1..{MAX_DIGEST_PAPERS}, got {max_papers}")
    bad = [s for s in sections if s not in DIGEST_SECTIONS]
    if bad:
        raise BadRequest(f"unknown section {bad[0]!r}; valid: {', '.join(DIGEST_SECTIONS)}")
    try:
        if not timezone or timezone.startswith(("/", ".")):
            raise ValueError(timezone)
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(
            f"unknown time zone {timezone!r} (use an IANA name such as Europe/Berlin)"
        ) from None


def no_nul(field: str, *values: str | None) -> None:
    """Refuse text with NUL characters (PostgreSQL cannot store it; refused alike on both
    backends)."""
    if any(v and "\x00" in v for v in values):
        raise BadRequest(f"{field} must not contain NUL characters")


# ----- category codes -----------------------------------------------------------------------------

# arXiv codes (cs.LG, q-bio.BM, cond-mat.stat-mech, hep-th, alg-geom) and class codes (68T50):
# letters, digits, '.', '-' and '_'. Anything else (`$\undefinedmacro$`, markup, spaces) is refused
# at ingest, so no page, chart or feed ever has to interpret a category (#21 F11).
_CATEGORY_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,49}")


def category_problem(codes: Sequence[str]) -> str | None:
    """Why a record's category codes are unfit to store (None when every one is a plain code)."""
    for code in codes:
        if not _CATEGORY_CODE.fullmatch(code):
            shown = code if len(code) <= 60 else code[:57] + "..."
            return (f"category {shown!r} is not a category code (letters, digits, '.', '-', '_', "
                    "at most 50 characters); record skipped")
    return None
