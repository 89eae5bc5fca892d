"""Discussion on papers: comments (threaded by parent), reports, moderation, notifications, verified
email.

Ownership is enforced in the queries (`WHERE user_id = :owner`). A deleted comment keeps its row
(body emptied, deleted_at set) so that its replies stay in the thread; a hidden comment keeps its
body for the admins and the author and shows the others only the moderator's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Engine,
    RowMapping,
    Select,
    and_,
    desc,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import NotFound
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import collection_papers, collections, papers, users
from paperfeed.store.social_schema import (
    comment_reports,
    comments,
    group_members,
    notification_reads,
    paper_claims,
)

_CHUNK = 500


@dataclass(frozen=True)
class Comment:
    """One comment as stored (the body is Markdown source)."""

    id: int
    paper_id: int
    user_id: int
    author: str
    parent_id: int | None
    body: str
    created_at: datetime
    edited_at: datetime | None = None
    deleted: bool = False
    hidden_reason: str | None = None
    hidden_at: datetime | None = None
    group_id: int | None = None  # group-only: only the group's members see it

    @property
    def hidden(self) -> bool:
        """Whether a moderator hid it."""
        return self.hidden_at is not None

    @property
    def visible(self) -> bool:
        """Neither deleted nor hidden: what counts and what feeds show."""
        return not self.deleted and not self.hidden


@dataclass(frozen=True)
class Report:
    """A user's report of a comment, open until a moderator hides or restores it."""

    id: int
    comment_id: int
    reporter: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class DiscussionEvent:
    """A comment someone should hear about, and why: 'reply' (to their comment), 'authored' or
    'collected'."""

    user_id: int
    why: str
    comment: Comment
    paper_title: str


def _comment(row: RowMapping) -> Comment:
    deleted = row["deleted_at"] is not None
    return Comment(
        id=int(row["id"]),
        paper_id=int(row["paper_id"]),
        user_id=int(row["user_id"]),
        author=row["author"],
        parent_id=row["parent_id"],
        body="" if deleted else row["body"],
        created_at=utc(row["created_at"]) or now_utc(),
        edited_at=utc(row["edited_at"]),
        deleted=deleted,
        hidden_reason=row["hidden_reason"],
        hidden_at=utc(row["hidden_at"]),
        group_id=row["group_id"],
    )


def _query() -> Select[Any]:
    return select(comments, users.c.username.label("author")).join(
        users, users.c.id == comments.c.user_id
    )


_VISIBLE = and_(comments.c.deleted_at.is_(None), comments.c.hidden_at.is_(None))
# what counts, cards and feeds show everyone
_PUBLIC = and_(_VISIBLE, comments.c.group_id.is_(None))


class CommentRepo:
    """Comments, reports, moderation, notification reads, email verification."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ----- comments ---------------------------------------------------------------------------

    def add_comment(self, paper_id: int, user_id: int, body: str, parent_id: int | None = None,
                    group_id: int | None = None) -> Comment:
        """Store a comment (NotFound when the paper does not exist)."""
        now = now_utc()
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(
                    insert(comments)
                    .values(
                        paper_id=paper_id,
                        user_id=user_id,
                        parent_id=parent_id,
                        body=body,
                        created_at=now,
                        group_id=group_id,
                    )
                    .returning(comments.c.id)
                ).scalar_one()
        except IntegrityError:
            raise NotFound(f"no paper {paper_id}") from None
        found = self.get_comment(int(new_id))
        assert found is not None
        return found

    def get_comment(self, comment_id: int) -> Comment | None:
        """One comment by id (deleted and hidden ones included)."""
        with self.engine.connect() as conn:
            row = conn.execute(_query().where(comments.c.id == comment_id)).mappings().first()
        return _comment(row) if row else None

    def paper_comments(self, paper_id: int, limit: int = 5000) -> list[Comment]:
        """Every comment of a paper's thread, oldest first (visibility is the caller's rule)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                _query().where(comments.c.paper_id == paper_id).order_by(comments.c.id).limit(limit)
            ).mappings()
            return [_comment(r) for r in rows]

    def recent_comments(self, paper_id: int, limit: int = 50) -> list[Comment]:
        """A thread's newest visible public comments, newest first (the Atom feed)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                _query().where(and_(comments.c.paper_id == paper_id, _PUBLIC))
                .order_by(desc(comments.c.id)).limit(limit)
            ).mappings()
            return [_comment(r) for r in rows]

    def edit_comment(self, owner_id: int, comment_id: int, body: str) -> Comment:
        """Replace the body of an own, not deleted comment; NotFound otherwise."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(comments)
                .where(and_(comments.c.id == comment_id, comments.c.user_id == owner_id,
                            comments.c.deleted_at.is_(None)))
                .values(body=body, edited_at=now_utc())
            )
        if not done.rowcount:
            raise NotFound(f"no comment {comment_id} of yours")
        found = self.get_comment(comment_id)
        assert found is not None
        return found

    def delete_comment(self, owner_id: int, comment_id: int) -> None:
        """Soft-delete an own comment (its body is erased; replies stay); NotFound otherwise."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(comments)
                .where(and_(comments.c.id == comment_id, comments.c.user_id == owner_id,
                            comments.c.deleted_at.is_(None)))
                .values(body="", deleted_at=now_utc())
            )
        if not done.rowcount:
            raise NotFound(f"no comment {comment_id} of yours")

    def set_hidden(self, comment_id: int, admin_id: int, reason: str | None) -> Comment:
        """Hide a comment with a reason (reason None restores it); resolves its open reports."""
        now = now_utc()
        values: dict[str, object] = (
            {"hidden_at": now, "hidden_by": admin_id, "hidden_reason": reason} if reason is not None
            else {"hidden_at": None, "hidden_by": None, "hidden_reason": None}
        )
        with self.engine.begin() as conn:
            done = conn.execute(update(comments).where(comments.c.id == comment_id).values(values))
            conn.execute(update(comment_reports).where(and_(
                comment_reports.c.comment_id == comment_id, comment_reports.c.resolved_at.is_(None)
            )).values(resolved_at=now))
        if not done.rowcount:
            raise NotFound(f"no comment {comment_id}")
        found = self.get_comment(comment_id)
        assert found is not None
        return found

    def comment_counts(self, paper_ids: Sequence[int]) -> dict[int, int]:
        """Visible public comments per paper (papers without any are absent; group-only ones never
        count)."""
        out: dict[int, int] = {}
        ids = list(paper_ids)
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _CHUNK):
                rows = conn.execute(
                    select(comments.c.paper_id, func.count())
                    .where(and_(comments.c.paper_id.in_(ids[i : i + _CHUNK]), _PUBLIC))
                    .group_by(comments.c.paper_id)
                )
                out.update({int(p): int(n) for p, n in rows})
        return out

    def comment_stamp(self) -> tuple[object, ...]:
        """A cheap value that changes with every comment written, edited, deleted or hidden."""
        with self.engine.connect() as conn:
            row = conn.execute(select(
                func.count(), func.max(comments.c.id), func.max(comments.c.edited_at),
                func.max(comments.c.deleted_at), func.max(comments.c.hidden_at),
                func.count(comments.c.hidden_at),
            ).select_from(comments)).one()
        return tuple(row)

    # ----- reports ----------------------------------------------------------------------------

    def report_comment(self, comment_id: int, user_id: int, reason: str) -> bool:
        """Report a comment; False when this user had already reported it."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(comment_reports).values(
                    comment_id=comment_id, user_id=user_id, reason=reason, created_at=now_utc()))
        except IntegrityError:
            return False
        return True

    def open_reports(self, limit: int = 200) -> list[tuple[Report, Comment]]:
        """Unresolved reports with their comments, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(comment_reports, users.c.username.label("reporter"))
                .join(users, users.c.id == comment_reports.c.user_id)
                .where(comment_reports.c.resolved_at.is_(None))
                .order_by(comment_reports.c.id).limit(limit)
            ).mappings().all()
        out = []
        for r in rows:
            c = self.get_comment(int(r["comment_id"]))
            if c is not None:
                out.append((Report(int(r["id"]), int(r["comment_id"]), r["reporter"], r["reason"],
                                   utc(r["created_at"]) or now_utc()), c))
        return out

    # ----- who hears about a comment ----------------------------------------------------------

    def discussion_events(
        self,
        user_ids: Sequence[int] | None,
        since: datetime | None,
        until: datetime,
        limit: int = 2000,
    ) -> list[DiscussionEvent]:
        """Visible comments in (since, until] that reply to a user, or sit on a paper the user
        authored (a confirmed claim) or collected.

        A user's own comments are left out; a comment that is several of these comes once, as the
        first of reply, authored, collected.
        """
        parent = comments.alias("parent")
        replies = select(
            parent.c.user_id.label("uid"),
            comments.c.id.label("cid"),
            literal_column("1").label("rank"),
        ).join(parent, parent.c.id == comments.c.parent_id)
        collected = (
            select(
                collections.c.user_id.label("uid"),
                comments.c.id.label("cid"),
                literal_column("3").label("rank"),
            )
            .join(collection_papers, collection_papers.c.paper_id == comments.c.paper_id)
            .join(collections, collections.c.id == collection_papers.c.collection_id)
        )
        authored = select(
            paper_claims.c.user_id.label("uid"),
            comments.c.id.label("cid"),
            literal_column("2").label("rank"),
        ).join(
            paper_claims,
            and_(
                paper_claims.c.paper_id == comments.c.paper_id, paper_claims.c.status == "confirmed"
            ),
        )
        window = [_VISIBLE, comments.c.created_at <= until]
        if since is not None:
            window.append(comments.c.created_at > since)
        replies = replies.where(and_(*window))
        collected = collected.where(and_(*window))
        authored = authored.where(and_(*window))
        if user_ids is not None:
            ids = list(user_ids)
            replies = replies.where(parent.c.user_id.in_(ids))
            collected = collected.where(collections.c.user_id.in_(ids))
            authored = authored.where(paper_claims.c.user_id.in_(ids))
        both = union(replies, collected, authored).subquery("who")
        best = (select(both.c.uid, both.c.cid, func.min(both.c.rank).label("rank"))
                .group_by(both.c.uid, both.c.cid).subquery("best"))
        query = (
            select(
                best.c.uid, best.c.rank, comments, users.c.username.label("author"), papers.c.title
            )
            .join(comments, comments.c.id == best.c.cid)
            .join(users, users.c.id == comments.c.user_id)
            .join(papers, papers.c.id == comments.c.paper_id)
            .where(comments.c.user_id != best.c.uid)
            # group-only: members only
            .where(
                or_(
                    comments.c.group_id.is_(None),
                    exists().where(
                        and_(
                            group_members.c.group_id == comments.c.group_id,
                            group_members.c.user_id == best.c.uid,
                        )
                    ),
                )
            )
            .order_by(desc(comments.c.id))
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        why = {1: "reply", 2: "authored", 3: "collected"}
        return [
            DiscussionEvent(int(r["uid"]), why[int(r["rank"])], _comment(r), r["title"])
            for r in rows
        ]

    def notifications_seen(self, user_id: int) -> datetime | None:
        """When the user last opened their notifications."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(notification_reads.c.seen_at).where(notification_reads.c.user_id == user_id)
            ).scalar_one_or_none()
        return utc(value)

    def mark_notifications_seen(self, user_id: int, when: datetime) -> None:
        """Remember that the user has read their notifications up to `when`."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(notification_reads)
                .where(notification_reads.c.user_id == user_id)
                .values(seen_at=when)
            )
            if not done.rowcount:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(notification_reads).values(user_id=user_id, seen_at=when)
                        )
                except IntegrityError:
                    conn.execute(
                        update(notification_reads)
                        .where(notification_reads.c.user_id == user_id)
                        .values(seen_at=when)
                    )

    # ----- verified email ---------------------------------------------------------------------

    def mark_email_verified(self, user_id: int, email: str) -> bool:
        """Record that the user confirmed `email`; False when the account's address is another by
        now."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users)
                .where(and_(users.c.id == user_id, func.lower(users.c.email) == email.lower()))
                .values(email_verified_at=func.coalesce(users.c.email_verified_at, now_utc()))
            )
        return bool(done.rowcount)
