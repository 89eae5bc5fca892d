"""Submitting a paper by arXiv id or URL, and the queue of submissions waiting for arXiv.

A request never fetches from arXiv (#21 F3): arXiv's 3 s pacing is one lock for the whole site, so
eight submissions would hold eight request threads and stall every page. A submission is answered
from the store (the paper is here, or already queued) or queued; the worker fetches the queue each
cycle (`process_submissions`, also `paperfeed submissions process`). Fetched papers go through the
ingest path (`ingest_papers`): a run record, the merge, and an index refresh, as a file's would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from paperfeed.core.errors import BadRequest, NotFound, PaperfeedError, SourceError
from paperfeed.core.models import Paper, parse_arxiv_ref
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app.ingest import ingest_papers
from paperfeed.sources.arxiv_api import fetch_arxiv_ids
from paperfeed.store import Store

log = logging.getLogger("paperfeed.submissions")


@dataclass(frozen=True)
class SubmitResult:
    """How a submission ended: exists | added | queued."""

    status: str
    arxiv_id: str
    paper_id: int | None
    message: str


def fetch_one(settings: Settings, arxiv_id: str, quick: bool) -> Paper:
    """Fetch one paper from the arXiv API; SourceError when unreachable, NotFound when unknown."""
    if quick:  # one short try (no retries), for callers that cannot wait
        settings = with_overrides(
            settings, http_retries=0, http_timeout=min(settings.http_timeout, 10.0)
        )
    try:
        with httpx.Client(
            timeout=settings.http_timeout, headers={"User-Agent": settings.user_agent}
        ) as client:
            items = list(fetch_arxiv_ids([arxiv_id], settings, client))
    except httpx.HTTPError as exc:
        raise SourceError(f"arXiv unreachable: {exc}") from None
    for item in items:
        if isinstance(item, Paper) and item.arxiv_id == arxiv_id:
            return item
    reasons = "; ".join(str(i) for i in items if not isinstance(i, Paper))
    raise NotFound(f"arXiv has no paper {arxiv_id}" + (f" ({reasons})" if reasons else ""))


def _store(settings: Settings, store: Store, paper: Paper) -> int | None:
    ingest_papers(store, settings, [paper], f"submission:{paper.arxiv_id}")
    stored = store.papers.get_paper_by_arxiv(paper.arxiv_id or "")
    return stored.id if stored else None


def submit(settings: Settings, store: Store, user_id: int | None, ref: str) -> SubmitResult:
    """Add a paper by arXiv id or URL: recognise it from the store, or queue it for the worker."""
    try:
        arxiv_id, _ = parse_arxiv_ref(ref[:300])
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    existing = store.papers.get_paper_by_arxiv(arxiv_id)
    if existing is not None:
        return SubmitResult("exists", arxiv_id, existing.id, f"{arxiv_id} is already here")
    if store.submissions.queued_submission(arxiv_id) is not None:
        return SubmitResult(
            "queued", arxiv_id, None, f"{arxiv_id} is already queued; it will be fetched soon"
        )
    store.submissions.add_submission(user_id, arxiv_id, "queued")
    return SubmitResult("queued", arxiv_id, None,
                        f"{arxiv_id} is queued: it is fetched from arXiv within a few minutes "
                        "(your submissions below show when it is here)")


def process_submissions(settings: Settings, store: Store, limit: int = 100) -> dict[str, int]:
    """Retry queued submissions (the `paperfeed submissions process` job)."""
    done = failed = waiting = 0
    for sub in store.submissions.list_submissions(status="queued", limit=limit):
        existing = store.papers.get_paper_by_arxiv(sub.arxiv_id)
        try:
            paper = existing or fetch_one(settings, sub.arxiv_id, quick=False)
        except NotFound as exc:
            store.submissions.finish_submission(sub.id, "failed", error=exc.message)
            failed += 1
            continue
        except PaperfeedError as exc:
            store.submissions.finish_submission(sub.id, "queued", error=exc.message)
            waiting += 1
            log.warning("submission %s still waiting: %s", sub.arxiv_id, exc.message)
            continue
        paper_id = existing.id if existing is not None else _store(settings, store, paper)
        store.submissions.finish_submission(sub.id, "done", paper_id=paper_id)
        done += 1
    return {"done": done, "failed": failed, "queued": waiting}
