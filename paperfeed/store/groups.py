"""Labs (groups): members with roles, invites, shared collections, the group feed, weekly digest
sends.

Membership checks live in the queries the use cases call (`member_role`); this module never decides
who may do what, it only reports facts and writes rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, case, delete, desc, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import NotFound
from paperfeed.core.models import User
from paperfeed.store.community import (
    Collection,
    FeedItem,
    Group,
    Invite,
    Member,
    _collection as collection_from_row,
    _collection_query as collection_query,
    group_from_row,
    invite_from_row,
)
from paperfeed.store.group_feed import feed_items
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import collections, users
from paperfeed.store.social_schema import (
    group_collections,
    group_digest_sends,
    group_invites,
    group_members,
    groups,
)


def _groups_query() -> Select[Any]:
    # A correlated count walks only this group's part of the (group_id, user_id) key.
    count = (
        select(func.count())
        .select_from(group_members)
        .where(group_members.c.group_id == groups.c.id)
        .correlate_except(group_members)
        .scalar_subquery()
    )
    return select(groups, count.label("member_count"))


class GroupRepo:
    """Groups, members, invites, shared collections, feed, digest sends."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_group(self, owner_id: int, name: str, description: str, is_private: bool) -> Group:
        """Create a group with its creator as owner."""
        now = now_utc()
        with self.engine.begin() as conn:
            gid = conn.execute(
                insert(groups)
                .values(
                    name=name,
                    description=description,
                    is_private=int(is_private),
                    created_by=owner_id,
                    created_at=now,
                )
                .returning(groups.c.id)
            ).scalar_one()
            conn.execute(
                insert(group_members).values(
                    group_id=gid, user_id=owner_id, role="owner", joined_at=now
                )
            )
        found = self.get_group(int(gid))
        assert found is not None
        return found

    def get_group(self, group_id: int) -> Group | None:
        """One group by id (visibility is the caller's rule)."""
        with self.engine.connect() as conn:
            row = conn.execute(_groups_query().where(groups.c.id == group_id)).mappings().first()
        return group_from_row(row) if row else None

    def user_groups(self, user_id: int) -> list[tuple[Group, str]]:
        """The groups a user belongs to, with their role, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                _groups_query()
                .add_columns(group_members.c.role)
                .join(
                    group_members,
                    and_(
                        group_members.c.group_id == groups.c.id, group_members.c.user_id == user_id
                    ),
                )
                .order_by(groups.c.name, groups.c.id)
            ).mappings()
            return [(group_from_row(r), r["role"]) for r in rows]

    def all_groups(self) -> list[Group]:
        """Every group (the digest job)."""
        with self.engine.connect() as conn:
            return [
                group_from_row(r)
                for r in conn.execute(_groups_query().order_by(groups.c.id)).mappings()
            ]

    def member_role(self, group_id: int, user_id: int | None) -> str | None:
        """The user's role in the group, None when not a member."""
        if user_id is None:
            return None
        with self.engine.connect() as conn:
            role = conn.execute(
                select(group_members.c.role).where(
                    and_(group_members.c.group_id == group_id, group_members.c.user_id == user_id)
                )
            ).scalar_one_or_none()
        return str(role) if role is not None else None

    def member_digest(self, group_id: int, user_id: int) -> bool:
        """Whether this member wants the weekly group digest (False for non-members)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(group_members.c.digest).where(
                    and_(group_members.c.group_id == group_id, group_members.c.user_id == user_id)
                )
            ).scalar_one_or_none()
        return bool(value)

    def member_group_ids(self, user_id: int | None) -> set[int]:
        """Ids of the groups the user belongs to."""
        if user_id is None:
            return set()
        with self.engine.connect() as conn:
            return {
                int(g)
                for g in conn.execute(
                    select(group_members.c.group_id).where(group_members.c.user_id == user_id)
                ).scalars()
            }

    def members(self, group_id: int, limit: int = 100_000) -> list[Member]:
        """A group's members, owners and admins first."""
        rank = case({"owner": 0, "admin": 1}, value=group_members.c.role, else_=2)
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(
                        group_members, users.c.username, users.c.email, users.c.email_verified_at
                    )
                    .join(users, users.c.id == group_members.c.user_id)
                    .where(group_members.c.group_id == group_id)
                    .order_by(rank, users.c.username)
                    .limit(limit)
                )
                .mappings()
                .all()
            )
        return [
            Member(
                int(r["user_id"]),
                r["username"],
                r["email"],
                r["role"],
                bool(r["digest"]),
                utc(r["joined_at"]) or now_utc(),
                r["email_verified_at"] is not None,
            )
            for r in rows
        ]

    def add_member(self, group_id: int, user_id: int, role: str) -> bool:
        """Add a member; False when already one (their role is kept)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(group_members).values(
                        group_id=group_id, user_id=user_id, role=role, joined_at=now_utc()
                    )
                )
        except IntegrityError:
            return False
        return True

    def set_member(
        self, group_id: int, user_id: int, role: str | None = None, digest: bool | None = None
    ) -> None:
        """Change a member's role or digest choice; NotFound when not a member."""
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = role
        if digest is not None:
            values["digest"] = int(digest)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(group_members)
                .where(
                    and_(group_members.c.group_id == group_id, group_members.c.user_id == user_id)
                )
                .values(values)
            )
        if not done.rowcount:
            raise NotFound(f"user {user_id} is not a member of group {group_id}")

    def remove_member(self, group_id: int, user_id: int) -> None:
        """Remove a member and, in the same transaction, unshare their collections from the group.

        A shared collection is read through its owner's membership (F1): one who left must not leave
        a private collection readable by the lab, with no way back in to unshare it.
        """
        owned = select(collections.c.id).where(collections.c.user_id == user_id).scalar_subquery()
        with self.engine.begin() as conn:
            conn.execute(delete(group_members).where(and_(
                group_members.c.group_id == group_id, group_members.c.user_id == user_id)))
            conn.execute(
                delete(group_collections).where(
                    and_(
                        group_collections.c.group_id == group_id,
                        group_collections.c.collection_id.in_(owned),
                    )
                )
            )

    def count_role(self, group_id: int, role: str) -> int:
        """How many members have this role."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(group_members).where(and_(
                group_members.c.group_id == group_id, group_members.c.role == role))).scalar_one())

    # ----- invites ----------------------------------------------------------------------------

    def add_invite(
        self,
        group_id: int,
        token_hash: str,
        email: str | None,
        role: str,
        created_by: int,
        expires_at: datetime,
    ) -> Invite:
        """Record an invite by the hash of its token."""
        with self.engine.begin() as conn:
            iid = conn.execute(
                insert(group_invites)
                .values(
                    group_id=group_id,
                    token_hash=token_hash,
                    email=email,
                    role=role,
                    created_by=created_by,
                    created_at=now_utc(),
                    expires_at=expires_at,
                )
                .returning(group_invites.c.id)
            ).scalar_one()
            row = (
                conn.execute(select(group_invites).where(group_invites.c.id == iid))
                .mappings()
                .one()
            )
        return invite_from_row(row)

    def invite_by_token(self, token_hash: str) -> Invite | None:
        """The invite a token belongs to."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(group_invites).where(group_invites.c.token_hash == token_hash))
                .mappings()
                .first()
            )
        return invite_from_row(row) if row else None

    def group_invites(self, group_id: int) -> list[Invite]:
        """A group's invites, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(group_invites).where(group_invites.c.group_id == group_id)
                                .order_by(desc(group_invites.c.id)).limit(100)).mappings()
            return [invite_from_row(r) for r in rows]

    def use_invite(self, invite_id: int) -> bool:
        """Mark a one-address invite used; False when it was used already (two accepts race)."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(group_invites)
                .where(and_(group_invites.c.id == invite_id, group_invites.c.used_at.is_(None)))
                .values(used_at=now_utc())
            )
        return bool(done.rowcount)

    def revoke_invite(self, group_id: int, invite_id: int) -> None:
        """Revoke an invite of this group; NotFound otherwise."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(group_invites)
                .where(and_(group_invites.c.id == invite_id, group_invites.c.group_id == group_id))
                .values(revoked_at=now_utc())
            )
        if not done.rowcount:
            raise NotFound(f"no invite {invite_id} in this group")

    # ----- shared collections -----------------------------------------------------------------

    def share_collection(self, group_id: int, collection_id: int, user_id: int) -> bool:
        """Share a collection with a group; False when it already was."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(group_collections).values(
                        group_id=group_id,
                        collection_id=collection_id,
                        shared_by=user_id,
                        shared_at=now_utc(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def is_shared(self, group_id: int, collection_id: int) -> bool:
        """Whether the collection is shared with the group."""
        with self.engine.connect() as conn:
            return conn.execute(select(group_collections.c.group_id).where(and_(
                group_collections.c.group_id == group_id,
                group_collections.c.collection_id == collection_id))).first() is not None

    def unshare_collection(self, group_id: int, collection_id: int) -> bool:
        """Stop sharing a collection with a group."""
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(group_collections).where(
                    and_(
                        group_collections.c.group_id == group_id,
                        group_collections.c.collection_id == collection_id,
                    )
                )
            )
        return bool(done.rowcount)

    def shared_collection_ids(self, group_id: int) -> list[int]:
        """Ids of the collections shared with a group, newest share first."""
        with self.engine.connect() as conn:
            return [
                int(c)
                for c in conn.execute(
                    select(group_collections.c.collection_id)
                    .where(group_collections.c.group_id == group_id)
                    .order_by(desc(group_collections.c.shared_at))
                ).scalars()
            ]

    def shared_collections(self, group_id: int) -> list[Collection]:
        """The collections shared with a group, newest share first (one query)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                collection_query()
                .join(
                    group_collections,
                    and_(
                        group_collections.c.collection_id == collections.c.id,
                        group_collections.c.group_id == group_id,
                    ),
                )
                .order_by(desc(group_collections.c.shared_at))
            ).mappings()
            return [collection_from_row(r) for r in rows]

    def collection_shared_with(self, collection_id: int, user_id: int | None) -> bool:
        """Whether the collection is shared with a group the user belongs to."""
        if user_id is None:
            return False
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(group_collections.c.group_id)
                    .join(group_members, group_members.c.group_id == group_collections.c.group_id)
                    .where(
                        and_(
                            group_collections.c.collection_id == collection_id,
                            group_members.c.user_id == user_id,
                        )
                    )
                    .limit(1)
                ).first()
                is not None
            )

    # ----- the feed ---------------------------------------------------------------------------

    def group_feed(self, group_id: int, since: datetime, until: datetime, limit: int = 100,
                   members_view: bool = True) -> list[FeedItem]:
        """Papers the members upvoted, or that were added to collections shared with the group, in
        (since, until].

        `members_view=False` is what a non-member of a public lab reads (F2): votes are private to
        the lab, so none of them, and only what was added to *public* shared collections.
        """
        with self.engine.connect() as conn:
            return feed_items(conn, group_id, since, until, limit, members_view)

    # ----- weekly digest sends ----------------------------------------------------------------

    def claim_group_send(self, group_id: int, user_id: int, week: str) -> bool:
        """Take the (group, member, week) send; False when someone already did."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(group_digest_sends).values(
                        group_id=group_id,
                        user_id=user_id,
                        week=week,
                        status="sending",
                        created_at=now_utc(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def finish_group_send(
        self, group_id: int, user_id: int, week: str, status: str, error: str | None = None
    ) -> None:
        """Record how a group digest send ended; 'retry' frees the claim for the next run."""
        with self.engine.begin() as conn:
            where = and_(
                group_digest_sends.c.group_id == group_id,
                group_digest_sends.c.user_id == user_id,
                group_digest_sends.c.week == week,
            )
            if status == "retry":
                conn.execute(delete(group_digest_sends).where(where))
            else:
                conn.execute(
                    update(group_digest_sends).where(where).values(status=status, error=error)
                )

    def group_sends(self, group_id: int, week: str | None = None) -> list[tuple[int, str, str]]:
        """(user id, week, status) of a group's digest sends."""
        query = select(
            group_digest_sends.c.user_id, group_digest_sends.c.week, group_digest_sends.c.status
        ).where(group_digest_sends.c.group_id == group_id)
        if week is not None:
            query = query.where(group_digest_sends.c.week == week)
        with self.engine.connect() as conn:
            return [(int(u), str(w), str(s)) for u, w, s in conn.execute(query)]

    def digest_members(self, group_id: int) -> list[User]:
        """Members who want the weekly group digest and whose address is verified."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(users).join(group_members, group_members.c.user_id == users.c.id)
                .where(and_(group_members.c.group_id == group_id, group_members.c.digest == 1,
                            users.c.email_verified_at.is_not(None)))
                .order_by(users.c.id)
            ).mappings()
            return [User(int(r["id"]), r["username"], r["email"], utc(r["created_at"]) or now_utc(),
                         bool(r["is_admin"]), True) for r in rows]

