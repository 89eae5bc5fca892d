"""Upvotes (one per user per paper), vote counts and the data stamp caches key on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, desc, func, insert, select
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import NotFound
from paperfeed.core.models import Paper
from paperfeed.core.util import chunks
from paperfeed.store.community import (
    _VOTE_COUNTS,
    PaperVotes,
    paper_exists,
)
from paperfeed.store.paper_rows import filter_papers, row_to_paper
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import (
    collection_papers,
    collections,
    papers,
    votes,
)


class VoteRepo:
    """Upvotes and what is counted from them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_vote(self, user_id: int, paper_id: int) -> bool:
        """Upvote a paper; False when this user already had (the primary key refuses a second
        row)."""
        if not paper_exists(self.engine, paper_id):
            raise NotFound(f"no paper {paper_id}")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(votes).values(user_id=user_id, paper_id=paper_id, created_at=now_utc())
                )
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
            for chunk in chunks(list(paper_ids)):
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
            for chunk in chunks(list(paper_ids)):
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
        # Undated papers have no age: they take part in no day list and no trending ranking.
        query = filter_papers(query, since, until, category).where(papers.c.day.is_not(None))
        rows: list[Any] = []
        with self.engine.connect() as conn:
            if paper_ids is not None:
                for chunk in chunks(list(paper_ids)):
                    rows.extend(conn.execute(query.where(papers.c.id.in_(chunk))))
            else:
                rows = list(conn.execute(query))
        return [
            PaperVotes(int(r[0]), r[1], utc(r[2]) or now_utc(), int(r[3]), int(r[4])) for r in rows
        ]

    def community_stamp(self) -> tuple[object, ...]:
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

    def category_counts(self) -> dict[str, int]:
        """Papers per primary category."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(papers.c.primary_category, func.count())
                .where(papers.c.primary_category.is_not(None))
                .group_by(papers.c.primary_category)
            )
            return {str(c): int(n) for c, n in rows}

    def vote_times(self, paper_id: int) -> list[datetime]:
        """When each community upvote of a paper was cast, oldest first (for its chart)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(votes.c.created_at).where(votes.c.paper_id == paper_id)
                                .order_by(votes.c.created_at)).scalars()
            return [utc(r) or now_utc() for r in rows]

    def papers_per_day(
        self, category: str, since: date | None, until: date | None = None
    ) -> list[tuple[date, int]]:
        """Papers per day in a category (primary or cross-listed) from `since`, oldest first."""
        query = filter_papers(select(papers.c.day, func.count()), since, until, category)
        with self.engine.connect() as conn:
            rows = conn.execute(query.group_by(papers.c.day).order_by(papers.c.day)).all()
        return [(r[0], int(r[1])) for r in rows if r[0] is not None]

    def reading_by_category(self, user_id: int) -> dict[str, tuple[int, int]]:
        """A user's upvoted and collected papers per primary category: code -> (upvoted,
        collected)."""
        cat = func.coalesce(papers.c.primary_category, "")
        with self.engine.connect() as conn:
            voted = conn.execute(
                select(cat, func.count())
                .select_from(votes.join(papers, papers.c.id == votes.c.paper_id))
                .where(votes.c.user_id == user_id)
                .group_by(cat)
            ).all()
            collected = conn.execute(
                select(cat, func.count(func.distinct(papers.c.id)))
                .select_from(
                    collection_papers.join(
                        collections, collections.c.id == collection_papers.c.collection_id
                    ).join(papers, papers.c.id == collection_papers.c.paper_id)
                )
                .where(collections.c.user_id == user_id)
                .group_by(cat)
            ).all()
        out: dict[str, tuple[int, int]] = {}
        for code, n in voted:
            out[str(code or "other")] = (int(n), 0)
        for code, n in collected:
            key = str(code or "other")
            out[key] = (out.get(key, (0, 0))[0], int(n))
        return out

    # ----- collections ------------------------------------------------------------------------

