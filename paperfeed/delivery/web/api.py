"""The REST API under /api/v1 (OpenAPI at /docs).

Errors are JSON: {"status": ..., "message": ...}. Reads are open. Writes need a personal API token
(`Authorization: Bearer pf_...`, made on the profile page) or a logged-in browser session plus its
CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.responses import Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field

from paperfeed.core.errors import BadRequest, Unauthorized
from paperfeed.core.models import User
from paperfeed.delivery.app import community, papers, submissions
from paperfeed.delivery.web import services as sv
from paperfeed.delivery.web.categories import category_names, is_category
from paperfeed.delivery.web.deps import PaperId, api_user, api_writer, json_response
from paperfeed.delivery.web.state import get_state
from paperfeed.ranking.trending import FORMULA

bearer = HTTPBearer(auto_error=False, description="A personal API token from your profile page.")
router = APIRouter(prefix="/api/v1", tags=["api"])
Writer = Annotated[User, Depends(api_writer)]
Caller = Annotated[User | None, Depends(api_user)]
Limit = Annotated[int, Query(ge=1, le=100, description="Papers per page.")]
CategoryQ = Annotated[
    str | None, Query(max_length=32, description="arXiv category code, e.g. cs.CL.")
]


class Category(BaseModel):
    """An arXiv category code with its name."""

    code: str
    name: str


class PaperOut(BaseModel):
    """A paper."""

    id: int
    arxiv_id: str | None
    version: int | None
    title: str
    authors: list[str]
    categories: list[Category]
    day: str | None
    published: str | None
    upvotes: int = Field(description="Community votes plus Hugging Face upvotes.")
    external_upvotes: int
    links: dict[str, str | None]
    abstract: str | None = None
    comment: str | None = None
    versions: list[int] | None = None
    sources: list[str] | None = None
    doi: str | None = None
    journal_ref: str | None = None
    license: str | None = None
    affiliations: list[list[str]] | None = Field(
        default=None, description="Per author, in author order."
    )
    announced_on: str | None = Field(default=None, description="The day arXiv announced it.")
    updated: str | None = Field(default=None, description="The latest version's day.")
    external_comments: int | None = Field(default=None, description="Comments on Hugging Face.")
    dois: list[str] | None = Field(
        default=None, description="Every DOI, the main one (`doi`) first."
    )
    ai_summary: str | None = Field(
        default=None, description="Hugging Face's one-line AI summary (not the abstract)."
    )
    project_page: str | None = Field(
        default=None, description="The project page Hugging Face gives."
    )
    organization: dict[str, str | None] | None = Field(
        default=None, description="The Hugging Face organisation: name and fullname.")
    github_stars: int | None = Field(
        default=None, description="Stars of the code repository (Hugging Face)."
    )
    withdrawn: bool = False
    score: float | None = None
    comments: int | None = Field(
        default=None, description="Visible comments in the paper's discussion."
    )
    matched_terms: list[str] | None = Field(
        default=None, description="Search: the query words it holds."
    )


class ListOut(BaseModel):
    """One page of a day/week/month listing."""

    period: str
    day: str | None
    since: str | None
    until: str | None
    prev_day: str | None
    next_day: str | None
    total: int
    page: int
    limit: int
    notice: str | None = None
    papers: list[PaperOut]


class SearchOut(BaseModel):
    """One page of search results."""

    query: str
    total: int
    all_words: int | None = None  # papers holding every query word
    some_words: int | None = None  # papers holding only some of them
    notice: str | None
    page: int
    limit: int
    papers: list[PaperOut]


class TrendingOut(BaseModel):
    """Trending papers with their scores."""

    formula: str
    params: dict[str, float]
    notice: str | None = None
    papers: list[PaperOut]


class VoteOut(BaseModel):
    """A paper's upvotes after a vote."""

    paper_id: int
    upvotes: int
    voted: bool
    changed: bool


class SubmitIn(BaseModel):
    """A paper to add, by arXiv id or URL."""

    ref: str = Field(
        min_length=1, max_length=300, examples=["2503.11731", "https://arxiv.org/abs/2503.11731"]
    )


class SubmitOut(BaseModel):
    """How a submission ended: exists (a duplicate), added, or queued (arXiv unreachable)."""

    status: Literal["exists", "added", "queued"]
    arxiv_id: str
    paper_id: int | None
    message: str


class ErrorOut(BaseModel):
    """Every error answer."""

    status: int
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 429)
}



def no_nul(*values: str | None) -> None:
    """BadRequest when a text field holds a NUL character (PostgreSQL refuses them in text)."""
    if any(v and "\x00" in v for v in values):
        raise BadRequest("text must not contain NUL characters")


def _category(code: str | None) -> str | None:
    if code and not is_category(code):
        raise BadRequest(f"category: {code!r} is not an arXiv category")
    return code or None


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


@router.get("/papers", response_model=ListOut, responses=ERRORS)
def list_papers(
    request: Request,
    period: Literal["day", "week", "month"] = "day",
    day: Annotated[
        date | None, Query(description="Last day of the period (default: the newest day).")
    ] = None,
    category: CategoryQ = None,
    page: Annotated[int, Query(ge=1, le=10000)] = 1,
    limit: Limit = 30,
) -> Response:
    """Papers of a day, week or month, most upvoted first (community votes + Hugging Face
    upvotes)."""
    state = get_state(request)
    cat = _category(category)

    def compute() -> bytes:
        lst = sv.listing(state, day, period, category=cat, page=page, page_size=limit)
        return json.dumps(
            {
                "period": lst.period,
                "day": _iso(lst.day),
                "since": _iso(lst.since),
                "until": _iso(lst.until),
                "prev_day": _iso(lst.prev_day),
                "next_day": _iso(lst.next_day),
                "total": lst.total,
                "page": lst.page,
                "limit": lst.page_size,
                "notice": lst.notice,
                "papers": [sv.card_json(c) for c in lst.cards],
            },
            ensure_ascii=False,
        ).encode()

    body: bytes = state.cached(("api-papers", period, day, cat, page, limit), compute)
    return Response(body, media_type="application/json")


@router.get("/papers/{paper_id:int}", response_model=PaperOut, responses=ERRORS)
def get_paper(request: Request, paper_id: PaperId) -> Response:
    """One paper with abstract, versions and links."""
    state = get_state(request)
    paper = papers.get_paper(state.store, paper_id)
    out = papers.paper_data(paper, papers.upvote_count(state.store, paper))
    out["comments"] = state.store.comments.comment_counts([paper_id]).get(paper_id, 0)
    return json_response(out)


@router.get("/papers/{paper_id:int}/similar", response_model=list[PaperOut], responses=ERRORS)
def similar(
    request: Request, paper_id: PaperId, k: Annotated[int, Query(ge=1, le=50)] = 10
) -> Response:
    """Papers similar to this one (from the search index)."""
    state = get_state(request)
    papers.get_paper(state.store, paper_id)
    return json_response([sv.card_json(c) for c in sv.similar(state, paper_id, k)])


@router.get("/search", response_model=SearchOut, responses=ERRORS)
def search(
    request: Request,
    q: Annotated[
        str, Query(max_length=500, description="Query; see the search page for the syntax.")
    ] = "",
    sort: Literal["relevance", "date"] = "relevance",
    since: date | None = None,
    until: date | None = None,
    category: Annotated[
        str | None, Query(max_length=100, description="Code, archive (cs) or name.")
    ] = None,
    author: Annotated[str | None, Query(max_length=200)] = None,
    mode: Literal["hybrid", "lexical", "semantic"] = "hybrid",
    page: Annotated[int, Query(ge=1, le=1000)] = 1,
    limit: Limit = 20,
) -> Response:
    """Full-text and semantic search with filters."""
    no_nul(q, category, author)
    result = sv.search(
        get_state(request),
        q,
        page=page,
        page_size=limit,
        sort=sort,
        since=since,
        until=until,
        category=category or None,
        author=author or None,
        mode=mode,
    )
    papers = []
    for c in result.cards:
        out = sv.card_json(c)
        hit = result.hits.get(c.paper.id or 0)
        out["matched_terms"] = list(hit.matched_terms) if hit is not None else []
        papers.append(out)
    return json_response({"query": q, "total": result.total, "all_words": result.all_words,
                  "some_words": result.some_words, "notice": result.notice, "page": result.page,
                  "limit": result.page_size, "papers": papers})


@router.get("/trending", response_model=TrendingOut, responses=ERRORS)
def trending(
    request: Request,
    limit: Limit = 30,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    category: CategoryQ = None,
) -> Response:
    """Papers ranked by upvotes with HN-style time decay (the formula is in the answer)."""
    state = get_state(request)
    cat = _category(category)

    def compute() -> bytes:
        p = sv.trending_params(state)
        cards = sv.trending(state, limit=limit, offset=offset, category=cat)
        return json.dumps({
            "formula": FORMULA,
            "params": {"gravity": p.gravity, "offset_hours": p.offset_hours,
                       "external_weight": p.external_weight, "window_days": p.window_days},
            "notice": sv.trending_notice(state),
            "papers": [sv.card_json(c) for c in cards],
        }, ensure_ascii=False).encode()

    body: bytes = state.cached(("api-trending", limit, offset, cat), compute)
    return Response(body, media_type="application/json")


@router.get("/categories", response_model=list[Category])
def categories() -> Response:
    """Every arXiv category code with its name."""
    return json_response([{"code": k, "name": v} for k, v in sorted(category_names().items())])


@router.get("/me", responses=ERRORS, dependencies=[Security(bearer)])
def me(request: Request, user: Caller) -> Response:
    """The caller's account."""
    if user is None:
        raise Unauthorized("not logged in")
    return json_response({"id": user.id, "username": user.username, "email": user.email})


@router.post(
    "/papers/{paper_id}/upvote",
    response_model=VoteOut,
    responses=ERRORS,
    dependencies=[Security(bearer)],
)
def upvote(request: Request, paper_id: PaperId, user: Writer) -> Response:
    """Upvote a paper (a second upvote by the same user changes nothing)."""
    return _vote(request, user, paper_id, True)


@router.delete(
    "/papers/{paper_id}/upvote",
    response_model=VoteOut,
    responses=ERRORS,
    dependencies=[Security(bearer)],
)
def unvote(request: Request, paper_id: PaperId, user: Writer) -> Response:
    """Take back an upvote."""
    return _vote(request, user, paper_id, False)


def _vote(request: Request, user: User, paper_id: int, up: bool) -> Response:
    state = get_state(request)
    result = community.vote(state.store, user.id, paper_id, up)
    state.after_write()
    return json_response(
        {"paper_id": paper_id, "upvotes": result.upvotes, "voted": up, "changed": result.changed}
    )


@router.post("/submissions", response_model=SubmitOut, responses=ERRORS, status_code=201,
             dependencies=[Security(bearer)])
def submit(request: Request, body: SubmitIn, user: Writer) -> Response:
    """Add a paper by arXiv id or URL; 200 when it is already here, 202 when queued."""
    no_nul(body.ref)
    state = get_state(request)
    result = submissions.submit(state.settings, state.store, user.id, body.ref)
    state.after_write()
    status = {"added": 201, "exists": 200, "queued": 202}[result.status]
    return json_response(
        {
            "status": result.status,
            "arxiv_id": result.arxiv_id,
            "paper_id": result.paper_id,
            "message": result.message,
        },
        status,
    )
