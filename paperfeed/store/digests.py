"""Digest subscriptions and the delivery log: every SQL statement the digest jobs and pages need.

The delivery log (`digest_deliveries`) has one row per (user, period), enforced by a UNIQUE
constraint, and walks a small state machine that makes sending safe to run twice at once and
safe to kill at any point (see docs/digests.md):

    composing -> ready -> sending -> data_end -> sent
                   |         |           |
                   |         +-> retry --+ (transient failure; `sending` again later)
                   +-> empty             +-> failed (permanent 5xx, or too many attempts)
    data_end whose sender died -> unconfirmed (counted as delivered: the final dot may be out)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Self

from sqlalchemy import Connection, Engine, and_, delete, desc, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import Paper, Subscription, User
from paperfeed.store.papers import row_to_paper
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import (
    collection_papers,
    collections,
    digest_deliveries,
    digest_feedback,
    digest_items,
    followed_authors,
    followed_categories,
    papers,
    saved_searches,
    subscriptions,
    users,
    votes,
    worker_leases,
)

SECTIONS = ("trending", "searches", "categories", "authors", "recommended")
FREQUENCIES = ("daily", "weekly")
# Rows in these states cover their window: the next digest starts where they ended.
WINDOW_STATES = ("ready", "sending", "data_end", "sent", "unconfirmed", "retry", "empty")
DELIVERED = ("sent", "unconfirmed")
CLAIMED = ("composing", "sending", "data_end")
STATUSES = ("composing", "ready", "empty", "sending", "data_end", "sent", "unconfirmed", "retry", "failed", "skipped")
MAX_SAVED_SEARCHES = 50
MAX_FOLLOWS = 200
_CHUNK = 500


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

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (without the items)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if key == "items":
                continue
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


def _sub(row: Any) -> DigestSubscription:
    return DigestSubscription(
        user_id=int(row["user_id"]),
        frequency=row["frequency"],
        send_hour=int(row["send_hour"]),
        timezone=row["timezone"],
        max_papers=int(row["max_papers"]),
        sections=tuple(s for s in json.loads(row["sections"]) if s in SECTIONS),
        active=bool(row["active"]),
        weekday=int(row["weekday"]),
    )


def _user(row: Any) -> User:
    return User(id=int(row["id"]), username=row["username"], email=row["email"],
                created_at=utc(row["created_at"]) or now_utc(), is_admin=bool(row["is_admin"]))


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row["id"]), user_id=int(row["user_id"]), period=row["period"], status=row["status"],
        message_id=row["message_id"], recipient=row["recipient"], window_start=utc(row["window_start"]),
        window_end=utc(row["window_end"]) or now_utc(), items=json.loads(row["items"] or "[]"),
        n_papers=int(row["n_papers"]), gap_days=int(row["gap_days"]), attempts=int(row["attempts"]),
        next_attempt_at=utc(row["next_attempt_at"]), last_error=row["last_error"],
        claimed_by=row["claimed_by"], claimed_at=utc(row["claimed_at"]),
        created_at=utc(row["created_at"]) or now_utc(), sent_at=utc(row["sent_at"]),
        username=row.get("username", "") or "",
    )


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def validate_subscription(frequency: str, send_hour: int, weekday: int, timezone: str, max_papers: int,
                          sections: Sequence[str]) -> None:
    """Raise BadRequest naming the first bad subscription value."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if frequency not in FREQUENCIES:
        raise BadRequest(f"frequency {frequency!r}: valid: {', '.join(FREQUENCIES)}")
    if not 0 <= send_hour <= 23:
        raise BadRequest(f"send_hour must be 0..23, got {send_hour}")
    if not 0 <= weekday <= 6:
        raise BadRequest(f"weekday must be 0 (Monday) .. 6 (Sunday), got {weekday}")
    if not 1 <= max_papers <= 200:
        raise BadRequest(f"max_papers must be 1..200, got {max_papers}")
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        raise BadRequest(f"unknown section {bad[0]!r}; valid: {', '.join(SECTIONS)}")
    try:
        if not timezone or timezone.startswith(("/", ".")):
            raise ValueError(timezone)
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"unknown time zone {timezone!r} (use an IANA name such as Europe/Berlin)") from None


def _no_nul(field: str, *values: str | None) -> None:
    # PostgreSQL cannot store or compare text with NUL; refuse it the same way on both backends.
    if any(v and "\x00" in v for v in values):
        raise BadRequest(f"{field} must not contain NUL characters")


class DigestStore:
    """Subscriptions, saved searches, follows, feedback, the delivery log and worker leases."""

    engine: Engine

    # ----- subscriptions ------------------------------------------------------------------------

    def get_subscription(self, user_id: int) -> DigestSubscription | None:
        """A user's subscription, or None when they never subscribed."""
        with self.engine.connect() as conn:
            row = conn.execute(select(subscriptions).where(subscriptions.c.user_id == user_id)).mappings().first()
        return _sub(row) if row else None

    def save_subscription(self, user_id: int, **changes: Any) -> DigestSubscription:
        """Create or update a user's subscription; unknown or bad values raise BadRequest."""
        allowed = {"frequency", "send_hour", "weekday", "timezone", "max_papers", "sections", "active"}
        unknown = set(changes) - allowed
        if unknown:
            raise BadRequest(f"unknown subscription field {min(unknown)!r}; valid: {', '.join(sorted(allowed))}")
        current = self.get_subscription(user_id) or DigestSubscription(user_id=user_id, frequency="daily")
        merged = {**{k: getattr(current, k) for k in allowed}, **{k: v for k, v in changes.items() if v is not None}}
        sections = tuple(dict.fromkeys(merged["sections"]))
        validate_subscription(merged["frequency"], int(merged["send_hour"]), int(merged["weekday"]),
                              merged["timezone"], int(merged["max_papers"]), sections)
        values = {
            "frequency": merged["frequency"], "send_hour": int(merged["send_hour"]),
            "weekday": int(merged["weekday"]), "timezone": merged["timezone"],
            "max_papers": int(merged["max_papers"]), "sections": json.dumps(list(sections)),
            "active": 1 if merged["active"] else 0, "updated_at": now_utc(),
        }
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
                raise NotFound(f"no user {user_id}")
            done = conn.execute(update(subscriptions).where(subscriptions.c.user_id == user_id).values(values))
            if not done.rowcount:
                conn.execute(insert(subscriptions).values(user_id=user_id, created_at=values["updated_at"], **values))
        found = self.get_subscription(user_id)
        assert found is not None
        return found

    def set_subscription_active(self, user_id: int, active: bool) -> bool:
        """Turn a user's digest on or off; False when they have no subscription."""
        with self.engine.begin() as conn:
            done = conn.execute(update(subscriptions).where(subscriptions.c.user_id == user_id)
                                .values(active=1 if active else 0, updated_at=now_utc()))
        return bool(done.rowcount)

    def active_subscribers(self, user_ids: Sequence[int] | None = None) -> list[tuple[User, DigestSubscription]]:
        """Users with an active subscription (optionally only some), by user id."""
        query = (select(subscriptions, users.c.id, users.c.username, users.c.email, users.c.created_at,
                        users.c.is_admin)
                 .join(users, users.c.id == subscriptions.c.user_id)
                 .where(subscriptions.c.active == 1).order_by(users.c.id))
        with self.engine.connect() as conn:
            rows: list[Any] = []
            if user_ids is None:
                rows = list(conn.execute(query).mappings())
            else:
                for chunk in _chunks(list(user_ids)):
                    rows.extend(conn.execute(query.where(users.c.id.in_(chunk))).mappings())
        return [(_user(r), _sub(r)) for r in rows]

    # ----- saved searches and follows -----------------------------------------------------------

    def add_saved_search(self, user_id: int, query: str, name: str = "", category: str | None = None,
                         author: str | None = None) -> SavedSearch:
        """Save a search for a user's digest."""
        _no_nul("a saved search", query, name, category, author)
        query = " ".join(query.split())
        if not query and not category and not author:
            raise BadRequest("a saved search needs a query, a category or an author")
        if len(query) > 500:
            raise BadRequest("query: at most 500 characters")
        name = (" ".join(name.split()) or query or category or author or "search")[:200]
        with self.engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(saved_searches)
                                 .where(saved_searches.c.user_id == user_id)).scalar_one()
            if count >= MAX_SAVED_SEARCHES:
                raise BadRequest(f"at most {MAX_SAVED_SEARCHES} saved searches per user")
            new_id = conn.execute(insert(saved_searches).values(
                user_id=user_id, name=name, query=query, category=category or None, author=author or None,
                created_at=now_utc()).returning(saved_searches.c.id)).scalar_one()
        return SavedSearch(int(new_id), user_id, name, query, category or None, author or None)

    def saved_searches(self, user_id: int) -> list[SavedSearch]:
        """A user's saved searches, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(saved_searches).where(saved_searches.c.user_id == user_id)
                                .order_by(saved_searches.c.id)).mappings()
            return [_search(r) for r in rows]

    def delete_saved_search(self, owner_id: int, search_id: int) -> None:
        """Delete one of the owner's saved searches; NotFound otherwise."""
        with self.engine.begin() as conn:
            done = conn.execute(delete(saved_searches).where(
                and_(saved_searches.c.id == search_id, saved_searches.c.user_id == owner_id)))
        if not done.rowcount:
            raise NotFound(f"no saved search {search_id}")

    def follow(self, user_id: int, kind: str, value: str) -> bool:
        """Follow a category or an author ('category' | 'author'); False when already followed."""
        table, column = _follow_table(kind)
        _no_nul(kind, value)
        value = " ".join(value.split())
        if not value or len(value) > 200:
            raise BadRequest(f"{kind}: give 1..200 characters")
        with self.engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(table).where(table.c.user_id == user_id)).scalar_one()
            if count >= MAX_FOLLOWS:
                raise BadRequest(f"at most {MAX_FOLLOWS} followed {kind}s")
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table).values({"user_id": user_id, column: value, "created_at": now_utc()}))
        except IntegrityError:
            return False
        return True

    def unfollow(self, user_id: int, kind: str, value: str) -> bool:
        """Stop following a category or author; False when it was not followed."""
        table, column = _follow_table(kind)
        if "\x00" in value:
            return False  # never followed: follow() refuses NUL
        with self.engine.begin() as conn:
            done = conn.execute(delete(table).where(and_(table.c.user_id == user_id, table.c[column] == value.strip())))
        return bool(done.rowcount)

    def followed(self, user_id: int, kind: str) -> list[str]:
        """Followed categories or authors, in the order they were added."""
        table, column = _follow_table(kind)
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c[column]).where(table.c.user_id == user_id)
                                .order_by(table.c.created_at, table.c[column]))
            return [str(r[0]) for r in rows]

    # ----- feedback -----------------------------------------------------------------------------

    def set_feedback(self, user_id: int, paper_id: int, signal: int) -> None:
        """Record "more like this" (+1) or "less like this" (-1); 0 clears it."""
        if signal not in (-1, 0, 1):
            raise BadRequest("signal must be -1, 0 or 1")
        with self.engine.begin() as conn:
            if conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is None:
                raise NotFound(f"no paper {paper_id}")
            conn.execute(delete(digest_feedback).where(
                and_(digest_feedback.c.user_id == user_id, digest_feedback.c.paper_id == paper_id)))
            if signal:
                conn.execute(insert(digest_feedback).values(user_id=user_id, paper_id=paper_id, signal=signal,
                                                            created_at=now_utc()))

    def feedback(self, user_id: int) -> dict[int, int]:
        """A user's feedback: paper id -> +1 / -1."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(digest_feedback.c.paper_id, digest_feedback.c.signal)
                                .where(digest_feedback.c.user_id == user_id))
            return {int(p): int(s) for p, s in rows}

    # ----- what the digest job reads ------------------------------------------------------------

    def digest_profiles(self, pairs: Sequence[tuple[User, DigestSubscription]], since: datetime | None,
                        example_limit: int = 200) -> dict[int, DigestProfile]:
        """Interests, examples and the previous window of each user, in a few queries per batch."""
        out = {u.id: DigestProfile(user=u, subscription=s) for u, s in pairs}
        ids = list(out)
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                for r in conn.execute(select(saved_searches).where(saved_searches.c.user_id.in_(chunk))
                                      .order_by(saved_searches.c.id)).mappings():
                    out[int(r["user_id"])].searches.append(_search(r))
                for uid, cat in conn.execute(select(followed_categories.c.user_id, followed_categories.c.category)
                                             .where(followed_categories.c.user_id.in_(chunk))):
                    out[int(uid)].categories.append(str(cat))
                for uid, name in conn.execute(select(followed_authors.c.user_id, followed_authors.c.author)
                                              .where(followed_authors.c.user_id.in_(chunk))):
                    out[int(uid)].authors.append(str(name))
                for uid, pid in conn.execute(select(votes.c.user_id, votes.c.paper_id)
                                             .where(votes.c.user_id.in_(chunk))
                                             .order_by(desc(votes.c.created_at))):
                    prof = out[int(uid)]
                    if len(prof.upvoted) < example_limit:
                        prof.upvoted.append(int(pid))
                for uid, pid in conn.execute(
                        select(collections.c.user_id, collection_papers.c.paper_id)
                        .join(collections, collections.c.id == collection_papers.c.collection_id)
                        .where(collections.c.user_id.in_(chunk))
                        .order_by(desc(collection_papers.c.added_at))):
                    prof = out[int(uid)]
                    if len(prof.collected) < example_limit:
                        prof.collected.append(int(pid))
                for uid, pid, sig in conn.execute(
                        select(digest_feedback.c.user_id, digest_feedback.c.paper_id, digest_feedback.c.signal)
                        .where(digest_feedback.c.user_id.in_(chunk)).order_by(desc(digest_feedback.c.created_at))):
                    (out[int(uid)].more if sig > 0 else out[int(uid)].less).append(int(pid))
                for uid, end in conn.execute(
                        select(digest_deliveries.c.user_id, func.max(digest_deliveries.c.window_end))
                        .where(and_(digest_deliveries.c.user_id.in_(chunk),
                                    digest_deliveries.c.status.in_(WINDOW_STATES)))
                        .group_by(digest_deliveries.c.user_id)):
                    out[int(uid)].last_window_end = utc(end)
                sent = select(digest_items.c.user_id, digest_items.c.paper_id).where(digest_items.c.user_id.in_(chunk))
                if since is not None:
                    # a paper first seen after `since` can only be in a digest composed after it
                    sent = sent.where(digest_items.c.created_at >= since)
                for uid, pid in conn.execute(sent):
                    out[int(uid)].sent_recently.add(int(pid))
        return out

    def papers_first_seen(self, since: datetime | None, until: datetime) -> list[Paper]:
        """Papers first seen in (since, until], oldest id first (withdrawn ones left out)."""
        query = select(papers).where(papers.c.first_seen_at <= until, papers.c.withdrawn == 0).order_by(papers.c.id)
        if since is not None:
            query = query.where(papers.c.first_seen_at > since)
        with self.engine.connect() as conn:
            return [row_to_paper(r) for r in conn.execute(query).mappings()]

    # ----- the delivery log ---------------------------------------------------------------------

    def existing_periods(self, periods: Sequence[str]) -> set[tuple[int, str]]:
        """(user, period) pairs that already have a delivery row, for the given period keys."""
        found: set[tuple[int, str]] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(periods))):
                for uid, period in conn.execute(select(digest_deliveries.c.user_id, digest_deliveries.c.period)
                                                .where(digest_deliveries.c.period.in_(chunk))):
                    found.add((int(uid), str(period)))
        return found

    def claim_compose(self, wanted: Sequence[tuple[int, str]], holder: str, window_end: datetime) -> dict[int, int]:
        """Insert 'composing' rows for (user, period) pairs; return user -> delivery id of those won.

        The UNIQUE (user_id, period) constraint decides races: a pair another process inserted
        first is simply not returned.
        """
        won: dict[int, int] = {}
        now = now_utc()
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert: Any = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        for chunk in _chunks(list(wanted), 200):
            with self.engine.begin() as conn:
                for uid, period in chunk:
                    new_id = conn.execute(dialect_insert(digest_deliveries).values(
                        user_id=uid, period=period, status="composing", window_end=window_end,
                        claimed_by=holder, claimed_at=now, created_at=now,
                    ).on_conflict_do_nothing().returning(digest_deliveries.c.id)).scalar_one_or_none()
                    if new_id is not None:
                        won[uid] = int(new_id)
        return won

    def finish_compose(self, results: Sequence[dict[str, Any]], holder: str) -> int:
        """Store composed digests ('ready' with items, or 'empty') in one transaction; return rows stored.

        Each result: delivery_id, user_id, items [{paper_id, section, reason}], message_id,
        recipient, window_start, window_end, gap_days. Rows this holder no longer owns are skipped.
        """
        stored = 0
        now = now_utc()
        with self.engine.begin() as conn:
            for res in results:
                items = res["items"]
                done = conn.execute(update(digest_deliveries).where(and_(
                    digest_deliveries.c.id == res["delivery_id"], digest_deliveries.c.status == "composing",
                    digest_deliveries.c.claimed_by == holder,
                )).values(
                    status="ready" if items else "empty", items=json.dumps(items, ensure_ascii=False),
                    n_papers=len(items), message_id=res["message_id"], recipient=res["recipient"],
                    window_start=res["window_start"], window_end=res["window_end"], gap_days=res["gap_days"],
                    claimed_by=None, claimed_at=None, next_attempt_at=None,
                ))
                if not done.rowcount:
                    continue
                stored += 1
                if items:
                    conn.execute(insert(digest_items), [
                        {"user_id": res["user_id"], "paper_id": it["paper_id"], "delivery_id": res["delivery_id"],
                         "section": it["section"], "created_at": now} for it in items
                    ])
        return stored

    def due_deliveries(self, now: datetime, limit: int = 1000, user_ids: Sequence[int] | None = None) -> list[Delivery]:
        """Rows waiting to be sent ('ready', or 'retry' whose wait is over), oldest first."""
        query = (select(digest_deliveries).where(and_(
            digest_deliveries.c.status.in_(("ready", "retry")),
            or_(digest_deliveries.c.next_attempt_at.is_(None), digest_deliveries.c.next_attempt_at <= now),
        )).order_by(digest_deliveries.c.id).limit(limit))
        if user_ids is not None:
            query = query.where(digest_deliveries.c.user_id.in_(list(user_ids)))
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query).mappings()]

    def claim_send(self, delivery_id: int, holder: str, now: datetime) -> bool:
        """Take a ready (or due retry) row for sending; False when another sender has it."""
        with self.engine.begin() as conn:
            done = conn.execute(update(digest_deliveries).where(and_(
                digest_deliveries.c.id == delivery_id,
                digest_deliveries.c.status.in_(("ready", "retry")),
                or_(digest_deliveries.c.next_attempt_at.is_(None), digest_deliveries.c.next_attempt_at <= now),
            )).values(status="sending", claimed_by=holder, claimed_at=now,
                      attempts=digest_deliveries.c.attempts + 1))
        return bool(done.rowcount)

    def marker(self) -> DeliveryMarker:
        """A held connection that records the pre-final-dot mark with the shortest possible commit."""
        return DeliveryMarker(self.engine)

    def finish_send(self, delivery_id: int, holder: str, status: str, error: str | None = None,
                    next_attempt_at: datetime | None = None) -> bool:
        """Record how a send ended: 'sent', 'retry' (with when) or 'failed' (freeing its papers)."""
        if status not in ("sent", "retry", "failed", "skipped", "unconfirmed"):
            raise ValueError(status)
        now = now_utc()
        with self.engine.begin() as conn:
            done = conn.execute(update(digest_deliveries).where(and_(
                digest_deliveries.c.id == delivery_id, digest_deliveries.c.claimed_by == holder,
                digest_deliveries.c.status.in_(("sending", "data_end")),
            )).values(status=status, last_error=error[:2000] if error else None,
                      next_attempt_at=next_attempt_at, sent_at=now if status in DELIVERED else None,
                      claimed_by=None, claimed_at=None))
            if done.rowcount and status in ("failed", "skipped"):
                # never delivered: its papers may come in a later digest
                conn.execute(delete(digest_items).where(digest_items.c.delivery_id == delivery_id))
        return bool(done.rowcount)

    def skip_inactive(self) -> int:
        """Mark waiting digests of users who unsubscribed meanwhile as 'skipped'."""
        inactive = select(subscriptions.c.user_id).where(subscriptions.c.active == 0)
        with self.engine.begin() as conn:
            ids = [int(r[0]) for r in conn.execute(select(digest_deliveries.c.id).where(and_(
                digest_deliveries.c.status.in_(("ready", "retry")), digest_deliveries.c.user_id.in_(inactive))))]
            for chunk in _chunks(ids):
                conn.execute(update(digest_deliveries).where(digest_deliveries.c.id.in_(chunk))
                             .values(status="skipped", claimed_by=None))
                conn.execute(delete(digest_items).where(digest_items.c.delivery_id.in_(chunk)))
        return len(ids)

    def recover_stale(self, is_dead: Callable[[str, datetime | None], bool]) -> dict[str, int]:
        """Release rows whose claimer died: composing -> dropped, sending -> retry, data_end -> unconfirmed.

        `is_dead(holder, claimed_at)` decides whether the claimer is gone (its process no longer
        runs, or its claim is older than the lease).
        """
        counts = {"composing": 0, "sending": 0, "data_end": 0}
        with self.engine.begin() as conn:
            rows = list(conn.execute(select(digest_deliveries.c.id, digest_deliveries.c.status,
                                            digest_deliveries.c.claimed_by, digest_deliveries.c.claimed_at)
                                     .where(digest_deliveries.c.status.in_(CLAIMED))))
            for did, status, holder, at in rows:
                if not is_dead(str(holder or ""), utc(at)):
                    continue
                guard = and_(digest_deliveries.c.id == did, digest_deliveries.c.status == status,
                             digest_deliveries.c.claimed_by == holder)
                if status == "composing":
                    conn.execute(delete(digest_items).where(digest_items.c.delivery_id == did))
                    conn.execute(delete(digest_deliveries).where(guard))
                elif status == "sending":
                    # the final dot was never written: the server discarded the transaction
                    conn.execute(update(digest_deliveries).where(guard).values(
                        status="retry", claimed_by=None, claimed_at=None, next_attempt_at=None,
                        last_error="sender died before the end of DATA; resending"))
                else:
                    conn.execute(update(digest_deliveries).where(guard).values(
                        status="unconfirmed", claimed_by=None, claimed_at=None, sent_at=now_utc(),
                        last_error="sender died after the end of DATA was written: counted as delivered"))
                counts[status] += 1
        return counts

    def delivery_log(self, status: str | None = None, user_id: int | None = None, limit: int = 100,
                     period: str | None = None) -> list[Delivery]:
        """Delivery rows, newest first, with the username; an unknown status raises BadRequest."""
        if status and status not in STATUSES:
            raise BadRequest(f"unknown delivery status {status!r}; valid: {', '.join(STATUSES)}")
        query = (select(digest_deliveries, users.c.username).join(users, users.c.id == digest_deliveries.c.user_id)
                 .order_by(desc(digest_deliveries.c.id)).limit(limit))
        if status:
            query = query.where(digest_deliveries.c.status == status)
        if user_id is not None:
            query = query.where(digest_deliveries.c.user_id == user_id)
        if period:
            query = query.where(digest_deliveries.c.period == period)
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query).mappings()]

    def delivery_counts(self) -> dict[str, int]:
        """Delivery rows per status."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(digest_deliveries.c.status, func.count()).group_by(digest_deliveries.c.status))
            return {str(s): int(n) for s, n in rows}

    def get_delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery row."""
        with self.engine.connect() as conn:
            row = conn.execute(select(digest_deliveries).where(digest_deliveries.c.id == delivery_id)).mappings().first()
        return _delivery(row) if row else None

    # ----- leases -------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Hold the named lease for `seconds` (renewing our own); False while another holder has it."""
        now = now_utc()
        until = now + timedelta(seconds=seconds)
        with self.engine.begin() as conn:
            done = conn.execute(update(worker_leases).where(and_(
                worker_leases.c.name == name,
                or_(worker_leases.c.holder == holder, worker_leases.c.expires_at < now),
            )).values(holder=holder, expires_at=until))
            if done.rowcount:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(worker_leases).values(name=name, holder=holder, expires_at=until))
        except IntegrityError:
            return False
        return True

    def release_lease(self, name: str, holder: str, ran: bool = False) -> None:
        """Give a lease back (recording that its job ran when `ran`)."""
        values: dict[str, Any] = {"expires_at": now_utc() - timedelta(seconds=1)}
        if ran:
            values["last_run_at"] = now_utc()
        with self.engine.begin() as conn:
            conn.execute(update(worker_leases).where(and_(worker_leases.c.name == name,
                                                          worker_leases.c.holder == holder)).values(values))

    def lease_last_run(self, name: str) -> datetime | None:
        """When the job under this lease last finished."""
        with self.engine.connect() as conn:
            value = conn.execute(select(worker_leases.c.last_run_at).where(worker_leases.c.name == name)).scalar()
        return utc(value)


class DeliveryMarker:
    """Writes the 'data_end' mark on a connection held open, so the commit is the last step before the dot."""

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


def _search(row: Any) -> SavedSearch:
    return SavedSearch(int(row["id"]), int(row["user_id"]), row["name"], row["query"], row["category"], row["author"])


def _follow_table(kind: str) -> tuple[Any, str]:
    if kind == "category":
        return followed_categories, "category"
    if kind == "author":
        return followed_authors, "author"
    raise BadRequest(f"unknown follow kind {kind!r}; valid: category, author")
