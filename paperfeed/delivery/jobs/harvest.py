"""Running a followed source: read what is new since its cursor, page by page, each page committed
with the cursor after it (one transaction), under the source's harvest lock.

* arxiv-oai: ListRecords (metadataPrefix `prefix`: arXivRaw, with every version's date and size,
  or arXiv) from the last datestamp harvested (inclusive: that day comes again, which the
  idempotent merge absorbs) until today; mid-harvest the cursor holds the resumption token, so a
  harvest killed with kill -9 continues with the next page. A refused token (badResumptionToken)
  starts the harvest again from its `from` day, at most sources_oai_max_restarts times a run;
  then the run fails with arXiv's message (a server that refuses every token it gave must not be
  asked again and again).
* arxiv: the API's newest submissions, paged back until a page reaches the day the previous run
  had reached (its frontier), at most sources_arxiv_max_pages per run; the paging offset is kept,
  so a bounded or killed run continues where it stopped.
* hf-daily: day by day from the last day read through today, plus the last hf_refresh_days days
  again so upvotes, comment counts and code links stay current.

After an outage the gap is caught up in one run, bounded by sources_catchup_days. Every request of a
run (failed ones and retries included) is counted and bounded by sources_max_requests and
sources_max_run_minutes, so no loop can run without end whatever a server answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from paperfeed.core.errors import NotFound, PaperfeedError, RecordError, SourceError
from paperfeed.core.models import IngestCounts, Paper
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.sources import list_sources, today_of
from paperfeed.delivery.common.upvote_charts import draw_read_charts
from paperfeed.delivery.jobs.digest_runs import holder_id, holder_is_dead
from paperfeed.sources import arxiv_api, arxiv_oai, hf_daily
from paperfeed.sources.http import Budget, HttpClient
from paperfeed.store import Store
from paperfeed.store.runs import now_utc
from paperfeed.store.sources import FollowedSource

log = logging.getLogger("paperfeed.sources")
MAX_ERRORS_KEPT = 50


@dataclass
class SourceRun:
    """What one run of one source did."""

    name: str
    counts: IngestCounts = field(default_factory=IngestCounts)
    pages: int = 0
    errors: list[RecordError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    busy: bool = False  # another worker holds the source's harvest lock
    seconds: float = 0.0
    requests: int = 0  # every request sent, failed ones and retries included

    @property
    def summary(self) -> str:
        """One line for logs and the CLI."""
        if self.busy:
            return f"{self.name}: skipped, another worker is harvesting it"
        c = self.counts
        line = (
            f"{self.name}: {c.new} new, {c.updated} updated, {c.unchanged} unchanged, "
            f"{c.rejected} rejected"
            f" ({self.pages} pages, {self.requests} requests, {self.seconds:.1f}s)"
        )
        if self.notes:
            line += "; " + "; ".join(self.notes)
        return line + (f"; error: {self.error}" if self.error else "")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "name": self.name,
            "new": self.counts.new,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "rejected": self.counts.rejected,
            "pages": self.pages,
            "requests": self.requests,
            "notes": self.notes,
            "error": self.error,
            "busy": self.busy,
            "seconds": round(self.seconds, 3),
        }


# the records of a page and the cursor after it
Page = tuple[list[Paper | RecordError], dict[str, Any]]


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _floor(settings: Settings, today: date, start: date, run: SourceRun) -> date:
    floor = today - timedelta(days=max(1, settings.sources_catchup_days))
    if start < floor:
        run.notes.append(
            f"gap {start} .. {floor - timedelta(days=1)} is older than sources_catchup_days, not "
            "read"
        )
        return floor
    return start


def _oai_pages(
    store: Store,
    source: FollowedSource,
    settings: Settings,
    http: HttpClient,
    today: date,
    run: SourceRun,
) -> Iterator[Page]:
    cur = source.cursor
    token = cur.get("token")
    if token:
        start, until = _day(cur.get("harvest_from")), _day(cur.get("harvest_until"))
    else:
        start = _day(cur.get("from")) or today - timedelta(
            days=max(1, settings.sources_initial_days) - 1
        )
        start, until = _floor(settings, today, start, run), today
    best = _day(cur.get("max_seen"))
    params = arxiv_oai.list_params(
        start, until, source.params.get("set"), source.params.get("prefix", "arXiv")
    )
    restarts = 0
    while True:  # bounded: by the restarts below, repeated tokens, and the run's request budget
        try:
            for page in arxiv_oai.list_pages(http, settings.arxiv_oai_url, params, token):
                if page.max_datestamp and (best is None or page.max_datestamp > best):
                    best = page.max_datestamp
                token = page.resumption_token
                if token:
                    after = {
                        "from": cur.get("from"),
                        "token": token,
                        "harvest_from": start,
                        "harvest_until": until,
                        "max_seen": best,
                    }
                else:  # the whole list is read: next time from the newest datestamp seen
                    after = {"from": max(best, start) if best and start else (best or start)}
                yield list(page.records), after
            return
        except SourceError as exc:
            if token and "badResumptionToken" in exc.message:
                if restarts >= max(0, settings.sources_oai_max_restarts):
                    raise SourceError(
                        f"resumption token refused {restarts + 1} times in one run, harvest given "
                        "up"
                        f" (sources_oai_max_restarts={settings.sources_oai_max_restarts}): "
                        f"{exc.message}"
                    ) from None
                restarts += 1
                run.notes.append("resumption token refused: harvest restarted from its first day")
                token, best = None, None
                continue
            raise


def _api_pages(
    store: Store,
    source: FollowedSource,
    settings: Settings,
    http: HttpClient,
    today: date,
    run: SourceRun,
) -> Iterator[Page]:
    cur = source.cursor
    frontier = _day(cur.get("frontier")) or today - timedelta(
        days=max(1, settings.sources_initial_days) - 1
    )
    frontier = _floor(settings, today, frontier, run)
    start = int(cur.get("resume_start") or 0)
    newest = _day(cur.get("run_newest"))
    query = " OR ".join(f"cat:{c}" for c in source.params["categories"])
    size = max(1, settings.sources_arxiv_page_size)
    for _ in range(max(1, settings.sources_arxiv_max_pages)):
        feed = arxiv_api.search_page(http, query, start, size)
        total = feed.total_results or 0
        if not feed.records and start < total:
            raise SourceError(
                f"arXiv API answered an empty page at start={start} of {total}; retried next run"
            )
        papers = [r for r in feed.records if isinstance(r, Paper)]
        days = [p.published for p in papers if p.published]
        newest = max([*days, *([newest] if newest else [])], default=None)
        start += len(feed.records)
        # Met papers already stored from the frontier day (or older) on: the rest is known.
        reached = [
            p.arxiv_id for p in papers if p.arxiv_id and p.published and p.published <= frontier
        ]
        met = bool(reached) and bool(store.sources.known_arxiv_ids(reached))
        done = not feed.records or start >= total or met or (bool(days) and min(days) < frontier)
        keep = [
            r
            for r in feed.records
            if not isinstance(r, Paper) or r.published is None or r.published >= frontier
        ]
        if done:
            yield keep, {"frontier": newest or frontier, "resume_start": 0}
            return
        yield keep, {"frontier": frontier, "resume_start": start, "run_newest": newest}
    run.notes.append(
        f"stopped after {settings.sources_arxiv_max_pages} pages (sources_arxiv_max_pages); "
        "continues next run"
    )


def _hf_pages(
    store: Store,
    source: FollowedSource,
    settings: Settings,
    http: HttpClient,
    today: date,
    run: SourceRun,
) -> Iterator[Page]:
    last = _day(source.cursor.get("last_day"))
    start = last or today - timedelta(days=max(1, settings.sources_initial_days) - 1)
    start = (
        min(start, today - timedelta(days=max(1, settings.hf_refresh_days) - 1)) if last else start
    )
    start = _floor(settings, today, start, run)
    days = [start + timedelta(days=i) for i in range((today - start).days + 1)]
    if len(days) > settings.hf_max_requests:
        run.notes.append(
            f"read {settings.hf_max_requests} of {len(days)} days (hf_max_requests); continues "
            "next run"
        )
        days = days[: settings.hf_max_requests]
    for day in days:
        records = list(hf_daily.fetch_hf_daily(day, settings, http))
        yield records, {"last_day": max(day, last) if last else day}


PAGES: dict[
    str, Callable[[Store, FollowedSource, Settings, HttpClient, date, SourceRun], Iterator[Page]]
] = {
    "arxiv-oai": _oai_pages,
    "arxiv": _api_pages,
    "hf-daily": _hf_pages,
}


def run_source(
    store: Store, settings: Settings, source: FollowedSource, holder: str | None = None,
    http: HttpClient | None = None, now: datetime | None = None,
) -> SourceRun:
    """Harvest one source from its cursor to today under its lock; errors are recorded, not
    raised."""
    run = SourceRun(source.name)
    holder = holder or holder_id()
    lease = settings.sources_lease_seconds

    def dead(other: str) -> bool:  # a dead process on this host; other hosts' locks simply expire
        stamp = now_utc()
        return other != holder and holder_is_dead(other, stamp, lease, stamp)

    if not store.sources.claim_source(source.id, holder, lease, dead):
        run.busy = True
        return run
    started = time.monotonic()
    run_id = store.runs.start_run(f"source:{source.name}")
    client = http or HttpClient(settings)
    sent_before, budget_before = client.requests, client.budget
    client.budget = Budget(
        max(1, settings.sources_max_requests), max(0.0, settings.sources_max_run_minutes) * 60,
        "sources_max_requests, sources_max_run_minutes",
    )
    try:
        today = today_of(settings)
        for records, cursor in PAGES[source.kind](store, source, settings, client, today, run):
            papers = [r for r in records if isinstance(r, Paper)]
            bad = [r for r in records if isinstance(r, RecordError)]
            run.errors.extend(bad[: max(0, MAX_ERRORS_KEPT - len(run.errors))])
            counts = store.sources.commit_page(
                source.id, holder, papers, cursor, lease, now, run_id, len(bad)
            )
            run.counts = run.counts + counts + IngestCounts(rejected=len(bad))
            run.pages += 1
    except PaperfeedError as exc:
        run.error = exc.message
    except Exception as exc:  # an unexpected failure is recorded on the source, then re-raised
        run.error = f"{type(exc).__name__}: {exc}"
        run.requests = client.requests - sent_before
        _finish(store, source, run, run_id, started)
        store.sources.release_source(source.id, holder)
        raise
    finally:
        run.requests = client.requests - sent_before
        client.budget = budget_before
        if http is None:
            client.close()
    _finish(store, source, run, run_id, started)
    store.sources.release_source(source.id, holder)
    return run


def _finish(
    store: Store, source: FollowedSource, run: SourceRun, run_id: int, started: float
) -> None:
    run.seconds = time.monotonic() - started
    store.sources.record_source_run(source.id, run.as_dict(), run.error)
    store.runs.finish_run(run_id, run.counts, error=run.error)
    if run.error:
        log.error("source %s: %s", source.name, run.error)


def run_sources(
    store: Store, settings: Settings, names: list[str] | None = None, due_only: bool = False,
    now: datetime | None = None, http: HttpClient | None = None,
) -> list[SourceRun]:
    """Run the named followed sources (all enabled ones when none are named); due_only for the
    worker."""
    now = now or now_utc()
    chosen = list_sources(store, settings)
    if names:
        by_name = {s.name: s for s in chosen}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise NotFound(
                f"no followed source named {missing[0]!r} (followed: "
                f"{', '.join(by_name) or 'none yet'})"
            )
        chosen = [by_name[n] for n in names]
    else:
        chosen = [s for s in chosen if s.enabled]
    interval = timedelta(minutes=settings.sources_interval_minutes)
    runs = []
    started = now_utc()
    for source in chosen:
        if (
            due_only
            and source.last_run_at is not None
            and now - source.last_run_at < interval
            and not source.cursor.get("token")
        ):
            continue
        runs.append(run_source(store, settings, source, http=http))
    if runs:
        # the upvotes just read: their charts, before any page asks
        draw_read_charts(store, settings, started)
    return runs
