"""Digest records shared by the digest repositories (store/subscriptions.py, store/deliveries.py).

The delivery log (`digest_deliveries`) has one row per (user, period), enforced by a UNIQUE
constraint, and walks a small state machine that makes sending safe to run twice at once and safe to
kill at any point (see docs/digests.md):

composing -> ready -> sending -> data_end -> sent                |         |           |
|         +-> retry --+ (transient failure; `sending` again later)                +-> empty
+-> failed (permanent 5xx, or too many attempts) data_end whose sender died -> unconfirmed (counted
as delivered: the final dot may be out)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Connection, Engine, RowMapping, Table, and_, update

from paperfeed.core.errors import BadRequest
from paperfeed.core.models import Subscription, User
from paperfeed.core.rules import (
    DIGEST_SECTIONS,
)
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import (
    digest_deliveries,
    followed_authors,
    followed_categories,
)

# Rows in these states cover their window: the next digest starts where they ended.
WINDOW_STATES = ("ready", "sending", "data_end", "sent", "unconfirmed", "retry", "empty")
DELIVERED = ("sent", "unconfirmed")
CLAIMED = ("composing", "sending", "data_end")
STATUSES = (
    "composing",
    "ready",
    "empty",
    "sending",
    "data_end",
    "sent",
    "unconfirmed",
    "retry",
    "failed",
    "skipped",
)


@dataclass(frozen=True)
class DigestSubscription(Subscription):
    """A subscription as stored, with the weekday of weekly digests (0 = Monday)."""

    weekday: int = 0


@dataclass(frozen=True)
class SavedSearch:
    """A search whose new matches go into the digest."""

    id: int
    user_id: int
    name: str
    query: str
    category: str | None = None
    author: str | None = None


@dataclass
class DigestProfile:
    """Everything the digest selection knows about one user."""

    user: User
    subscription: DigestSubscription
    searches: list[SavedSearch] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    upvoted: list[int] = field(default_factory=list)  # newest first
    collected: list[int] = field(default_factory=list)
    more: list[int] = field(default_factory=list)  # "more like this"
    less: list[int] = field(default_factory=list)  # "less like this"
    last_window_end: datetime | None = None  # where the previous digest's window ended
    sent_recently: set[int] = field(default_factory=set)  # papers already in a digest


@dataclass(frozen=True)
class Delivery:
    """One row of the delivery log."""

    id: int
    user_id: int
    period: str
    status: str
    message_id: str | None
    recipient: str | None
    window_start: datetime | None
    window_end: datetime
    items: list[dict[str, Any]]
    n_papers: int
    gap_days: int
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    claimed_by: str | None
    claimed_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    username: str = ""

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (without the items)."""
        out: dict[str, object] = {}
        for key, value in self.__dict__.items():
            if key == "items":
                continue
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True)
class ComposedDigest:
    """One composed digest the compose phase stores: its picks (paper_id, section, reason) and where
    it goes."""

    delivery_id: int
    user_id: int
    items: list[dict[str, object]]
    message_id: str
    recipient: str
    window_start: datetime | None
    window_end: datetime
    gap_days: int


def _sub(row: RowMapping) -> DigestSubscription:
    return DigestSubscription(
        user_id=int(row["user_id"]),
        frequency=row["frequency"],
        send_hour=int(row["send_hour"]),
        timezone=row["timezone"],
        max_papers=int(row["max_papers"]),
        sections=tuple(s for s in json.loads(row["sections"]) if s in DIGEST_SECTIONS),
        active=bool(row["active"]),
        weekday=int(row["weekday"]),
    )


def _user(row: Mapping[str, Any]) -> User:
    return User(id=int(row["id"]), username=row["username"], email=row["email"],
                created_at=utc(row["created_at"]) or now_utc(), is_admin=bool(row["is_admin"]),
                email_verified=row.get("email_verified_at") is not None)


def _delivery(row: RowMapping) -> Delivery:
    return Delivery(
        id=int(row["id"]),
        user_id=int(row["user_id"]),
        period=row["period"],
        status=row["status"],
        message_id=row["message_id"],
        recipient=row["recipient"],
        window_start=utc(row["window_start"]),
        window_end=utc(row["window_end"]) or now_utc(),
        items=json.loads(row["items"] or "[]"),
        n_papers=int(row["n_papers"]),
        gap_days=int(row["gap_days"]),
        attempts=int(row["attempts"]),
        next_attempt_at=utc(row["next_attempt_at"]),
        last_error=row["last_error"],
        claimed_by=row["claimed_by"],
        claimed_at=utc(row["claimed_at"]),
        created_at=utc(row["created_at"]) or now_utc(),
        sent_at=utc(row["sent_at"]),
        username=row.get("username", "") or "",
    )


class DeliveryMarker:
    """Writes the 'data_end' mark on a connection held open, so the commit is the last step before
    the dot."""

    def __init__(self, engine: Engine) -> None:
        self._conn: Connection = engine.connect()

    def mark_data_end(self, delivery_id: int, holder: str) -> None:
        """Commit status 'data_end': from now on a crash counts this digest as delivered."""
        done = self._conn.execute(update(digest_deliveries).where(and_(
            digest_deliveries.c.id == delivery_id, digest_deliveries.c.claimed_by == holder,
            digest_deliveries.c.status == "sending",
        )).values(status="data_end"))
        self._conn.commit()
        if not done.rowcount:
            raise LookupError(f"delivery {delivery_id} is no longer claimed by this sender")

    def close(self) -> None:
        """Return the connection."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _search(row: RowMapping) -> SavedSearch:
    return SavedSearch(
        int(row["id"]),
        int(row["user_id"]),
        row["name"],
        row["query"],
        row["category"],
        row["author"],
    )


def _follow_table(kind: str) -> tuple[Table, str]:
    if kind == "category":
        return followed_categories, "category"
    if kind == "author":
        return followed_authors, "author"
    raise BadRequest(f"unknown follow kind {kind!r}; valid: category, author")
