"""The operations pages, API and feeds share: listings, trending, search, submit, export."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from paperfeed.core.errors import BadRequest, NotFound, PaperfeedError, SourceError
from paperfeed.core.models import Paper, parse_arxiv_ref
from paperfeed.core.settings import with_overrides
from paperfeed.delivery.web.categories import category_name
from paperfeed.delivery.web.state import WebState, log
from paperfeed.ranking.trending import (
    TrendingParams,
    order_by_votes,
    rank_trending,
    reference_time,
    window_start,
)
from paperfeed.store.community import Collection

PERIODS = {"day": 1, "week": 7, "month": 30}
MAX_PAGE_SIZE = 100


@dataclass
class Card:
    """A paper as a list shows it."""

    paper: Paper
    upvotes: int
    voted: bool = False
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Listing:
    """One page of a day/week/month listing."""

    period: str
    day: date | None
    since: date | None
    until: date | None
    prev_day: date | None
    next_day: date | None
    total: int
    page: int
    page_size: int
    cards: list[Card]
    category: str | None = None

    @property
    def pages(self) -> int:
        """How many pages the listing has."""
        return max(1, -(-self.total // self.page_size))


def parse_day(raw: str | None, what: str = "day") -> date | None:
    """A YYYY-MM-DD day or None; BadRequest naming the parameter otherwise."""
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{what}: {raw!r} is not a date (expected YYYY-MM-DD)") from None


def trending_params(state: WebState) -> TrendingParams:
    """The formula's parameters from settings."""
    s = state.settings
    return TrendingParams(s.trending_gravity, s.trending_offset_hours, s.trending_external_weight, s.trending_window_days)


def paper_days(state: WebState) -> list[date]:
    """Days with papers, newest first (cached)."""
    days: list[date] = state.cached(("days",), lambda: state.store.paper_days(limit=5000))
    return days


def _neighbours(days: list[date], since: date, until: date, period: str) -> tuple[date | None, date | None]:
    """The day to show for 'previous' and 'next' (days are newest first)."""
    older = [d for d in days if d < since]
    newer = [d for d in days if d > until]
    if period == "day":
        return (older[0] if older else None), (newer[-1] if newer else None)
    span = timedelta(days=PERIODS[period])
    prev_day = until - span if older else None
    next_day = min(until + span, days[0]) if newer else None
    return prev_day, next_day


def listing(
    state: WebState, day: date | None, period: str = "day", category: str | None = None,
    page: int = 1, page_size: int | None = None, user_id: int | None = None,
) -> Listing:
    """Papers of a day, week or month (ending at `day`, default the newest day), most upvoted first."""
    if period not in PERIODS:
        raise BadRequest(f"period: {period!r} is not one of day, week, month")
    size = min(MAX_PAGE_SIZE, max(1, page_size or state.settings.web_page_size))
    page = max(1, page)
    days = paper_days(state)
    if not days:
        return Listing(period, None, None, None, None, None, 0, page, size, [], category)
    day = day or days[0]
    until = day
    since = day - timedelta(days=PERIODS[period] - 1)
    ordered = state.cached(
        ("order", since, until, category),
        lambda: order_by_votes(state.store.paper_votes(since=since, until=until, category=category)),
    )
    prev_day, next_day = _neighbours(days, since, until, period)
    chosen = ordered[(page - 1) * size : page * size]
    cards = make_cards(state, [v.paper_id for v in chosen], {v.paper_id: v.votes + v.external_upvotes for v in chosen}, user_id)
    return Listing(period, day, since, until, prev_day, next_day, len(ordered), page, size, cards, category)


def make_cards(
    state: WebState, ids: Sequence[int], upvotes: dict[int, int] | None = None, user_id: int | None = None
) -> list[Card]:
    """Cards for papers in the given order, with upvote counts and the viewer's own votes."""
    found = state.store.get_papers(ids)
    if upvotes is None:
        counts = state.store.vote_counts(ids)
        upvotes = {i: counts.get(i, 0) + (found[i].external_upvotes or 0) for i in ids if i in found}
    voted = state.store.voted_by(user_id, ids) if user_id is not None else set()
    return [Card(found[i], upvotes.get(i, 0), i in voted) for i in ids if i in found]


def trending(
    state: WebState, limit: int = 30, offset: int = 0, category: str | None = None, user_id: int | None = None
) -> list[Card]:
    """The trending papers (cached ranking), best first."""
    params = trending_params(state)

    def compute() -> list[Any]:
        days = paper_days(state)
        ref = reference_time(datetime.now(UTC), days[0] if days else None)
        rows = state.store.paper_votes(since=window_start(ref, params), category=category)
        return rank_trending(rows, ref, params, limit=1000)

    ranked = state.cached(("trending", category), compute)
    chosen = ranked[offset : offset + limit]
    cards = make_cards(state, [r.paper_id for r in chosen], {r.paper_id: r.upvotes for r in chosen}, user_id)
    scores = {r.paper_id: r.score for r in chosen}
    for c in cards:
        c.score = scores.get(c.paper.id or 0)
    return cards


# ----- search -------------------------------------------------------------------------------------


@dataclass
class SearchPage:
    """One page of search results."""

    query: str
    cards: list[Card]
    total: int
    notice: str | None
    page: int
    page_size: int
    hits: dict[int, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the results have."""
        return max(1, -(-self.total // self.page_size))


def search(
    state: WebState, query: str, *, page: int = 1, page_size: int | None = None, sort: str = "relevance",
    since: date | None = None, until: date | None = None, category: str | None = None,
    author: str | None = None, mode: str = "hybrid", user_id: int | None = None,
) -> SearchPage:
    """Run a search through ranking.search; an empty query lists nothing."""
    size = min(MAX_PAGE_SIZE, max(1, page_size or state.settings.web_page_size))
    page = max(1, page)
    if sort not in ("relevance", "date"):
        raise BadRequest(f"sort: {sort!r} is not one of relevance, date")
    if mode not in ("hybrid", "lexical", "semantic"):
        raise BadRequest(f"mode: {mode!r} is not one of hybrid, lexical, semantic")
    if len(query) > 500:
        raise BadRequest("q: at most 500 characters")
    if not query.strip() and not (category or author):
        return SearchPage(query, [], 0, None, page, size)
    index = state.search.get()
    if index is None:
        return SearchPage(query, [], 0, f"search is unavailable: {state.search.error or 'no index'}", page, size)
    from paperfeed.ranking.search import search_papers

    result = search_papers(
        index, query, k=size, offset=(page - 1) * size, sort=sort, since=since, until=until,
        category=category, author=author, mode=mode,
    )
    ids = [h.paper_id for h in result.hits]
    cards = make_cards(state, ids, None, user_id)
    hits = {h.paper_id: h for h in result.hits}
    for c in cards:
        c.score = getattr(hits.get(c.paper.id or 0), "score", None)
    return SearchPage(query, cards, int(result.total), result.notice, page, size, hits)


def similar(state: WebState, paper_id: int, k: int = 10, user_id: int | None = None) -> list[Card]:
    """Papers like this one (empty without a search index)."""
    index = state.search.get()
    if index is None:
        return []
    from paperfeed.ranking.search import similar_papers

    def compute() -> list[int]:
        try:
            return [h.paper_id for h in similar_papers(index, paper_id, k=k) if h.paper_id != paper_id]
        except NotFound:
            return []

    ids: list[int] = state.cached(("similar", paper_id, k), compute)
    return make_cards(state, ids, None, user_id)


# ----- one paper ----------------------------------------------------------------------------------


def get_paper(state: WebState, paper_id: int) -> Paper:
    """One paper with sources and versions; NotFound otherwise."""
    found = state.store.get_paper(paper_id)
    if found is None:
        raise NotFound(f"no paper {paper_id}")
    return found


def find_paper_ref(state: WebState, ref: str) -> Paper:
    """A paper by arXiv id / URL; NotFound or BadRequest otherwise."""
    try:
        arxiv_id, _ = parse_arxiv_ref(ref)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    found = state.store.get_paper_by_arxiv(arxiv_id)
    if found is None:
        raise NotFound(f"no paper with arXiv id {arxiv_id} here (submit it?)")
    return found


def upvote_count(state: WebState, paper: Paper) -> int:
    """Community plus outside upvotes of one paper."""
    pid = paper.id or 0
    return state.store.vote_counts([pid]).get(pid, 0) + (paper.external_upvotes or 0)


def paper_json(p: Paper, upvotes: int | None = None, full: bool = True) -> dict[str, Any]:
    """The API's representation of a paper."""
    out: dict[str, Any] = {
        "id": p.id,
        "arxiv_id": p.arxiv_id,
        "version": p.version,
        "title": p.title,
        "authors": list(p.authors),
        "categories": [{"code": c, "name": category_name(c)} for c in p.categories],
        "day": p.day.isoformat() if p.day else None,
        "published": p.published.isoformat() if p.published else None,
        "upvotes": upvotes if upvotes is not None else (p.external_upvotes or 0),
        "external_upvotes": p.external_upvotes or 0,
        "links": links(p),
    }
    if full:
        out["abstract"] = p.abstract
        out["comment"] = p.comment
        out["versions"] = list(p.versions)
        out["sources"] = list(p.sources)
        out["doi"] = p.doi
        out["journal_ref"] = p.journal_ref
        out["license"] = p.license
        out["affiliations"] = [list(a) for a in p.affiliations]
        out["announced_on"] = p.announced_on.isoformat() if p.announced_on else None
        out["updated"] = p.updated.isoformat() if p.updated else None  # the latest version's day
        out["comments"] = p.external_comments
    out["withdrawn"] = p.withdrawn
    return out


def card_json(c: Card) -> dict[str, Any]:
    """A list entry: the paper without its abstract, plus the viewer's vote and the score."""
    out = paper_json(c.paper, c.upvotes, full=False)
    out["abstract"] = c.paper.abstract
    if c.score is not None:
        out["score"] = round(c.score, 6)
    return out


def links(p: Paper) -> dict[str, str | None]:
    """arXiv, PDF and code links of a paper."""
    abs_url = p.abs_url or (f"https://arxiv.org/abs/{p.arxiv_id}" if p.arxiv_id else None)
    pdf_url = p.pdf_url or (f"https://arxiv.org/pdf/{p.arxiv_id}" if p.arxiv_id else None)
    return {"arxiv": abs_url, "pdf": pdf_url, "code": p.code_url}


# ----- submit -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    """How a submission ended: exists | added | queued."""

    status: str
    arxiv_id: str
    paper_id: int | None
    message: str


def _fetch_one(state: WebState, arxiv_id: str, quick: bool) -> Paper:
    """Fetch one paper from the arXiv API; SourceError when unreachable, NotFound when unknown."""
    try:
        from paperfeed.sources.arxiv_api import fetch_arxiv_ids
    except ImportError:
        raise SourceError("the arXiv source is not installed in this build") from None
    import httpx

    settings = state.settings
    if quick:  # a person is waiting: one short try, then queue it
        settings = with_overrides(settings, http_retries=0, http_timeout=min(settings.http_timeout, 10.0))
    try:
        with httpx.Client(timeout=settings.http_timeout, headers={"User-Agent": settings.user_agent}) as client:
            items = list(fetch_arxiv_ids([arxiv_id], settings, client))
    except httpx.HTTPError as exc:
        raise SourceError(f"arXiv unreachable: {exc}") from None
    for item in items:
        if isinstance(item, Paper) and item.arxiv_id == arxiv_id:
            return item
    reasons = "; ".join(str(i) for i in items if not isinstance(i, Paper))
    raise NotFound(f"arXiv has no paper {arxiv_id}" + (f" ({reasons})" if reasons else ""))


def submit(state: WebState, user_id: int | None, ref: str) -> SubmitResult:
    """Add a paper by arXiv id or URL: recognise duplicates, fetch it, or queue it when arXiv is away."""
    try:
        arxiv_id, _ = parse_arxiv_ref(ref[:300])
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    existing = state.store.get_paper_by_arxiv(arxiv_id)
    if existing is not None:
        return SubmitResult("exists", arxiv_id, existing.id, f"{arxiv_id} is already here")
    if state.store.queued_submission(arxiv_id) is not None:
        return SubmitResult("queued", arxiv_id, None, f"{arxiv_id} is already queued; it will be fetched soon")
    try:
        paper = _fetch_one(state, arxiv_id, quick=True)
    except SourceError as exc:
        state.store.add_submission(user_id, arxiv_id, "queued", error=exc.message)
        return SubmitResult("queued", arxiv_id, None, f"arXiv is unreachable right now; {arxiv_id} is queued and will be fetched later")
    state.store.upsert_papers([paper])
    stored = state.store.get_paper_by_arxiv(arxiv_id)
    assert stored is not None
    state.store.add_submission(user_id, arxiv_id, "done", paper_id=stored.id)
    state.after_write()
    return SubmitResult("added", arxiv_id, stored.id, f"{arxiv_id} added")


def process_submissions(state: WebState, limit: int = 100) -> dict[str, int]:
    """Retry queued submissions (the `paperfeed submissions process` job)."""
    done = failed = waiting = 0
    for sub in state.store.list_submissions(status="queued", limit=limit):
        existing = state.store.get_paper_by_arxiv(sub.arxiv_id)
        try:
            paper = existing or _fetch_one(state, sub.arxiv_id, quick=False)
        except NotFound as exc:
            state.store.finish_submission(sub.id, "failed", error=exc.message)
            failed += 1
            continue
        except PaperfeedError as exc:
            state.store.finish_submission(sub.id, "queued", error=exc.message)
            waiting += 1
            log.warning("submission %s still waiting: %s", sub.arxiv_id, exc.message)
            continue
        if existing is None:
            state.store.upsert_papers([paper])
        stored = state.store.get_paper_by_arxiv(sub.arxiv_id)
        state.store.finish_submission(sub.id, "done", paper_id=stored.id if stored else None)
        done += 1
    return {"done": done, "failed": failed, "queued": waiting}


# ----- collections --------------------------------------------------------------------------------


def visible_collection(state: WebState, collection_id: int, viewer_id: int | None) -> Collection:
    """A collection the viewer may see (public, or their own); NotFound otherwise."""
    found = state.store.get_collection(collection_id)
    if found is None or not (found.is_public or found.user_id == viewer_id):
        raise NotFound(f"no collection {collection_id}")
    return found


def collection_json(c: Collection, papers: Sequence[Paper] | None = None) -> dict[str, Any]:
    """The API's representation of a collection."""
    out: dict[str, Any] = {
        "id": c.id, "owner": c.owner, "name": c.name, "description": c.description,
        "is_public": c.is_public, "created_at": c.created_at.isoformat(), "paper_count": c.paper_count,
    }
    if papers is not None:
        out["papers"] = [paper_json(p, full=False) for p in papers]
    return out


def clean_collection_fields(name: str, description: str) -> tuple[str, str]:
    """Trimmed name and description; BadRequest when the name is empty or either is too long."""
    name, description = name.strip(), description.strip()
    if not name:
        raise BadRequest("name: required")
    if len(name) > 200:
        raise BadRequest("name: at most 200 characters")
    if len(description) > 2000:
        raise BadRequest("description: at most 2000 characters")
    return name, description


_BIB_UNSAFE = re.compile(r"[{}\\]")


def _bib(text: str) -> str:
    """Text safe inside a BibTeX brace group: braces and backslashes are dropped so groups stay balanced."""
    return _BIB_UNSAFE.sub("", " ".join(text.split()))


def bibtex(papers: Sequence[Paper]) -> str:
    """BibTeX entries (@misc with arXiv eprint fields) for papers."""
    out = []
    for p in papers:
        key = (p.arxiv_id or f"paperfeed{p.id}").replace("/", "_")
        year = (p.published or p.day or date.today()).year
        fields = [
            ("title", "{" + _bib(p.title) + "}"),
            ("author", " and ".join(_bib(a) for a in p.authors) or "Unknown"),
            ("year", str(year)),
        ]
        if p.arxiv_id:
            fields += [("eprint", p.arxiv_id), ("archivePrefix", "arXiv")]
            if p.primary_category:
                fields.append(("primaryClass", p.primary_category))
        if p.doi:
            fields.append(("doi", _bib(p.doi)))
        if p.journal_ref:
            fields.append(("journal", _bib(p.journal_ref)))  # biblatex reads it; BibTeX's @misc ignores it
        if p.withdrawn:
            fields.append(("note", "Withdrawn by the authors"))
        url = links(p)["arxiv"]
        if url:
            fields.append(("url", _bib(url)))
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
        out.append(f"@misc{{{key},\n{body}\n}}\n")
    return "\n".join(out)


def collection_export_json(c: Collection, papers: Sequence[Paper]) -> str:
    """A collection with its papers (full records) as JSON."""
    data = collection_json(c)
    data["papers"] = [paper_json(p) for p in papers]
    return json.dumps(data, indent=2, ensure_ascii=False)
