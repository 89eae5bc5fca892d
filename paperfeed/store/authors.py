"""Authors: the papers whose author lists match a name prefilter, upvotes per month, claims,
submitters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, RowMapping, Select, and_, desc, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import Conflict, NotFound
from paperfeed.core.models import Paper
from paperfeed.store.paper_rows import row_to_paper
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import papers, submissions, users, votes
from paperfeed.store.social_schema import paper_claims

_CHUNK = 500
CLAIM_STATES = ("pending", "confirmed", "rejected")


@dataclass(frozen=True)
class Claim:
    """A user's claim to be an author of a paper."""

    paper_id: int
    user_id: int
    username: str
    author: str
    status: str
    method: str
    created_at: datetime
    decided_at: datetime | None = None
    paper_title: str = ""


def _claim(row: RowMapping) -> Claim:
    return Claim(
        int(row["paper_id"]),
        int(row["user_id"]),
        row["username"],
        row["author"],
        row["status"],
        row["method"],
        utc(row["created_at"]) or now_utc(),
        utc(row["decided_at"]),
        row["title"],
    )


def _claims() -> Select[Any]:
    return (select(paper_claims, users.c.username, papers.c.title)
            .join(users, users.c.id == paper_claims.c.user_id)
            .join(papers, papers.c.id == paper_claims.c.paper_id))


class AuthorRepo:
    """Author pages, authorship claims and who submitted a paper."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def papers_matching_authors(self, pattern: str, limit: int = 5000) -> list[Paper]:
        """Papers whose lower-cased author list matches a LIKE pattern, newest day first (a
        prefilter)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(papers).where(func.lower(papers.c.authors).like(pattern))
                .order_by(desc(papers.c.day), desc(papers.c.id)).limit(limit)
            ).mappings()
            return [row_to_paper(r) for r in rows]

    def votes_by_month(self, paper_ids: Sequence[int]) -> dict[str, int]:
        """Community upvotes of these papers per month they were cast ('YYYY-MM')."""
        out: dict[str, int] = {}
        ids = list(paper_ids)
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _CHUNK):
                for (when,) in conn.execute(
                    select(votes.c.created_at).where(votes.c.paper_id.in_(ids[i : i + _CHUNK]))
                ):
                    stamp = utc(when)
                    if stamp is not None:
                        key = f"{stamp.year:04d}-{stamp.month:02d}"
                        out[key] = out.get(key, 0) + 1
        return out

    # ----- claims -----------------------------------------------------------------------------

    def add_claim(
        self, paper_id: int, user_id: int, author: str, status: str, method: str
    ) -> Claim:
        """Record a claim; Conflict when this user already claimed the paper."""
        now = now_utc()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(paper_claims).values(
                    paper_id=paper_id, user_id=user_id, author=author, status=status, method=method,
                    created_at=now, decided_at=now if status != "pending" else None))
        except IntegrityError:
            raise Conflict("you have already claimed this paper") from None
        found = self.get_claim(paper_id, user_id)
        assert found is not None
        return found

    def get_claim(self, paper_id: int, user_id: int) -> Claim | None:
        """One claim."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    _claims().where(
                        and_(paper_claims.c.paper_id == paper_id, paper_claims.c.user_id == user_id)
                    )
                )
                .mappings()
                .first()
            )
        return _claim(row) if row else None

    def decide_claim(self, paper_id: int, user_id: int, status: str) -> Claim:
        """Confirm or reject a pending claim; NotFound when there is none."""
        with self.engine.begin() as conn:
            done = conn.execute(update(paper_claims).where(and_(
                paper_claims.c.paper_id == paper_id, paper_claims.c.user_id == user_id,
                paper_claims.c.status == "pending",
            )).values(status=status, method="admin", decided_at=now_utc()))
        if not done.rowcount:
            raise NotFound(f"no pending claim of user {user_id} on paper {paper_id}")
        found = self.get_claim(paper_id, user_id)
        assert found is not None
        return found

    def claims(
        self,
        status: str | None = None,
        paper_id: int | None = None,
        user_id: int | None = None,
        limit: int = 500,
    ) -> list[Claim]:
        """Claims, oldest first, by state, paper or user."""
        query = _claims()
        if status is not None:
            query = query.where(paper_claims.c.status == status)
        if paper_id is not None:
            query = query.where(paper_claims.c.paper_id == paper_id)
        if user_id is not None:
            query = query.where(paper_claims.c.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(paper_claims.c.created_at).limit(limit)).mappings()
            return [_claim(r) for r in rows]

    def confirmed_claims(self, paper_ids: Sequence[int]) -> dict[int, list[Claim]]:
        """Confirmed claims per paper."""
        out: dict[int, list[Claim]] = {}
        ids = list(paper_ids)
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _CHUNK):
                rows = conn.execute(
                    _claims().where(
                        and_(
                            paper_claims.c.paper_id.in_(ids[i : i + _CHUNK]),
                            paper_claims.c.status == "confirmed",
                        )
                    )
                ).mappings()
                for r in rows:
                    out.setdefault(int(r["paper_id"]), []).append(_claim(r))
        return out

    # ----- submitted by -----------------------------------------------------------------------

    def submitters(self, paper_ids: Sequence[int]) -> dict[int, str]:
        """Who first submitted each paper (papers that came from a source are absent)."""
        out: dict[int, str] = {}
        ids = list(paper_ids)
        with self.engine.connect() as conn:
            for i in range(0, len(ids), _CHUNK):
                rows = conn.execute(
                    select(submissions.c.paper_id, users.c.username)
                    .join(users, users.c.id == submissions.c.user_id)
                    .where(
                        and_(
                            submissions.c.paper_id.in_(ids[i : i + _CHUNK]),
                            submissions.c.status == "done",
                        )
                    )
                    .order_by(submissions.c.id)
                )
                for pid, name in rows:
                    out.setdefault(int(pid), str(name))
        return out


def month_key(d: date) -> str:
    """'YYYY-MM' of a day."""
    return f"{d.year:04d}-{d.month:02d}"
