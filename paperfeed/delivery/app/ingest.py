"""The ingest job: read records from files or URLs and merge them into the store in batches."""

from __future__ import annotations

import filecmp
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from paperfeed.core.errors import BadRequest, PaperfeedError, RecordError
from paperfeed.core.models import IngestCounts, Paper
from paperfeed.core.rules import category_problem
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.indexing import refresh_index_after_ingest
from paperfeed.delivery.common.progress import CountProgress, on_terminal
from paperfeed.delivery.common.upvote_charts import draw_read_charts
from paperfeed.index.shipped import SAMPLE_FEED
from paperfeed.sources import fetch_records, read_records
from paperfeed.store import Store
from paperfeed.store.runs import now_utc

Progress = Callable[[int, float], None]  # (records seen, seconds elapsed)
MAX_ERRORS_KEPT = 1000


@dataclass
class IngestReport:
    """What an ingest of one or more targets did."""

    counts: IngestCounts = field(default_factory=IngestCounts)
    errors: list[RecordError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        """One line: new, updated, unchanged, rejected."""
        c = self.counts
        return (
            f"{c.new} new, {c.updated} updated, {c.unchanged} unchanged, {c.rejected} rejected"
            f" in {self.seconds:.1f}s"
        )


def is_url(target: str) -> bool:
    """Whether an ingest target is a URL rather than a path."""
    return target.startswith(("http://", "https://"))


def open_target(target: str, settings: Settings, fmt: str | None) -> Iterator[Paper | RecordError]:
    """Records from a path or URL; raises BadRequest for a missing path or unknown format."""
    if is_url(target):
        return fetch_records(target, settings, fmt)
    return read_records(Path(target), fmt)


def nul_problem(p: Paper) -> RecordError | None:
    """A RecordError when a record's text holds NUL characters (PostgreSQL refuses them in text)."""
    texts = [
        p.title,
        p.abstract,
        p.comment or "",
        p.abs_url or "",
        p.pdf_url or "",
        p.code_url or "",
        p.arxiv_id or "",
        p.source,
        *p.authors,
        *p.categories,
    ]
    if any("\x00" in t for t in texts):
        where = f"{p.source or 'record'}#{p.arxiv_id or p.title[:60].replace(chr(0), '')}"
        return RecordError(where, "contains a NUL character; record skipped")
    bad_category = category_problem(p.categories)  # #21 F11: codes only, never markup or mathtext
    if bad_category:
        return RecordError(f"{p.source or 'record'}#{p.arxiv_id or p.title[:60]}", bad_category)
    return None


def _batches(
    items: Iterable[Paper | RecordError], size: int, errors: list[RecordError], rejected: list[int]
) -> Iterator[list[Paper]]:
    batch: list[Paper] = []
    for item in items:
        if isinstance(item, Paper):
            item = nul_problem(item) or item
        if isinstance(item, RecordError):
            rejected[0] += 1
            if len(errors) < MAX_ERRORS_KEPT:
                errors.append(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def is_sample(target: str) -> bool:
    """Whether a target is the bundled sample feed (whose papers come with their vectors), or a
    copy."""
    if is_url(target) or not SAMPLE_FEED.is_file():
        return False
    path = Path(target)
    try:
        return path.resolve() == SAMPLE_FEED or filecmp.cmp(path, SAMPLE_FEED, shallow=False)
    except OSError:
        return False


def validate_target(target: str, settings: Settings, fmt: str | None) -> list[RecordError]:
    """Read a whole target without writing; return its bad records."""
    return [r for r in open_target(target, settings, fmt) if isinstance(r, RecordError)]


def ingest_records(
    store: Store,
    records: Iterable[Paper | RecordError],
    batch_size: int,
    progress: Progress | None = None,
    run_id: int | None = None,
) -> IngestReport:
    """Merge records into the store, one transaction per batch, so a crash loses at most one batch;
    each batch's counts go into its run (run_id) in the same transaction."""
    report = IngestReport()
    started = time.monotonic()
    rejected = [0]
    seen = counted = 0
    for batch in _batches(records, batch_size, report.errors, rejected):
        report.counts = report.counts + store.papers.upsert_papers(
            batch, run_id=run_id, rejected=rejected[0] - counted
        )
        counted = rejected[0]
        seen += len(batch)
        if progress:
            progress(seen, time.monotonic() - started)
    report.counts = report.counts + IngestCounts(rejected=rejected[0])
    report.seconds = time.monotonic() - started
    return report


def ingest_targets(
    store: Store,
    settings: Settings,
    targets: list[str],
    fmt: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest each target, recording a run per target; with strict, refuse all on any bad record."""
    if not targets:
        raise BadRequest("nothing to ingest: give one or more paths or URLs")
    for target in targets:
        if not is_url(target) and not Path(target).exists():
            raise BadRequest(f"no such file: {target}")
    if strict:
        problems = [e for t in targets for e in validate_target(t, settings, fmt)]
        if problems:
            shown = "; ".join(str(p) for p in problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise BadRequest(
                f"--strict: {len(problems)} bad records, nothing written: {shown}{more}"
            )
    total = IngestReport()
    started = now_utc()
    for target in targets:
        run_id = store.runs.start_run(target)
        try:
            report = ingest_records(
                store,
                open_target(target, settings, fmt),
                settings.ingest_batch_size,
                progress,
                run_id,
            )
        except PaperfeedError as exc:  # the counts its committed batches added stay on the run
            store.runs.finish_run(run_id, None, error=exc.message)
            raise
        except Exception as exc:  # recorded for `paperfeed status`, then re-raised
            store.runs.finish_run(run_id, None, error=f"{type(exc).__name__}: {exc}")
            raise
        store.runs.finish_run(run_id, report.counts)
        total.counts = total.counts + report.counts
        total.errors.extend(report.errors)
        total.seconds += report.seconds
    # the upvotes just read: their charts, before any page asks
    draw_read_charts(store, settings, started)
    return total


def ingest_papers(store: Store, settings: Settings, papers: Sequence[Paper], target: str,
                  refresh: bool = True) -> IngestReport:
    """Ingest papers already in hand (a submission, say): a run record, the merge, an index
    refresh."""
    run_id = store.runs.start_run(target)
    try:
        report = ingest_records(store, papers, settings.ingest_batch_size, run_id=run_id)
    except PaperfeedError as exc:
        store.runs.finish_run(run_id, None, error=exc.message)
        raise
    store.runs.finish_run(run_id, report.counts)
    if refresh:
        refresh_index_after_ingest(settings, store)
    return report


def stderr_progress() -> CountProgress | None:
    """A tqdm progress bar on stderr when it is a terminal; None (quiet) otherwise."""
    return CountProgress("ingesting") if on_terminal() else None
