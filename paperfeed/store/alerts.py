"""Lifecycle alerts: events on stored papers (written during a merge) fanned out at read time to the
users who authored (a confirmed claim), collected or upvoted the paper before the event, and the
record of which alert each user was shown or mailed (never twice: the key says so)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Exists,
    Subquery,
    and_,
    delete,
    desc,
    exists,
    func,
    literal_column,
    select,
    union_all,
)

from paperfeed.core.errors import BadRequest
from paperfeed.store.alert_schema import alert_deliveries, paper_events
from paperfeed.store.dialect import insert_or_ignore
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import collection_papers, collections, papers, votes
from paperfeed.store.social_schema import paper_claims

CHANNELS = ("web", "email")
_WHY = {1: "authored", 2: "collected", 3: "upvoted"}


@dataclass(frozen=True)
class Alert:
    """One event on a paper as one user hears of it, why, and whether it was shown / mailed
    already."""

    event_id: int
    user_id: int
    paper_id: int
    paper_title: str
    arxiv_id: str | None
    kind: str  # new_version | code_link | journal_ref
    key: str  # the version number, the code URL, the DOI or journal reference
    created_at: datetime
    why: str  # authored | collected | upvoted
    seen: bool  # shown as new on the notifications page before
    mailed: bool  # sent in a digest


def write_events(conn: Connection, events: Sequence[tuple[int, str, str]], now: datetime) -> None:
    """Store (paper_id, kind, key) events inside the merge's transaction; known ones are skipped."""
    rows = [
        {"paper_id": pid, "kind": kind, "key": key, "created_at": now}
        for pid, kind, key in dict.fromkeys(events)
    ]
    if rows:
        conn.execute(insert_or_ignore(conn, paper_events), rows)


def mark_delivered(
    conn: Connection,
    user_id: int,
    event_ids: Sequence[int],
    channel: str,
    delivery_id: int | None,
    now: datetime,
) -> int:
    """Record alerts as shown ('web') or mailed ('email') inside the caller's transaction; rows
    added."""
    if channel not in CHANNELS:
        raise BadRequest(f"channel {channel!r}: valid: {', '.join(CHANNELS)}")
    wanted = list(dict.fromkeys(event_ids))
    if not wanted:
        return 0
    have = set(
        conn.execute(
            select(alert_deliveries.c.event_id).where(
                and_(
                    alert_deliveries.c.user_id == user_id,
                    alert_deliveries.c.channel == channel,
                    alert_deliveries.c.event_id.in_(wanted),
                )
            )
        ).scalars()
    )
    rows = [
        {
            "user_id": user_id,
            "event_id": eid,
            "channel": channel,
            "delivery_id": delivery_id,
            "created_at": now,
        }
        for eid in wanted
        if eid not in have
    ]
    if rows:  # a concurrent writer's rows are skipped, never an error
        conn.execute(insert_or_ignore(conn, alert_deliveries), rows)
    return len(rows)


def forget_mailed(conn: Connection, delivery_ids: Sequence[int]) -> None:
    """A digest that was never sent gives its alerts back (they go into the next one)."""
    if delivery_ids:
        conn.execute(
            delete(alert_deliveries).where(alert_deliveries.c.delivery_id.in_(list(delivery_ids)))
        )


def _delivered(uid: ColumnElement[int], eid: ColumnElement[int], channel: str) -> Exists:
    return exists().where(
        and_(
            alert_deliveries.c.user_id == uid,
            alert_deliveries.c.event_id == eid,
            alert_deliveries.c.channel == channel,
        )
    )


def _best(
    user_ids: Sequence[int] | None,
    since: datetime | None,
    until: datetime | None,
    not_on: str | None,
) -> Subquery:
    """(uid, eid, rank): each event once per user, for the closest tie (authored, collected,
    upvoted)."""
    rel = union_all(
        select(
            paper_claims.c.user_id.label("uid"),
            paper_claims.c.paper_id.label("pid"),
            paper_claims.c.created_at.label("since"),
            literal_column("1").label("rank"),
        ).where(paper_claims.c.status == "confirmed"),
        select(
            collections.c.user_id.label("uid"),
            collection_papers.c.paper_id.label("pid"),
            collection_papers.c.added_at.label("since"),
            literal_column("2").label("rank"),
        ).join(collections, collections.c.id == collection_papers.c.collection_id),
        select(
            votes.c.user_id.label("uid"),
            votes.c.paper_id.label("pid"),
            votes.c.created_at.label("since"),
            literal_column("3").label("rank"),
        ),
    ).subquery("rel")
    query = select(
        rel.c.uid, paper_events.c.id.label("eid"), func.min(rel.c.rank).label("rank")
    ).join(
        paper_events,
        and_(paper_events.c.paper_id == rel.c.pid, paper_events.c.created_at > rel.c.since),
    )
    if user_ids is not None:
        query = query.where(rel.c.uid.in_(list(user_ids)))
    if since is not None:
        query = query.where(paper_events.c.created_at > since)
    if until is not None:
        query = query.where(paper_events.c.created_at <= until)
    if not_on is not None:
        query = query.where(~_delivered(rel.c.uid, paper_events.c.id, not_on))
    return query.group_by(rel.c.uid, paper_events.c.id).subquery("best")


class AlertRepo:
    """Reading alerts and recording who was shown or mailed which."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def paper_events(self, paper_id: int) -> list[tuple[str, str, datetime]]:
        """(kind, key, created_at) of a paper's lifecycle events, oldest first."""
        query = (
            select(paper_events.c.kind, paper_events.c.key, paper_events.c.created_at)
            .where(paper_events.c.paper_id == paper_id)
            .order_by(paper_events.c.id)
        )
        with self.engine.connect() as conn:
            return [(k, key, utc(at) or now_utc()) for k, key, at in conn.execute(query).all()]

    def alerts(
        self,
        user_ids: Sequence[int] | None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
        not_on: str | None = None,
    ) -> list[Alert]:
        """Alerts of these users (all when None) with events in (since, until], newest first;
        not_on='web' / 'email' leaves out those already shown / mailed."""
        best = _best(user_ids, since, until, not_on)
        query = (
            select(
                best.c.uid,
                best.c.rank,
                paper_events,
                papers.c.title,
                papers.c.arxiv_id,
                _delivered(best.c.uid, best.c.eid, "web").label("seen"),
                _delivered(best.c.uid, best.c.eid, "email").label("mailed"),
            )
            .join(paper_events, paper_events.c.id == best.c.eid)
            .join(papers, papers.c.id == paper_events.c.paper_id)
            .order_by(desc(paper_events.c.id), best.c.uid)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Alert(
                event_id=int(r["id"]),
                user_id=int(r["uid"]),
                paper_id=int(r["paper_id"]),
                paper_title=r["title"],
                arxiv_id=r["arxiv_id"],
                kind=r["kind"],
                key=r["key"],
                created_at=utc(r["created_at"]) or now_utc(),
                why=_WHY[int(r["rank"])],
                seen=bool(r["seen"]),
                mailed=bool(r["mailed"]),
            )
            for r in rows
        ]

    def unread_alert_count(self, user_id: int) -> int:
        """How many of the user's alerts were never shown on the notifications page."""
        best = _best([user_id], None, None, "web")
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(best)).scalar_one())

    def mark_alerts(self, user_id: int, event_ids: Sequence[int], channel: str) -> int:
        """Record alerts as shown ('web') or mailed ('email'); returns how many were not recorded
        yet."""
        with self.engine.begin() as conn:
            return mark_delivered(conn, user_id, event_ids, channel, None, now_utc())
