"""`paperfeed worker`: ingest the configured sources on schedule and send digests when they are due.

Several workers (and cron's `paperfeed digest send`) may run at once: the ingest runs under a lease
in the database (one ingest at a time, taken over when its holder stops renewing it) and digests are
claimed row by row (see paperfeed.delivery.jobs.digests).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import FrameType

from paperfeed.core.errors import PaperfeedError
from paperfeed.core.rules import INGEST_LEASE, ingest_due, ingest_lease_seconds
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.ingest import ingest_targets
from paperfeed.delivery.app.submissions import process_submissions
from paperfeed.delivery.app.topics import (
    TooFewPapers,
    build_topics,
    topics_due,
    topics_extra_installed,
)
from paperfeed.delivery.jobs.digests import DigestReport, holder_id, open_index, run_digests
from paperfeed.delivery.jobs.harvest import run_sources
from paperfeed.delivery.mail.mailer import Mailer
from paperfeed.index import SearchIndex
from paperfeed.store import Store
from paperfeed.store.runs import now_utc

log = logging.getLogger("paperfeed.worker")


@dataclass
class WorkerReport:
    """What one worker cycle did."""

    ingested: str | None = None
    sources: list[str] = field(default_factory=list)  # one summary line per followed source run
    embedded: int = 0
    topics: str | None = None  # what the topics rebuild did, when it ran
    submissions: dict[str, int] = field(default_factory=dict)  # queued submissions fetched (#21 F3)
    digests: DigestReport = field(default_factory=DigestReport)
    errors: list[str] = field(default_factory=list)


def sources(settings: Settings) -> list[str]:
    """The worker_sources setting as a list of URLs and paths."""
    return [s.strip() for s in settings.worker_sources.split(",") if s.strip()]


def maybe_ingest(settings: Settings, store: Store, holder: str, now: datetime) -> str | None:
    """Ingest worker_sources when the last ingest is older than worker_ingest_minutes; the summary
    or None."""
    targets = sources(settings)
    if not targets:
        return None
    if not ingest_due(
        store.leases.lease_last_run(INGEST_LEASE), now, settings.worker_ingest_minutes
    ):
        return None
    if not store.leases.acquire_lease(
        INGEST_LEASE, holder, seconds=ingest_lease_seconds(settings.worker_ingest_minutes)
    ):
        return None
    ran = False
    try:
        report = ingest_targets(store, settings, targets)
        ran = True
        return report.summary
    finally:
        store.leases.release_lease(INGEST_LEASE, holder, ran=ran)


def update_index(settings: Settings, store: Store) -> int:
    """Make new papers searchable, then embed up to worker_embed_batch papers lacking vectors.

    This is the background embedding job: lexical search works at once, semantic search and
    recommendations reach each paper as the vectors catch up (`paperfeed index status` shows
    how many have one). Returns the number of papers embedded.
    """
    from paperfeed.index import open_search_index

    index = open_search_index(settings, store)
    index.refresh()
    if settings.worker_embed_batch <= 0 or not index.semantic_available():
        return 0
    return index.embed(limit=settings.worker_embed_batch)


def maybe_build_topics(settings: Settings, store: Store, now: datetime | None = None) -> str | None:
    """Rebuild topics.json when it is older than topics_refresh_hours (and the topics extra is
    installed)."""
    if not topics_due(settings, now) or not topics_extra_installed():
        return None
    try:
        result = build_topics(settings, store)
    except TooFewPapers as exc:
        log.info("topics not built: %s", exc.message)
        return None
    return f"{len(result.topics)} topics over {result.papers} papers ({result.vectors})"


def cycle(
    settings: Settings,
    store: Store,
    mailer: Mailer | None = None,
    now: datetime | None = None,
    index: SearchIndex | None = None,
) -> WorkerReport:
    """One pass: ingest if due, harvest the followed sources that are due, fetch queued submissions,
    update the search index, then compose and send due digests."""
    report = WorkerReport()
    try:
        report.ingested = maybe_ingest(settings, store, holder_id(), now or now_utc())
    except PaperfeedError as exc:
        report.errors.append(f"ingest: {exc.message}")
        log.error("ingest failed: %s", exc.message)
    try:
        report.sources = [r.summary for r in run_sources(store, settings, due_only=True, now=now)]
    # a bad `sources` setting, say; each source's own errors are in its run
    except PaperfeedError as exc:
        report.errors.append(f"sources: {exc.message}")
        log.error("followed sources failed: %s", exc.message)
    try:  # before the index update, so a fetched submission is searchable this cycle
        if store.submissions.list_submissions(status="queued", limit=1):
            report.submissions = process_submissions(settings, store)
    except PaperfeedError as exc:
        report.errors.append(f"submissions: {exc.message}")
        log.error("queued submissions failed: %s", exc.message)
    try:
        report.embedded = update_index(settings, store)
    except PaperfeedError as exc:  # search keeps its last good index; digests fall back to words
        report.errors.append(f"index: {exc.message}")
        log.error("index update failed: %s", exc.message)
    try:
        report.topics = maybe_build_topics(settings, store, now)
    except PaperfeedError as exc:  # too few papers, say: the old file (if any) stays
        report.errors.append(f"topics: {exc.message}")
        log.warning("topics not rebuilt: %s", exc.message)
    if index is None:
        index = open_index(settings, store)
    # "now" for digests is taken after the ingest, so the papers it brought are in the window
    report.digests = run_digests(settings, store, mailer, now=now or now_utc(), index=index)
    return report


def run_worker(
    settings: Settings,
    store: Store,
    mailer: Mailer | None = None,
    once: bool = False,
    stop: threading.Event | None = None,
    on_cycle: Callable[[WorkerReport], None] | None = None,
) -> None:
    """Run cycles every worker_poll_seconds until stopped (SIGTERM / SIGINT) or after one with
    `once`."""
    stop = stop or threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping after this cycle", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    while not stop.is_set():
        report = cycle(settings, store, mailer)
        if on_cycle:
            on_cycle(report)
        if once:
            return
        stop.wait(settings.worker_poll_seconds)
