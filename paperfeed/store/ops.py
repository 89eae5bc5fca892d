"""Facts operators watch (health checks, metrics): papers per source, ingest runs per source, due
digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, func, or_, select

from paperfeed.store.runs import utc
from paperfeed.store.schema import digest_deliveries, ingest_runs, paper_sources


@dataclass(frozen=True)
class SourceRuns:
    """The latest ingest runs of one source: last success, last failure and its error."""

    source: str
    last_success: datetime | None
    last_failure: datetime | None
    last_error: str | None


class OpsRepository:
    """Read-only queries for /readyz and /metrics (cheap: grouped counts and maxima)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ping(self) -> None:
        """Run one trivial query (raises when the database cannot be reached)."""
        with self.engine.connect() as conn:
            conn.execute(select(1)).scalar_one()

    def papers_per_source(self) -> dict[str, int]:
        """How many stored papers each source has contributed."""
        query = select(paper_sources.c.source, func.count()).group_by(paper_sources.c.source)
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(query)}

    def runs_by_source(self) -> dict[str, SourceRuns]:
        """Last successful and last failed ingest of every source that has runs."""
        ok = (select(ingest_runs.c.source, func.max(ingest_runs.c.finished_at))
              .where(ingest_runs.c.status == "ok").group_by(ingest_runs.c.source))
        bad = (select(ingest_runs.c.source, func.max(ingest_runs.c.id))
               .where(ingest_runs.c.status == "failed").group_by(ingest_runs.c.source))
        with self.engine.connect() as conn:
            success = {str(s): utc(t) for s, t in conn.execute(ok)}
            failed_ids = {str(s): int(i) for s, i in conn.execute(bad)}
            failures = {}
            if failed_ids:
                rows = conn.execute(
                    select(
                        ingest_runs.c.source, ingest_runs.c.finished_at, ingest_runs.c.error
                    ).where(ingest_runs.c.id.in_(list(failed_ids.values())))
                )
                failures = {str(s): (utc(t), e) for s, t, e in rows}
        out = {}
        for source in sorted(set(success) | set(failures)):
            when, error = failures.get(source, (None, None))
            out[source] = SourceRuns(source, success.get(source), when, error)
        return out

    def due_digests(self, now: datetime) -> int:
        """Digests composed and waiting to be sent ('ready', or 'retry' whose wait is over)."""
        query = (
            select(func.count())
            .select_from(digest_deliveries)
            .where(
                and_(
                    digest_deliveries.c.status.in_(("ready", "retry")),
                    or_(
                        digest_deliveries.c.next_attempt_at.is_(None),
                        digest_deliveries.c.next_attempt_at <= now,
                    ),
                )
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())
