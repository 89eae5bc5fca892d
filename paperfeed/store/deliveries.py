"""The delivery log the digest job walks (compose, claim, send, recover) and what it reads to
compose.

The states are described in paperfeed.store.digests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine, and_, delete, desc, func, insert, or_, select, update

from paperfeed.core.errors import BadRequest
from paperfeed.core.models import Paper, User
from paperfeed.core.util import chunks
from paperfeed.store.alerts import forget_mailed, mark_delivered
from paperfeed.store.dialect import insert_or_ignore
from paperfeed.store.digests import (
    CLAIMED,
    DELIVERED,
    STATUSES,
    WINDOW_STATES,
    ComposedDigest,
    Delivery,
    DeliveryMarker,
    DigestProfile,
    DigestSubscription,
    _delivery,
    _search,
)
from paperfeed.store.paper_rows import row_to_paper
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
)


class DeliveryRepo:
    """The digest job's reads and the delivery log."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ----- what the digest job reads ------------------------------------------------------------

    def digest_profiles(
        self,
        pairs: Sequence[tuple[User, DigestSubscription]],
        since: datetime | None,
        example_limit: int = 200,
    ) -> dict[int, DigestProfile]:
        """Interests, examples and the previous window of each user, in a few queries per batch."""
        out = {u.id: DigestProfile(user=u, subscription=s) for u, s in pairs}
        ids = list(out)
        with self.engine.connect() as conn:
            for chunk in chunks(ids):
                for r in conn.execute(
                    select(saved_searches)
                    .where(saved_searches.c.user_id.in_(chunk))
                    .order_by(saved_searches.c.id)
                ).mappings():
                    out[int(r["user_id"])].searches.append(_search(r))
                for uid, cat in conn.execute(
                    select(followed_categories.c.user_id, followed_categories.c.category).where(
                        followed_categories.c.user_id.in_(chunk)
                    )
                ):
                    out[int(uid)].categories.append(str(cat))
                for uid, name in conn.execute(
                    select(followed_authors.c.user_id, followed_authors.c.author).where(
                        followed_authors.c.user_id.in_(chunk)
                    )
                ):
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
                    select(
                        digest_feedback.c.user_id,
                        digest_feedback.c.paper_id,
                        digest_feedback.c.signal,
                    )
                    .where(digest_feedback.c.user_id.in_(chunk))
                    .order_by(desc(digest_feedback.c.created_at))
                ):
                    (out[int(uid)].more if sig > 0 else out[int(uid)].less).append(int(pid))
                for uid, end in conn.execute(
                    select(digest_deliveries.c.user_id, func.max(digest_deliveries.c.window_end))
                    .where(
                        and_(
                            digest_deliveries.c.user_id.in_(chunk),
                            digest_deliveries.c.status.in_(WINDOW_STATES),
                        )
                    )
                    .group_by(digest_deliveries.c.user_id)
                ):
                    out[int(uid)].last_window_end = utc(end)
                sent = select(digest_items.c.user_id, digest_items.c.paper_id).where(
                    digest_items.c.user_id.in_(chunk)
                )
                if since is not None:
                    # a paper first seen after `since` can only be in a digest composed after it
                    sent = sent.where(digest_items.c.created_at >= since)
                for uid, pid in conn.execute(sent):
                    out[int(uid)].sent_recently.add(int(pid))
        return out

    def papers_first_seen(self, since: datetime | None, until: datetime) -> list[Paper]:
        """Papers first seen in (since, until], oldest id first (withdrawn ones left out)."""
        query = (
            select(papers)
            .where(papers.c.first_seen_at <= until, papers.c.withdrawn == 0)
            .order_by(papers.c.id)
        )
        if since is not None:
            query = query.where(papers.c.first_seen_at > since)
        with self.engine.connect() as conn:
            return [row_to_paper(r) for r in conn.execute(query).mappings()]

    # ----- the delivery log ---------------------------------------------------------------------

    def existing_periods(self, periods: Sequence[str]) -> set[tuple[int, str]]:
        """(user, period) pairs that already have a delivery row, for the given period keys."""
        found: set[tuple[int, str]] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(periods))):
                for uid, period in conn.execute(
                    select(digest_deliveries.c.user_id, digest_deliveries.c.period).where(
                        digest_deliveries.c.period.in_(chunk)
                    )
                ):
                    found.add((int(uid), str(period)))
        return found

    def claim_compose(
        self, wanted: Sequence[tuple[int, str]], holder: str, window_end: datetime
    ) -> dict[int, int]:
        """Insert 'composing' rows for (user, period) pairs; return user -> delivery id of those
        won.

        The UNIQUE (user_id, period) constraint decides races: a pair another process inserted first
        is simply not returned.
        """
        won: dict[int, int] = {}
        now = now_utc()
        for chunk in chunks(list(wanted), 200):
            with self.engine.begin() as conn:
                for uid, period in chunk:
                    new_id = conn.execute(insert_or_ignore(conn, digest_deliveries).values(
                        user_id=uid, period=period, status="composing", window_end=window_end,
                        claimed_by=holder, claimed_at=now, created_at=now,
                    ).returning(digest_deliveries.c.id)).scalar_one_or_none()
                    if new_id is not None:
                        won[uid] = int(new_id)
        return won

    def finish_compose(self, results: Sequence[ComposedDigest], holder: str) -> int:
        """Store composed digests ('ready' with items, or 'empty') in one transaction; return rows
        stored.

        Rows this holder no longer owns are skipped.
        """
        stored = 0
        now = now_utc()
        with self.engine.begin() as conn:
            for res in results:
                items = res.items
                done = conn.execute(
                    update(digest_deliveries)
                    .where(
                        and_(
                            digest_deliveries.c.id == res.delivery_id,
                            digest_deliveries.c.status == "composing",
                            digest_deliveries.c.claimed_by == holder,
                        )
                    )
                    .values(
                        status="ready" if items else "empty",
                        items=json.dumps(items, ensure_ascii=False),
                        n_papers=len(items),
                        message_id=res.message_id,
                        recipient=res.recipient,
                        window_start=res.window_start,
                        window_end=res.window_end,
                        gap_days=res.gap_days,
                        claimed_by=None,
                        claimed_at=None,
                        next_attempt_at=None,
                    )
                )
                if not done.rowcount:
                    continue
                stored += 1
                # Discussion and alert items point at papers with news: such a paper may come again;
                # an alert itself is mailed once (alert_deliveries' key).
                papers_sent = [it for it in items if it["section"] not in ("discussion", "alerts")]
                mailed = [int(e) for it in items if it["section"] == "alerts"
                          for e in _event_ids(it.get("events"))]
                mark_delivered(conn, res.user_id, mailed, "email", res.delivery_id, now)
                if papers_sent:
                    conn.execute(
                        insert(digest_items),
                        [
                            {
                                "user_id": res.user_id,
                                "paper_id": it["paper_id"],
                                "delivery_id": res.delivery_id,
                                "section": it["section"],
                                "created_at": now,
                            }
                            for it in papers_sent
                        ],
                    )
        return stored

    def due_deliveries(
        self, now: datetime, limit: int = 1000, user_ids: Sequence[int] | None = None
    ) -> list[Delivery]:
        """Rows waiting to be sent ('ready', or 'retry' whose wait is over), oldest first."""
        query = (
            select(digest_deliveries)
            .where(
                and_(
                    digest_deliveries.c.status.in_(("ready", "retry")),
                    or_(
                        digest_deliveries.c.next_attempt_at.is_(None),
                        digest_deliveries.c.next_attempt_at <= now,
                    ),
                )
            )
            .order_by(digest_deliveries.c.id)
            .limit(limit)
        )
        if user_ids is not None:
            query = query.where(digest_deliveries.c.user_id.in_(list(user_ids)))
        with self.engine.connect() as conn:
            return [_delivery(r) for r in conn.execute(query).mappings()]

    def claim_send(self, delivery_id: int, holder: str, now: datetime) -> bool:
        """Take a ready (or due retry) row for sending; False when another sender has it."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(digest_deliveries)
                .where(
                    and_(
                        digest_deliveries.c.id == delivery_id,
                        digest_deliveries.c.status.in_(("ready", "retry")),
                        or_(
                            digest_deliveries.c.next_attempt_at.is_(None),
                            digest_deliveries.c.next_attempt_at <= now,
                        ),
                    )
                )
                .values(
                    status="sending",
                    claimed_by=holder,
                    claimed_at=now,
                    attempts=digest_deliveries.c.attempts + 1,
                )
            )
        return bool(done.rowcount)

    def marker(self) -> DeliveryMarker:
        """A held connection that records the pre-final-dot mark with the shortest possible
        commit."""
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
                forget_mailed(conn, [delivery_id])
        return bool(done.rowcount)

    def skip_inactive(self) -> int:
        """Mark waiting digests of users who unsubscribed meanwhile as 'skipped'."""
        inactive = select(subscriptions.c.user_id).where(subscriptions.c.active == 0)
        with self.engine.begin() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    select(digest_deliveries.c.id).where(
                        and_(
                            digest_deliveries.c.status.in_(("ready", "retry")),
                            digest_deliveries.c.user_id.in_(inactive),
                        )
                    )
                )
            ]
            for chunk in chunks(ids):
                conn.execute(update(digest_deliveries).where(digest_deliveries.c.id.in_(chunk))
                             .values(status="skipped", claimed_by=None))
                conn.execute(delete(digest_items).where(digest_items.c.delivery_id.in_(chunk)))
                forget_mailed(conn, chunk)
        return len(ids)

    def recover_stale(self, is_dead: Callable[[str, datetime | None], bool]) -> dict[str, int]:
        """Release rows whose claimer died: composing -> dropped, sending -> retry, data_end ->
        unconfirmed.

        `is_dead(holder, claimed_at)` decides whether the claimer is gone (its process no longer
        runs, or its claim is older than the lease).
        """
        counts = {"composing": 0, "sending": 0, "data_end": 0}
        with self.engine.begin() as conn:
            rows = list(
                conn.execute(
                    select(
                        digest_deliveries.c.id,
                        digest_deliveries.c.status,
                        digest_deliveries.c.claimed_by,
                        digest_deliveries.c.claimed_at,
                    ).where(digest_deliveries.c.status.in_(CLAIMED))
                )
            )
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
                    conn.execute(
                        update(digest_deliveries)
                        .where(guard)
                        .values(
                            status="unconfirmed",
                            claimed_by=None,
                            claimed_at=None,
                            sent_at=now_utc(),
                            last_error="sender died after the end of DATA was written: counted as "
                                       "delivered",
                        )
                    )
                counts[status] += 1
        return counts

    def delivery_log(self, status: str | None = None, user_id: int | None = None, limit: int = 100,
                     period: str | None = None) -> list[Delivery]:
        """Delivery rows, newest first, with the username; an unknown status raises BadRequest."""
        if status and status not in STATUSES:
            raise BadRequest(f"unknown delivery status {status!r}; valid: {', '.join(STATUSES)}")
        query = (
            select(digest_deliveries, users.c.username)
            .join(users, users.c.id == digest_deliveries.c.user_id)
            .order_by(desc(digest_deliveries.c.id))
            .limit(limit)
        )
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
            rows = conn.execute(
                select(digest_deliveries.c.status, func.count()).group_by(
                    digest_deliveries.c.status
                )
            )
            return {str(s): int(n) for s, n in rows}

    def get_delivery(self, delivery_id: int) -> Delivery | None:
        """One delivery row."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(digest_deliveries).where(digest_deliveries.c.id == delivery_id))
                .mappings()
                .first()
            )
        return _delivery(row) if row else None


def _event_ids(value: object) -> list[int]:
    """The event ids an alerts item carries (a JSON list of ints)."""
    return [int(v) for v in value if isinstance(v, int)] if isinstance(value, list) else []
