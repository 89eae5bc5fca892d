"""Ingest runs: when each ingest started and ended, with its counts or its error."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, RowMapping, desc, insert, select, update

from paperfeed.core.models import IngestCounts
from paperfeed.store.schema import ingest_runs


def utc(value: datetime | None) -> datetime | None:
    """Make a datetime read back from the database timezone-aware (UTC)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def now_utc() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class IngestRun:
    """One recorded ingest."""

    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: IngestCounts
    error: str | None

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "id": self.id,
            "source": self.source,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "new": self.counts.new,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "rejected": self.counts.rejected,
            "error": self.error,
        }


class RunRepo:
    """Recording ingest runs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start_run(self, source: str) -> int:
        """Record that an ingest of `source` started; return its id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(ingest_runs)
                .values(source=source[:2000], started_at=now_utc(), status="running")
                .returning(ingest_runs.c.id)
            )
            return int(result.scalar_one())

    def finish_run(
        self, run_id: int, counts: IngestCounts | None, error: str | None = None
    ) -> None:
        """Record how the run ended: ok with counts, or failed with an error.

        counts None keeps the counts its committed batches added (add_run_counts), so a failed run
        says what it stored.
        """
        values: dict[str, object] = {
            "finished_at": now_utc(),
            "status": "failed" if error else "ok",
            "error": error,
        }
        if counts is not None:
            values.update(
                new=counts.new,
                updated=counts.updated,
                unchanged=counts.unchanged,
                rejected=counts.rejected,
            )
        with self.engine.begin() as conn:
            conn.execute(update(ingest_runs).where(ingest_runs.c.id == run_id).values(values))

    def recent_runs(self, limit: int = 10) -> list[IngestRun]:
        """The newest runs first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ingest_runs).order_by(desc(ingest_runs.c.id)).limit(limit)
            ).mappings()
            return [_run(r) for r in rows]

    def last_successful_run(self) -> IngestRun | None:
        """The newest run that finished without error."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(ingest_runs)
                    .where(ingest_runs.c.status == "ok")
                    .order_by(desc(ingest_runs.c.id))
                    .limit(1)
                )
                .mappings()
                .first()
            )
            return _run(row) if row else None


def add_run_counts(conn: Connection, run_id: int, counts: IngestCounts) -> None:
    """Add a committed batch's counts to its run, in the batch's own transaction: a run killed later
    (kill -9) still says what it stored."""
    c = ingest_runs.c
    conn.execute(
        update(ingest_runs)
        .where(c.id == run_id)
        .values(
            new=c.new + counts.new,
            updated=c.updated + counts.updated,
            unchanged=c.unchanged + counts.unchanged,
            rejected=c.rejected + counts.rejected,
        )
    )


def _run(row: RowMapping) -> IngestRun:
    started = utc(row["started_at"])
    assert started is not None
    return IngestRun(
        id=row["id"],
        source=row["source"],
        started_at=started,
        finished_at=utc(row["finished_at"]),
        status=row["status"],
        counts=IngestCounts(row["new"], row["updated"], row["unchanged"], row["rejected"]),
        error=row["error"],
    )
