"""Community data shared by the community repositories: records and row converters.

The repositories: store/users.py, store/votes.py, store/collections.py, store/submissions.py.

Every query is SQLAlchemy Core with bound parameters. Ownership is enforced in the queries
themselves (`WHERE user_id = :owner`), so a caller cannot change another user's rows by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, RowMapping, Select, func, select

from paperfeed.core.models import User
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import (
    collection_papers,
    collections,
    papers,
    users,
    votes,
)


@dataclass(frozen=True)
class PaperVotes:
    """The facts ranking needs about one paper: its day, first sighting and both upvote counts."""

    paper_id: int
    day: date
    first_seen_at: datetime
    external_upvotes: int
    votes: int


@dataclass(frozen=True)
class Collection:
    """A named list of papers owned by a user."""

    id: int
    user_id: int
    owner: str
    name: str
    description: str
    is_public: bool
    created_at: datetime
    paper_count: int = 0


@dataclass(frozen=True)
class ApiToken:
    """A personal API token (the secret itself is never stored, only its SHA-256)."""

    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class Submission:
    """A paper submitted by arXiv id: fetched at once, or queued while arXiv is unreachable."""

    id: int
    user_id: int | None
    arxiv_id: str
    status: str  # queued | done | failed
    paper_id: int | None
    error: str | None
    created_at: datetime


def _user(row: RowMapping) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        created_at=utc(row["created_at"]) or now_utc(),
        is_admin=bool(row["is_admin"]),
        email_verified=row.get("email_verified_at") is not None,
    )


def _collection(row: RowMapping) -> Collection:
    return Collection(
        id=row["id"],
        user_id=row["user_id"],
        owner=row["owner"],
        name=row["name"],
        description=row["description"],
        is_public=bool(row["is_public"]),
        created_at=utc(row["created_at"]) or now_utc(),
        paper_count=int(row["paper_count"] or 0),
    )


def _submission(row: RowMapping) -> Submission:
    return Submission(
        id=row["id"],
        user_id=row["user_id"],
        arxiv_id=row["arxiv_id"],
        status=row["status"],
        paper_id=row["paper_id"],
        error=row["error"],
        created_at=utc(row["created_at"]) or now_utc(),
    )




_VOTE_COUNTS = (
    select(votes.c.paper_id, func.count().label("n"))
    .group_by(votes.c.paper_id)
    .subquery("vote_counts")
)


def _collection_query() -> Select[Any]:
    counts = (
        select(collection_papers.c.collection_id, func.count().label("n"))
        .group_by(collection_papers.c.collection_id)
        .subquery("collection_counts")
    )
    return (
        select(
            collections,
            users.c.username.label("owner"),
            func.coalesce(counts.c.n, 0).label("paper_count"),
        )
        .join(users, users.c.id == collections.c.user_id)
        .outerjoin(counts, counts.c.collection_id == collections.c.id)
    )



def paper_exists(engine: Engine, paper_id: int) -> bool:
    """Whether a paper id is stored."""
    with engine.connect() as conn:
        return conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is not None


# ----- labs (groups) ---------------------------------------------------------------------------

ROLES = ("owner", "admin", "member")


@dataclass(frozen=True)
class Group:
    """A lab: a named set of members."""

    id: int
    name: str
    description: str
    is_private: bool
    created_at: datetime
    member_count: int = 0


@dataclass(frozen=True)
class Member:
    """A member of a group."""

    user_id: int
    username: str
    email: str
    role: str
    digest: bool
    joined_at: datetime
    email_verified: bool = False


@dataclass(frozen=True)
class Invite:
    """An invitation (a link for anyone holding it, or for one email address)."""

    id: int
    group_id: int
    email: str | None
    role: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class FeedItem:
    """A paper the group's members upvoted or collected in a window."""

    paper_id: int
    upvoters: tuple[str, ...]
    collectors: tuple[str, ...]
    last_at: datetime


def group_from_row(row: RowMapping) -> Group:
    """A Group from a row of the groups query (with its member count)."""
    return Group(int(row["id"]), row["name"], row["description"], bool(row["is_private"]),
                 utc(row["created_at"]) or now_utc(), int(row.get("member_count") or 0))


def invite_from_row(row: RowMapping) -> Invite:
    """An Invite from a group_invites row."""
    return Invite(
        int(row["id"]),
        int(row["group_id"]),
        row["email"],
        row["role"],
        utc(row["created_at"]) or now_utc(),
        utc(row["expires_at"]) or now_utc(),
        utc(row["used_at"]),
        utc(row["revoked_at"]),
    )
