"""Papers: the batched upsert that ingestion uses, and the queries every reader uses."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    and_,
    bindparam,
    delete,
    desc,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from paperfeed.core.models import IngestCounts, Paper, normalise_title
from paperfeed.core.util import chunks
from paperfeed.store.alerts import write_events
from paperfeed.store.community import _VOTE_COUNTS
from paperfeed.store.paper_merge import (
    _EMPTY,
    _absorb,
    _content_hash,
    _finish,
    _merge,
    _Row,
    event_fields,
    lifecycle_events,
)
from paperfeed.store.paper_rows import filter_papers, row_to_paper
from paperfeed.store.runs import add_run_counts, now_utc, utc
from paperfeed.store.schema import (
    PAPER_REFERENCES,
    paper_sources,
    paper_tombstones,
    paper_versions,
    papers,
    upvote_history,
)


class PaperRepo:
    """Writing and reading papers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ----- writing ---------------------------------------------------------------------------

    def upsert_papers(
        self, records: Sequence[Paper], now: datetime | None = None, run_id: int | None = None,
        rejected: int = 0,
    ) -> IngestCounts:
        """Merge a batch of records into the store in one transaction; idempotent.

        With run_id the batch's counts (and `rejected` records) are added to that run in the same
        transaction.
        """
        if not records and (run_id is None or not rejected):
            return IngestCounts()
        now = now or now_utc()
        with self.engine.begin() as conn:
            counts = self.write_papers(conn, records, now)
            if run_id is not None:
                add_run_counts(conn, run_id, counts + IngestCounts(rejected=rejected))
            return counts

    def write_papers(
        self, conn: Connection, records: Sequence[Paper], now: datetime
    ) -> IngestCounts:
        """Merge records inside the caller's transaction (a source commits its cursor in the same
        one)."""
        if not records:
            return IngestCounts()
        rows, counts = self._merge_batch(conn, records, now)
        self._write_batch(conn, rows, now)
        return counts

    def _merge_batch(
        self, conn: Connection, records: Sequence[Paper], now: datetime
    ) -> tuple[list[_Row], IngestCounts]:
        by_arxiv: dict[str, _Row] = {}
        by_key_with_id: dict[str, _Row] = {}
        by_key_no_id: dict[str, _Row] = {}
        for existing in self._load_matching(conn, records):
            if existing.values["arxiv_id"]:
                by_arxiv[existing.values["arxiv_id"]] = existing
                by_key_with_id[existing.values["title_key"]] = existing
            else:
                by_key_no_id[existing.values["title_key"]] = existing
        touched: dict[int, _Row] = {}
        new = updated = unchanged = 0
        for rec in records:
            key = rec.title_key
            row: _Row | None
            if rec.arxiv_id:
                row = by_arxiv.get(rec.arxiv_id)
                orphan = by_key_no_id.pop(key, None)
                if row is None and orphan is not None:
                    row = orphan  # the title-keyed paper gets its arXiv id
                elif row is not None and orphan is not None and orphan is not row:
                    _absorb(row, orphan)
                    touched.pop(id(orphan), None)
                    if orphan.id is not None:
                        row.absorbs.append(orphan.id)
            else:
                row = by_key_with_id.get(key) or by_key_no_id.get(key)
            created = row is None
            if row is None:
                row = _Row(values={**_EMPTY, "title": rec.title, "first_seen_at": now})
            before = _content_hash(row.values) if not created else None
            before_signal = (
                row.values.get("external_upvotes"),
                row.values.get("external_comments"),
            )
            _merge(row.values, rec)
            if rec.external_upvotes is not None and (
                created
                or (row.values.get("external_upvotes"), row.values.get("external_comments"))
                != before_signal
            ):
                row.signal = (row.values["external_upvotes"], row.values.get("external_comments"))
            _finish(row.values, utc(row.values["first_seen_at"]) or now)
            if rec.source and rec.source not in row.sources:
                row.sources.add(rec.source)
                row.new_sources.add(rec.source)
            for number in {*rec.versions, *((rec.version,) if rec.version is not None else ())}:
                if number not in row.versions:  # a dump's whole version history, else this one
                    row.versions.add(number)
                    row.new_versions[number] = rec.source or "unknown"
            if row.values["arxiv_id"]:
                by_arxiv[row.values["arxiv_id"]] = row
                by_key_with_id[row.values["title_key"]] = row
                if by_key_no_id.get(row.values["title_key"]) is row:
                    del by_key_no_id[row.values["title_key"]]
            else:
                by_key_no_id[row.values["title_key"]] = row
            touched[id(row)] = row
            if created:
                new += 1
            elif before != row.values["content_hash"]:
                updated += 1
            else:
                unchanged += 1
        return list(touched.values()), IngestCounts(new=new, updated=updated, unchanged=unchanged)

    def _load_matching(self, conn: Connection, records: Sequence[Paper]) -> list[_Row]:
        """Stored rows that share an arXiv id or a normalised title with a record."""
        ids = sorted({r.arxiv_id for r in records if r.arxiv_id})
        keys = sorted({r.title_key for r in records})
        found: dict[int, RowMapping] = {}
        for chunk in chunks(ids):
            for r in conn.execute(select(papers).where(papers.c.arxiv_id.in_(chunk))).mappings():
                found[r["id"]] = r
        for chunk in chunks(keys):
            for r in conn.execute(select(papers).where(papers.c.title_key.in_(chunk))).mappings():
                found[r["id"]] = r
        rows = {
            pid: _Row(
                values=dict(r),
                id=pid,
                original_hash=r["content_hash"],
                before=event_fields(dict(r)),
            )
            for pid, r in found.items()
        }
        pids = sorted(rows)
        for id_chunk in chunks(pids):
            for pid, source in conn.execute(
                select(paper_sources.c.paper_id, paper_sources.c.source).where(
                    paper_sources.c.paper_id.in_(id_chunk)
                )
            ):
                rows[pid].sources.add(source)
            for pid, version in conn.execute(
                select(paper_versions.c.paper_id, paper_versions.c.version).where(
                    paper_versions.c.paper_id.in_(id_chunk)
                )
            ):
                rows[pid].versions.add(version)
        # Older title-only rows first so a newer arXiv row wins the by-title map.
        return sorted(rows.values(), key=lambda r: r.id or 0)

    def _write_batch(self, conn: Connection, rows: list[_Row], now: datetime) -> None:
        columns = [c.name for c in papers.columns if c.name != "id"]
        fresh = [r for r in rows if r.id is None]
        if fresh:
            payload = [
                {**{c: r.values.get(c) for c in columns}, "first_seen_at": now, "updated_at": now}
                for r in fresh
            ]
            result = conn.execute(
                insert(papers).returning(papers.c.id, sort_by_parameter_order=True), payload
            )
            for r, new_id in zip(fresh, result.scalars().all(), strict=False):
                r.id = new_id
        changed = [
            r
            for r in rows
            if r.original_hash is not None and r.original_hash != r.values["content_hash"]
        ]
        if changed:
            settable = [c for c in columns if c not in ("first_seen_at",)]
            stmt = (
                update(papers)
                .where(papers.c.id == bindparam("b_id"))
                .values({c: bindparam(f"b_{c}") for c in settable})
            )
            conn.execute(
                stmt,
                [
                    {
                        "b_id": r.id,
                        **{f"b_{c}": r.values.get(c) for c in settable},
                        "b_updated_at": now,
                    }
                    for r in changed
                ],
            )
        for r in rows:
            for gone in r.absorbs:
                _repoint(conn, gone, r.id or 0, now)
        sources = [
            {"paper_id": r.id, "source": s, "first_seen_at": now}
            for r in rows
            for s in sorted(r.new_sources)
        ]
        if sources:
            conn.execute(insert(paper_sources), sources)
        versions = [
            {"paper_id": r.id, "version": v, "seen_at": now, "source": s}
            for r in rows
            for v, s in sorted(r.new_versions.items())
        ]
        if versions:
            conn.execute(insert(paper_versions), versions)
        signals = [
            {"paper_id": r.id, "observed_at": now, "upvotes": r.signal[0], "comments": r.signal[1]}
            for r in rows
            if r.signal is not None
        ]
        if signals:
            conn.execute(insert(upvote_history), signals)
        # A merge into a stored paper may be news for its readers (a first ingest never is).
        events = [(r.id or 0, kind, key) for r in rows
                  if r.before is not None and r.original_hash != r.values["content_hash"]
                  for kind, key in lifecycle_events(r.before, r.values)]
        if events:
            write_events(conn, events, now)

    # ----- reading ---------------------------------------------------------------------------

    def count_papers(self) -> int:
        """How many papers are stored."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())

    def get_paper(self, paper_id: int) -> Paper | None:
        """One paper by its internal id, with sources and versions."""
        return self._get_one(papers.c.id == paper_id)

    def get_paper_by_arxiv(self, arxiv_id: str) -> Paper | None:
        """One paper by its arXiv id (without version)."""
        return self._get_one(papers.c.arxiv_id == arxiv_id)

    def find_by_title(self, title: str) -> Paper | None:
        """The paper whose normalised title equals this one's, preferring one with an arXiv id."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(papers.c.id)
                    .where(papers.c.title_key == normalise_title(title))
                    .order_by(papers.c.arxiv_id.is_(None), papers.c.id)
                    .limit(1)
                )
                .scalars()
                .first()
            )
        return self.get_paper(row) if row is not None else None

    def _get_one(self, where: ColumnElement[bool]) -> Paper | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(papers).where(where)).mappings().first()
            if row is None:
                return None
            sources = conn.execute(
                select(paper_sources.c.source).where(paper_sources.c.paper_id == row["id"])
            ).scalars()
            versions = conn.execute(
                select(paper_versions.c.version).where(paper_versions.c.paper_id == row["id"])
            ).scalars()
            return row_to_paper(row, sources, versions)

    def get_papers(self, ids: Sequence[int]) -> dict[int, Paper]:
        """Many papers by id (without sources and versions), keyed by id."""
        out: dict[int, Paper] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(list(ids)):
                for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))).mappings():
                    out[row["id"]] = row_to_paper(row)
        return out

    def list_papers(
        self,
        since: date | None = None,
        until: date | None = None,
        category: str | None = None,
        limit: int = 50,
        offset: int = 0,
        order: str = "recent",
    ) -> list[Paper]:
        """Papers whose day lies in [since, until], newest first or most upvoted first (as
        ranking.order_by_votes)."""
        query = select(papers)
        query = filter_papers(query, since, until, category)
        if order == "upvotes":  # community votes plus outside upvotes: the count every card shows
            query = query.outerjoin(_VOTE_COUNTS, _VOTE_COUNTS.c.paper_id == papers.c.id).order_by(
                desc(
                    func.coalesce(papers.c.external_upvotes, 0) + func.coalesce(_VOTE_COUNTS.c.n, 0)
                ),
                desc(papers.c.day).nulls_last(),
                desc(papers.c.id),
            )
        elif order == "recent":
            query = query.order_by(desc(papers.c.day).nulls_last(), desc(papers.c.id))
        else:
            raise ValueError(f"unknown order {order!r}; valid: recent, upvotes")
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).mappings()
            return [row_to_paper(r) for r in rows]

    def paper_days(self, limit: int = 400) -> list[date]:
        """Days that have papers, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(papers.c.day)
                .where(papers.c.day.is_not(None))
                .distinct()
                .order_by(desc(papers.c.day))
                .limit(limit)
            ).scalars()
            return list(rows)

    def iter_papers(
        self, updated_since: datetime | None = None, batch: int = 5000
    ) -> Iterator[Paper]:
        """Every paper (or those changed since a time) in id order, read in batches."""
        last = 0
        while True:
            query = select(papers).where(papers.c.id > last).order_by(papers.c.id).limit(batch)
            if updated_since is not None:
                query = query.where(papers.c.updated_at > updated_since)
            with self.engine.connect() as conn:
                rows = list(conn.execute(query).mappings())
            if not rows:
                return
            for r in rows:
                yield row_to_paper(r)
            last = rows[-1]["id"]

    def iter_index_papers(
        self, updated_since: datetime | None = None, batch: int = 5000
    ) -> Iterator[Paper]:
        """Like iter_papers, with only what the search index reads (id, texts, categories, day):

        no URL checks or links found in the text, which were half of an index build's read.
        """
        cols = [
            papers.c.id,
            papers.c.title,
            papers.c.abstract,
            papers.c.authors,
            papers.c.categories,
            papers.c.published,
            papers.c.featured_on,
            papers.c.announced_on,
        ]
        last = 0
        loads = json.loads
        while True:
            query = select(*cols).where(papers.c.id > last).order_by(papers.c.id).limit(batch)
            if updated_since is not None:
                query = query.where(papers.c.updated_at > updated_since)
            with self.engine.connect() as conn:
                rows = list(conn.execute(query))
            if not rows:
                return
            for (
                pid,
                title,
                abstract,
                authors,
                categories,
                published,
                featured_on,
                announced_on,
            ) in rows:
                yield Paper(id=pid, title=title, abstract=abstract, authors=tuple(loads(authors)),
                            categories=tuple(loads(categories)), published=published,
                            featured_on=featured_on, announced_on=announced_on)
            last = rows[-1][0]

    def removed_since(self, since: datetime | None) -> list[int]:
        """Ids of papers merged away since a time (all of them when `since` is None)."""
        query = select(paper_tombstones.c.paper_id)
        if since is not None:
            query = query.where(paper_tombstones.c.deleted_at > since)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def last_change(self) -> datetime | None:
        """When a paper was last added, changed or merged away."""
        with self.engine.connect() as conn:
            a = conn.execute(select(func.max(papers.c.updated_at))).scalar()
            b = conn.execute(select(func.max(paper_tombstones.c.deleted_at))).scalar()
        stamps = [t for t in (utc(a), utc(b)) if t is not None]
        return max(stamps) if stamps else None

    def check_papers(self) -> list[str]:
        """Invariants of the papers tables; the problems found."""
        problems = []
        with self.engine.connect() as conn:
            dup_keys = conn.execute(
                select(papers.c.title_key, func.count())
                .where(papers.c.arxiv_id.is_(None))
                .group_by(papers.c.title_key)
                .having(func.count() > 1)
            ).all()
            if dup_keys:
                problems.append(f"{len(dup_keys)} titles stored twice without an arXiv id")
            dup_ids = conn.execute(
                select(papers.c.arxiv_id, func.count())
                .where(papers.c.arxiv_id.is_not(None))
                .group_by(papers.c.arxiv_id)
                .having(func.count() > 1)
            ).all()
            if dup_ids:
                problems.append(f"{len(dup_ids)} arXiv ids stored twice")
            no_source = conn.execute(
                select(func.count())
                .select_from(papers)
                .where(~exists().where(paper_sources.c.paper_id == papers.c.id))
            ).scalar_one()
            if no_source:
                problems.append(f"{no_source} papers have no recorded source")
            bad_version = conn.execute(
                select(func.count())
                .select_from(papers)
                .where(
                    and_(
                        papers.c.version.is_not(None),
                        ~exists().where(
                            and_(
                                paper_versions.c.paper_id == papers.c.id,
                                paper_versions.c.version == papers.c.version,
                            )
                        ),
                    )
                )
            ).scalar_one()
            if bad_version:
                problems.append(
                    f"{bad_version} papers lack a history entry for their latest version"
                )
        return problems


def _repoint(conn: Connection, gone: int, into: int, now: datetime) -> None:
    """Move every reference from paper `gone` to paper `into`, delete `gone`, leave a tombstone."""
    for table, column in PAPER_REFERENCES:
        col = table.c[column]
        others = [c for c in table.primary_key.columns if c.name != column]
        if others:
            twin = table.alias("twin")
            clash = exists().where(
                and_(twin.c[column] == into, *[twin.c[o.name] == o for o in others])
            )
            conn.execute(update(table).where(and_(col == gone, ~clash)).values({column: into}))
            conn.execute(delete(table).where(col == gone))
        else:
            conn.execute(update(table).where(col == gone).values({column: into}))
    conn.execute(delete(paper_sources).where(paper_sources.c.paper_id == gone))
    conn.execute(delete(paper_versions).where(paper_versions.c.paper_id == gone))
    conn.execute(delete(papers).where(papers.c.id == gone))
    conn.execute(insert(paper_tombstones).values(paper_id=gone, merged_into=into, deleted_at=now))
