"""Followed sources: their list, the cursor each harvest leaves, health, the harvest lock, and the
Hugging Face upvote history.

A page of papers and the cursor after it commit in one transaction, so a harvest killed at any point
resumes exactly where its last committed page ended.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, RowMapping, and_, delete, desc, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import Conflict, NotFound
from paperfeed.core.models import IngestCounts, Paper
from paperfeed.store.protocols import PaperWriter
from paperfeed.store.runs import add_run_counts, now_utc, utc
from paperfeed.store.schema import followed_sources, paper_sources, papers, upvote_history

KINDS = ("arxiv", "arxiv-oai", "hf-daily")
ORIGINS = ("database", "settings")


class LeaseLost(Conflict):
    """Another worker took this source's harvest over (our lease ran out); nothing was written."""


@dataclass(frozen=True)
class FollowedSource:
    """A source the workers follow, where its harvest stands, and how it is doing."""

    id: int
    name: str
    kind: str
    params: dict[str, Any]
    origin: str
    enabled: bool
    cursor: dict[str, Any]
    created_at: datetime
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    last_counts: dict[str, Any] = field(default_factory=dict)
    papers_brought: int = 0
    newest_day: date | None = None
    lease_holder: str | None = None
    lease_until: datetime | None = None

    @property
    def failing(self) -> bool:
        """Whether the newest run ended in an error."""
        return self.last_error_at is not None and (
            self.last_success_at is None or self.last_error_at > self.last_success_at
        )


def _source(row: RowMapping) -> FollowedSource:
    created = utc(row["created_at"])
    assert created is not None
    return FollowedSource(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        params=json.loads(row["params"] or "{}"),
        origin=row["origin"],
        enabled=bool(row["enabled"]),
        cursor=json.loads(row["cursor"] or "{}"),
        created_at=created,
        last_run_at=utc(row["last_run_at"]),
        last_success_at=utc(row["last_success_at"]),
        last_error_at=utc(row["last_error_at"]),
        last_error=row["last_error"],
        last_counts=json.loads(row["last_counts"] or "{}"),
        papers_brought=row["papers_brought"],
        newest_day=row["newest_day"],
        lease_holder=row["lease_holder"],
        lease_until=utc(row["lease_until"]),
    )


class SourceRepo:
    """The followed_sources and upvote_history tables (a repository; papers go through `papers`)."""

    def __init__(self, engine: Engine, papers: PaperWriter) -> None:
        self.engine = engine
        self.papers = papers

    # ----- the list ------------------------------------------------------------------------------

    def add_source(
        self, name: str, kind: str, params: Mapping[str, object], origin: str = "database"
    ) -> FollowedSource:
        """Follow a new source; Conflict when the name is taken."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(followed_sources).values(
                        name=name,
                        kind=kind,
                        params=json.dumps(params, sort_keys=True),
                        origin=origin,
                        created_at=now_utc(),
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"a source named {name!r} is already followed (remove it first or pick --name)"
            ) from None
        found = self.get_source(name)
        assert found is not None
        return found

    def update_source_params(
        self, source_id: int, params: Mapping[str, object], origin: str
    ) -> None:
        """Replace a source's parameters (a settings-file declaration that changed)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(followed_sources)
                .where(followed_sources.c.id == source_id)
                .values(params=json.dumps(params, sort_keys=True), origin=origin)
            )

    def list_sources(self) -> list[FollowedSource]:
        """Every followed source, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(followed_sources).order_by(followed_sources.c.name)
            ).mappings()
            return [_source(r) for r in rows]

    def get_source(self, name: str) -> FollowedSource | None:
        """One followed source by name."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(followed_sources).where(followed_sources.c.name == name))
                .mappings()
                .first()
            )
        return _source(row) if row else None

    def remove_source(self, name: str) -> None:
        """Stop following a source (its papers stay); NotFound when there is none by that name."""
        with self.engine.begin() as conn:
            done = conn.execute(delete(followed_sources).where(followed_sources.c.name == name))
        if not done.rowcount:
            raise NotFound(f"no followed source named {name!r}")

    # ----- the harvest lock ----------------------------------------------------------------------

    def claim_source(
        self, source_id: int, holder: str, seconds: float, is_dead: Callable[[str], bool]
    ) -> bool:
        """Take the source's harvest lock; False while a live holder has it (expired or dead ones
        are taken over)."""
        now = now_utc()
        until = now + timedelta(seconds=seconds)
        t = followed_sources.c
        with self.engine.begin() as conn:
            done = conn.execute(
                update(followed_sources)
                .where(
                    and_(
                        t.id == source_id,
                        or_(
                            t.lease_holder.is_(None), t.lease_holder == holder, t.lease_until < now
                        ),
                    )
                )
                .values(lease_holder=holder, lease_until=until)
            )
            if done.rowcount:
                return True
            current = conn.execute(select(t.lease_holder).where(t.id == source_id)).scalar()
        if current is None or not is_dead(current):
            return False
        with self.engine.begin() as conn:  # compare-and-set: only if the dead holder still has it
            done = conn.execute(
                update(followed_sources)
                .where(and_(t.id == source_id, t.lease_holder == current))
                .values(lease_holder=holder, lease_until=until)
            )
            return bool(done.rowcount)

    def release_source(self, source_id: int, holder: str) -> None:
        """Give the harvest lock back."""
        t = followed_sources.c
        with self.engine.begin() as conn:
            conn.execute(
                update(followed_sources)
                .where(and_(t.id == source_id, t.lease_holder == holder))
                .values(lease_holder=None, lease_until=None)
            )

    # ----- harvesting ----------------------------------------------------------------------------

    def commit_page(
        self,
        source_id: int,
        holder: str,
        records: Sequence[Paper],
        cursor: Mapping[str, object],
        lease_seconds: float,
        now: datetime | None = None,
        run_id: int | None = None,
        rejected: int = 0,
    ) -> IngestCounts:
        """Write a page of papers and the cursor after it in one transaction, renewing the lock;
        with run_id the page's counts (and its `rejected` records) go into that run in the same
        transaction, so a run killed later still says what it committed.

        LeaseLost (and nothing written) when another worker holds the lock by now.
        """
        now = now or now_utc()
        t = followed_sources.c
        with self.engine.begin() as conn:
            row = conn.execute(
                select(t.lease_holder, t.newest_day, t.papers_brought).where(t.id == source_id)
            ).first()
            if row is None:
                raise NotFound(f"source #{source_id} is no longer followed")
            if row.lease_holder != holder:
                raise LeaseLost(
                    f"the harvest lock of source #{source_id} passed to {row.lease_holder}"
                )
            counts = self.papers.write_papers(conn, records, now)
            if run_id is not None:
                add_run_counts(conn, run_id, counts + IngestCounts(rejected=rejected))
            days = [d for d in (p.day for p in records) if d is not None]
            newest = max([*days, *([row.newest_day] if row.newest_day else [])], default=None)
            conn.execute(
                update(followed_sources)
                .where(and_(t.id == source_id, t.lease_holder == holder))
                .values(
                    cursor=json.dumps(cursor, sort_keys=True, default=str),
                    lease_until=now + timedelta(seconds=lease_seconds),
                    papers_brought=row.papers_brought + counts.new,
                    newest_day=newest,
                )
            )
        return counts

    def record_source_run(
        self,
        source_id: int,
        counts: Mapping[str, object],
        error: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Record how a run ended: success with its counts, or its error (the cursor stays where it
        got)."""
        now = now or now_utc()
        values: dict[str, object] = {
            "last_run_at": now,
            "last_counts": json.dumps(counts, sort_keys=True),
        }
        if error is None:
            values["last_success_at"] = now
        else:
            values.update(last_error_at=now, last_error=error[:2000])
        with self.engine.begin() as conn:
            conn.execute(
                update(followed_sources).where(followed_sources.c.id == source_id).values(values)
            )

    def known_arxiv_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these arXiv ids are stored."""
        out: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                out.update(
                    conn.execute(
                        select(papers.c.arxiv_id).where(papers.c.arxiv_id.in_(chunk))
                    ).scalars()
                )
        return out

    # ----- upvote history ------------------------------------------------------------------------

    def upvote_history(self, paper_id: int) -> list[tuple[datetime, int, int | None]]:
        """(observed_at, upvotes, comments) each time the upvotes were read and had changed, oldest
        first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    upvote_history.c.observed_at,
                    upvote_history.c.upvotes,
                    upvote_history.c.comments,
                )
                .where(upvote_history.c.paper_id == paper_id)
                .order_by(upvote_history.c.observed_at)
            ).all()
        return [(utc(r[0]) or now_utc(), r[1], r[2]) for r in rows]

    def papers_read_since(self, since: datetime, min_readings: int = 2) -> list[int]:
        """Papers with an upvote reading at or after a time and at least `min_readings` in all
        (chart jobs)."""
        h = upvote_history.c
        recent = select(h.paper_id).where(h.observed_at >= since).distinct().subquery()
        query = (select(h.paper_id).where(h.paper_id.in_(select(recent.c.paper_id)))
                 .group_by(h.paper_id).having(func.count() >= min_readings).order_by(h.paper_id))
        with self.engine.connect() as conn:
            return [int(r) for r in conn.execute(query).scalars()]

    def source_counts_by_day(self, source: str, since: date | None = None) -> dict[date, int]:
        """Papers per day among those a source kind brought (for health pages and tests)."""
        query = (
            select(papers.c.day, func.count())
            .join(paper_sources, paper_sources.c.paper_id == papers.c.id)
            .where(paper_sources.c.source == source)
            .group_by(papers.c.day)
            .order_by(desc(papers.c.day))
        )
        if since:
            query = query.where(papers.c.day >= since)
        with self.engine.connect() as conn:
            return {d: int(n) for d, n in conn.execute(query).all()}
