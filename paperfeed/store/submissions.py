"""Papers submitted by arXiv id: queued until fetched, done or failed."""

from __future__ import annotations

from sqlalchemy import Engine, and_, insert, select, update

from paperfeed.store.community import (
    Submission,
    _submission,
)
from paperfeed.store.runs import now_utc
from paperfeed.store.schema import (
    submissions,
)


class SubmissionRepo:
    """The submission queue."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
                    .where(
                        and_(submissions.c.arxiv_id == arxiv_id, submissions.c.status == "queued")
                    )
                    .order_by(submissions.c.id)
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return _submission(row) if row else None

    def list_submissions(
        self, status: str | None = None, user_id: int | None = None, limit: int = 100
    ) -> list[Submission]:
        """Submissions, oldest first, optionally by status or user."""
        query = select(submissions)
        if status:
            query = query.where(submissions.c.status == status)
        if user_id is not None:
            query = query.where(submissions.c.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(submissions.c.id).limit(limit)).mappings()
            return [_submission(r) for r in rows]

    def finish_submission(
        self, submission_id: int, status: str, paper_id: int | None = None, error: str | None = None
    ) -> None:
        """Record how a queued submission ended (or the error of a failed retry, still queued)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(submissions)
                .where(submissions.c.id == submission_id)
                .values(status=status, paper_id=paper_id, error=error)
            )

