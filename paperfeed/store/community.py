"""Community data: accounts, upvotes, collections, API tokens and queued submissions.

Every query is SQLAlchemy Core with bound parameters. Ownership is enforced in the queries
themselves (`WHERE user_id = :owner`), so a caller cannot change another user's rows by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, delete, desc, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import Conflict, NotFound
from paperfeed.core.models import Paper, User
from paperfeed.store.papers import filter_papers, row_to_paper
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import (
    api_tokens,
    collection_papers,
    collections,
    papers,
    submissions,
    users,
    votes,
)

_CHUNK = 500


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


def _user(row: Any) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        created_at=utc(row["created_at"]) or now_utc(),
        is_admin=bool(row["is_admin"]),
        email_verified=row.get("email_verified_at") is not None,
    )


def _collection(row: Any) -> Collection:
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


def _submission(row: Any) -> Submission:
    return Submission(
        id=row["id"],
        user_id=row["user_id"],
        arxiv_id=row["arxiv_id"],
        status=row["status"],
        paper_id=row["paper_id"],
        error=row["error"],
        created_at=utc(row["created_at"]) or now_utc(),
    )


def _chunks(items: Sequence[int]) -> list[Sequence[int]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


_VOTE_COUNTS = (
    select(votes.c.paper_id, func.count().label("n")).group_by(votes.c.paper_id).subquery("vote_counts")
)


def _collection_query() -> Any:
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


class CommunityStore:
    """Accounts, votes, collections, tokens, submissions."""

    engine: Engine

    # ----- users ------------------------------------------------------------------------------

    def create_user(self, username: str, email: str, password_hash: str) -> User:
        """Create an account; Conflict when the username or email is taken."""
        now = now_utc()
        with self.engine.connect() as conn:
            taken = conn.execute(
                select(users.c.username, users.c.email).where(
                    or_(func.lower(users.c.username) == username.lower(), func.lower(users.c.email) == email.lower())
                )
            ).first()
        if taken is not None:
            what = "username" if taken[0].lower() == username.lower() else "email"
            raise Conflict(f"that {what} is already registered")
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(
                    insert(users)
                    .values(username=username, email=email, password_hash=password_hash, created_at=now)
                    .returning(users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict("that username or email is already registered") from None
        return User(id=int(new_id), username=username, email=email, created_at=now)

    def get_user(self, user_id: int) -> User | None:
        """One account by id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
        return _user(row) if row else None

    def get_user_by_name(self, username: str) -> User | None:
        """One account by username (case-insensitive)."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(users).where(func.lower(users.c.username) == username.lower()))
                .mappings()
                .first()
            )
        return _user(row) if row else None

    def list_users(self, limit: int = 10_000) -> list[User]:
        """Accounts, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.id).limit(limit)).mappings().all()
        return [_user(r) for r in rows]

    def user_credentials(self, login: str) -> tuple[User, str] | None:
        """The account and password hash for a username or email (case-insensitive)."""
        key = login.strip().lower()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(users).where(
                        or_(func.lower(users.c.username) == key, func.lower(users.c.email) == key)
                    )
                )
                .mappings()
                .first()
            )
        return (_user(row), row["password_hash"]) if row else None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's password hash (after a rehash with newer parameters)."""
        with self.engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    def set_admin(self, username: str, is_admin: bool = True) -> User:
        """Grant or revoke administrator rights (the digest delivery log); NotFound if no such user."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users).where(func.lower(users.c.username) == username.lower()).values(is_admin=int(is_admin))
            )
        if done.rowcount == 0:
            raise NotFound(f"no user named {username!r}")
        user = self.get_user_by_name(username)
        assert user is not None
        return user

    def count_users(self) -> int:
        """How many accounts exist."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    # ----- votes ------------------------------------------------------------------------------

    def add_vote(self, user_id: int, paper_id: int) -> bool:
        """Upvote a paper; False when this user already had (the primary key refuses a second row)."""
        if not self._paper_exists(paper_id):
            raise NotFound(f"no paper {paper_id}")
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(votes).values(user_id=user_id, paper_id=paper_id, created_at=now_utc()))
        except IntegrityError:
            return False
        return True

    def remove_vote(self, user_id: int, paper_id: int) -> bool:
        """Take back an upvote; False when there was none."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(votes).where(and_(votes.c.user_id == user_id, votes.c.paper_id == paper_id))
            )
        return bool(result.rowcount)

    def vote_counts(self, paper_ids: Sequence[int]) -> dict[int, int]:
        """Community upvotes per paper (papers without votes are absent)."""
        out: dict[int, int] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(paper_ids)):
                rows = conn.execute(
                    select(votes.c.paper_id, func.count())
                    .where(votes.c.paper_id.in_(chunk))
                    .group_by(votes.c.paper_id)
                )
                out.update({int(pid): int(n) for pid, n in rows})
        return out

    def voted_by(self, user_id: int, paper_ids: Sequence[int]) -> set[int]:
        """Which of these papers the user has upvoted."""
        found: set[int] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(paper_ids)):
                found.update(
                    conn.execute(
                        select(votes.c.paper_id).where(
                            and_(votes.c.user_id == user_id, votes.c.paper_id.in_(chunk))
                        )
                    ).scalars()
                )
        return found

    def user_voted_papers(self, user_id: int, limit: int = 100) -> list[Paper]:
        """Papers a user upvoted, most recent vote first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(papers)
                .join(votes, votes.c.paper_id == papers.c.id)
                .where(votes.c.user_id == user_id)
                .order_by(desc(votes.c.created_at), desc(papers.c.id))
                .limit(limit)
            ).mappings()
            return [row_to_paper(r) for r in rows]

    def paper_votes(
        self, since: date | None = None, until: date | None = None, category: str | None = None,
        paper_ids: Sequence[int] | None = None,
    ) -> list[PaperVotes]:
        """Ranking facts for the papers whose day lies in [since, until] (or for the given ids)."""
        query = select(
            papers.c.id, papers.c.day, papers.c.first_seen_at,
            func.coalesce(papers.c.external_upvotes, 0), func.coalesce(_VOTE_COUNTS.c.n, 0),
        ).outerjoin(_VOTE_COUNTS, _VOTE_COUNTS.c.paper_id == papers.c.id)
        query = filter_papers(query, since, until, category)
        rows: list[Any] = []
        with self.engine.connect() as conn:
            if paper_ids is not None:
                for chunk in _chunks(list(paper_ids)):
                    rows.extend(conn.execute(query.where(papers.c.id.in_(chunk))))
            else:
                rows = list(conn.execute(query))
        return [
            PaperVotes(int(r[0]), r[1], utc(r[2]) or now_utc(), int(r[3]), int(r[4])) for r in rows
        ]

    def community_stamp(self) -> tuple[Any, ...]:
        """A cheap value that changes whenever papers or votes change (cache keys use it)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    select(func.max(papers.c.updated_at)).scalar_subquery(),
                    select(func.count()).select_from(votes).scalar_subquery(),
                    select(func.max(votes.c.created_at)).scalar_subquery(),
                    select(func.count()).select_from(collection_papers).scalar_subquery(),
                    select(func.max(collection_papers.c.added_at)).scalar_subquery(),
                )
            ).one()
        return tuple(row)

    def _paper_exists(self, paper_id: int) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is not None

    def category_counts(self) -> dict[str, int]:
        """Papers per primary category."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(papers.c.primary_category, func.count())
                .where(papers.c.primary_category.is_not(None))
                .group_by(papers.c.primary_category)
            )
            return {str(c): int(n) for c, n in rows}

    # ----- collections ------------------------------------------------------------------------

    def create_collection(self, user_id: int, name: str, description: str = "", is_public: bool = False) -> Collection:
        """Create a collection owned by `user_id`."""
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(collections)
                .values(
                    user_id=user_id, name=name, description=description,
                    is_public=int(is_public), created_at=now_utc(),
                )
                .returning(collections.c.id)
            ).scalar_one()
        found = self.get_collection(int(new_id))
        assert found is not None
        return found

    def get_collection(self, collection_id: int) -> Collection | None:
        """One collection by id (visibility is the caller's check)."""
        with self.engine.connect() as conn:
            row = conn.execute(_collection_query().where(collections.c.id == collection_id)).mappings().first()
        return _collection(row) if row else None

    def user_collections(self, user_id: int, public_only: bool = False) -> list[Collection]:
        """A user's collections, newest first."""
        query = _collection_query().where(collections.c.user_id == user_id)
        if public_only:
            query = query.where(collections.c.is_public == 1)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(desc(collections.c.created_at), desc(collections.c.id))).mappings()
            return [_collection(r) for r in rows]

    def collections_with_paper(self, paper_id: int, viewer_id: int | None = None) -> list[Collection]:
        """Collections holding a paper that the viewer may see: public ones and the viewer's own."""
        visible = collections.c.is_public == 1
        if viewer_id is not None:
            visible = or_(visible, collections.c.user_id == viewer_id)
        query = _collection_query().where(
            and_(
                visible,
                collections.c.id.in_(
                    select(collection_papers.c.collection_id).where(collection_papers.c.paper_id == paper_id)
                ),
            )
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(collections.c.name, collections.c.id).limit(100)).mappings()
            return [_collection(r) for r in rows]

    def update_collection(
        self, owner_id: int, collection_id: int, name: str | None = None,
        description: str | None = None, is_public: bool | None = None,
    ) -> Collection:
        """Change an owned collection; NotFound when it does not exist or is someone else's."""
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = name
        if description is not None:
            values["description"] = description
        if is_public is not None:
            values["is_public"] = int(is_public)
        self._owned(owner_id, collection_id)
        if values:
            with self.engine.begin() as conn:
                conn.execute(
                    update(collections)
                    .where(and_(collections.c.id == collection_id, collections.c.user_id == owner_id))
                    .values(values)
                )
        found = self.get_collection(collection_id)
        assert found is not None
        return found

    def delete_collection(self, owner_id: int, collection_id: int) -> None:
        """Delete an owned collection; NotFound otherwise."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(collections).where(
                    and_(collections.c.id == collection_id, collections.c.user_id == owner_id)
                )
            )
        if not result.rowcount:
            raise NotFound(f"no collection {collection_id} of yours")

    def add_to_collection(self, owner_id: int, collection_id: int, paper_id: int) -> bool:
        """Put a paper in an owned collection; False when it was already there."""
        self._owned(owner_id, collection_id)
        if not self._paper_exists(paper_id):
            raise NotFound(f"no paper {paper_id}")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(collection_papers).values(
                        collection_id=collection_id, paper_id=paper_id, added_at=now_utc()
                    )
                )
        except IntegrityError:
            return False
        return True

    def remove_from_collection(self, owner_id: int, collection_id: int, paper_id: int) -> bool:
        """Take a paper out of an owned collection; False when it was not there."""
        self._owned(owner_id, collection_id)
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(collection_papers).where(
                    and_(
                        collection_papers.c.collection_id == collection_id,
                        collection_papers.c.paper_id == paper_id,
                    )
                )
            )
        return bool(result.rowcount)

    def collection_papers(self, collection_id: int, limit: int = 1000) -> list[Paper]:
        """The papers in a collection, most recently added first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(papers)
                .join(collection_papers, collection_papers.c.paper_id == papers.c.id)
                .where(collection_papers.c.collection_id == collection_id)
                .order_by(desc(collection_papers.c.added_at), desc(papers.c.id))
                .limit(limit)
            ).mappings()
            return [row_to_paper(r) for r in rows]

    def _owned(self, owner_id: int, collection_id: int) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(collections.c.id).where(
                    and_(collections.c.id == collection_id, collections.c.user_id == owner_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"no collection {collection_id} of yours")

    # ----- API tokens -------------------------------------------------------------------------

    def create_token(self, user_id: int, name: str, token_hash: str) -> ApiToken:
        """Record a new token by its hash."""
        now = now_utc()
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(api_tokens)
                .values(user_id=user_id, name=name, token_hash=token_hash, created_at=now)
                .returning(api_tokens.c.id)
            ).scalar_one()
        return ApiToken(int(new_id), user_id, name, now, None)

    def user_tokens(self, user_id: int) -> list[ApiToken]:
        """A user's tokens, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(desc(api_tokens.c.id))
            ).mappings()
            return [
                ApiToken(r["id"], r["user_id"], r["name"], utc(r["created_at"]) or now_utc(), utc(r["last_used_at"]))
                for r in rows
            ]

    def revoke_token(self, owner_id: int, token_id: int) -> None:
        """Delete an owned token; NotFound otherwise."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(api_tokens).where(and_(api_tokens.c.id == token_id, api_tokens.c.user_id == owner_id))
            )
        if not result.rowcount:
            raise NotFound(f"no token {token_id} of yours")

    def user_for_token(self, token_hash: str) -> User | None:
        """The account a token hash belongs to; notes the use (at most once a minute)."""
        now = now_utc()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(users, api_tokens.c.id.label("token_id"), api_tokens.c.last_used_at)
                    .join(api_tokens, api_tokens.c.user_id == users.c.id)
                    .where(api_tokens.c.token_hash == token_hash)
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        last = utc(row["last_used_at"])
        if last is None or now - last > timedelta(minutes=1):
            with self.engine.begin() as conn:
                conn.execute(
                    update(api_tokens).where(api_tokens.c.id == row["token_id"]).values(last_used_at=now)
                )
        return _user(row)

    # ----- submissions ------------------------------------------------------------------------

    def add_submission(
        self, user_id: int | None, arxiv_id: str, status: str,
        paper_id: int | None = None, error: str | None = None,
    ) -> Submission:
        """Record a submission (done at once, or queued for a later retry)."""
        now = now_utc()
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(submissions)
                .values(
                    user_id=user_id, arxiv_id=arxiv_id, status=status,
                    paper_id=paper_id, error=error, created_at=now,
                )
                .returning(submissions.c.id)
            ).scalar_one()
        return Submission(int(new_id), user_id, arxiv_id, status, paper_id, error, now)

    def queued_submission(self, arxiv_id: str) -> Submission | None:
        """The queued submission of this arXiv id, if one waits."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(submissions)
                    .where(and_(submissions.c.arxiv_id == arxiv_id, submissions.c.status == "queued"))
                    .order_by(submissions.c.id)
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return _submission(row) if row else None

    def list_submissions(self, status: str | None = None, user_id: int | None = None, limit: int = 100) -> list[Submission]:
        """Submissions, oldest first, optionally by status or user."""
        query = select(submissions)
        if status:
            query = query.where(submissions.c.status == status)
        if user_id is not None:
            query = query.where(submissions.c.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(submissions.c.id).limit(limit)).mappings()
            return [_submission(r) for r in rows]

    def finish_submission(self, submission_id: int, status: str, paper_id: int | None = None, error: str | None = None) -> None:
        """Record how a queued submission ended (or the error of a failed retry, still queued)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(submissions)
                .where(submissions.c.id == submission_id)
                .values(status=status, paper_id=paper_id, error=error)
            )
