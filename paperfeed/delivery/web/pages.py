"""Server-rendered pages: home, trending, search, categories, paper, submit, collections, about."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.ids import MAX_ID
from paperfeed.core.models import User
from paperfeed.delivery.app import community, papers, submissions
from paperfeed.delivery.common.build_status import read_build_status
from paperfeed.delivery.web import discussion_routes, services as sv, topic_routes
from paperfeed.delivery.web.categories import category_names, is_category
from paperfeed.delivery.web.deps import (
    csrf_form,
    flash,
    page_user,
    render,
    require_page_user,
    safe_next,
    write_limit,
)
from paperfeed.delivery.web.richtext import query_stems
from paperfeed.delivery.web.state import get_state
from paperfeed.ranking.trending import FORMULA

router = APIRouter(include_in_schema=False)
# Ids are int4 on PostgreSQL: a larger id is a clean 400, never a database overflow.
DbId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _int(raw: str | None, name: str, default: int = 1, low: int = 1, high: int = 100000) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}: must be between {low} and {high}")
    return value


def _uid(user: User | None) -> int | None:
    return user.id if user else None


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request, day: str | None = None, period: str = "day", page: str | None = None
) -> HTMLResponse:
    """The day's (or week's, month's) papers, most upvoted first."""
    user = page_user(request)
    state = get_state(request)
    the_day, page_no = sv.parse_day(day), _int(page, "page")

    def context() -> dict[str, Any]:
        lst = sv.listing(state, the_day, period, page=page_no, user_id=_uid(user))
        return {"listing": lst, "title": "Daily papers"}

    return render(request, "home.html", context, cache_key=("home", the_day, period, page_no))


@router.get("/trending", response_class=HTMLResponse)
def trending_page(request: Request, category: str | None = None) -> HTMLResponse:
    """Papers ranked by upvotes with time decay."""
    user = page_user(request)
    cat = category or None
    if cat is not None and not is_category(cat):
        raise BadRequest(f"category: {cat!r} is not an arXiv category")

    def context() -> dict[str, Any]:
        cards = sv.trending(get_state(request), limit=50, category=cat, user_id=_uid(user))
        return {
            "cards": cards,
            "category": cat,
            "title": "Trending",
            "notice": sv.trending_notice(get_state(request)),
        }

    return render(request, "trending.html", context, cache_key=("trending", cat))


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: str = "",
    sort: str = "relevance",
    since: str | None = None,
    until: str | None = None,
    category: str | None = None,
    author: str | None = None,
    mode: str = "hybrid",
    page: str | None = None,
) -> HTMLResponse:
    """Search with filters; the query syntax is explained on the page."""
    user = page_user(request)
    result = sv.search(
        get_state(request),
        q,
        page=_int(page, "page"),
        sort=sort,
        since=sv.parse_day(since, "since"),
        until=sv.parse_day(until, "until"),
        category=category or None,
        author=author or None,
        mode=mode,
        user_id=_uid(user),
    )
    form = {
        "q": q,
        "sort": sort,
        "since": since or "",
        "until": until or "",
        "category": category or "",
        "author": author or "",
        "mode": mode,
    }
    why = {pid: hit.matched_terms for pid, hit in (result.hits or {}).items()}
    return render(
        request,
        "search.html",
        {
            "result": result,
            "form": form,
            "nav_q": q,
            "title": f"Search: {q}" if q else "Search",
            "categories": category_names(),
            "marks": query_stems(q),
            "why": why,
        },
    )


@router.get("/categories", response_class=HTMLResponse)
def categories_page(request: Request) -> HTMLResponse:
    """Every category that has papers, with its arXiv name."""
    state = get_state(request)

    def context() -> dict[str, Any]:
        counts: dict[str, int] = state.cached(
            ("category_counts",), state.store.votes.category_counts
        )
        return {"rows": sorted(counts.items()), "title": "Categories"}

    return render(request, "categories.html", context, cache_key=("categories",))


@router.get("/c/{code}", response_class=HTMLResponse)
def category_page(request: Request, code: str, day: str | None = None, period: str = "month",
                  page: str | None = None) -> HTMLResponse:
    """A category's papers of a day, week or month."""
    if not is_category(code):
        raise NotFound(f"no arXiv category {code!r}")
    user = page_user(request)
    the_day, page_no = sv.parse_day(day), _int(page, "page")

    def context() -> dict[str, Any]:
        lst = sv.listing(
            get_state(request), the_day, period, category=code, page=page_no, user_id=_uid(user)
        )
        return {"listing": lst, "code": code, "title": code,
                "day_chart": topic_routes.category_chart(get_state(request), code)}

    return render(
        request, "category.html", context, cache_key=("category", code, the_day, period, page_no)
    )


@router.get("/papers/{paper_id:int}", response_class=HTMLResponse)
def paper_page(request: Request, paper_id: DbId) -> HTMLResponse:
    """One paper: abstract, authors, versions, links, upvotes, similar papers, collections."""
    state = get_state(request)
    user = page_user(request)

    def context() -> dict[str, Any]:
        paper = papers.get_paper(state.store, paper_id)
        return {
            "paper": paper,
            "upvotes": papers.upvote_count(state.store, paper),
            "voted": bool(user and state.store.votes.voted_by(user.id, [paper_id])),
            "links": papers.links(paper),
            "similar": sv.similar(state, paper_id, 8),
            "upvote_chart": topic_routes.paper_chart(state, paper_id),
            "in_collections": state.store.collections.collections_with_paper(paper_id, _uid(user)),
            "my_collections": state.store.collections.user_collections(user.id) if user else [],
            "title": paper.title,
            **discussion_routes.paper_context(state, paper_id, user),
        }

    return render(request, "paper.html", context, cache_key=("paper", paper_id))


@router.get("/arxiv/{ref:path}")
def arxiv_redirect(request: Request, ref: str) -> RedirectResponse:
    """/arxiv/2503.11731 (or any arXiv URL form) goes to the paper's page."""
    paper = papers.find_paper(get_state(request).store, ref)
    return RedirectResponse(f"/papers/{paper.id}", status_code=303)


def _vote(request: Request, paper_id: int, up: bool, next_url: str) -> Response:
    state = get_state(request)
    user = require_page_user(request)
    write_limit(request, user)
    result = community.vote(state.store, user.id, paper_id, up)
    state.after_write()
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"paper_id": paper_id, "upvotes": result.upvotes, "voted": up})
    return RedirectResponse(safe_next(next_url, f"/papers/{paper_id}"), status_code=303)


@router.post("/papers/{paper_id}/upvote", dependencies=[Depends(csrf_form)])
def upvote(request: Request, paper_id: DbId, next: str = Form("")) -> Response:
    """Upvote (once: a second upvote changes nothing)."""
    return _vote(request, paper_id, True, next)


@router.post("/papers/{paper_id}/unvote", dependencies=[Depends(csrf_form)])
def unvote(request: Request, paper_id: DbId, next: str = Form("")) -> Response:
    """Take an upvote back."""
    return _vote(request, paper_id, False, next)


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request) -> HTMLResponse:
    """The form to submit a paper by arXiv id or URL."""
    state = get_state(request)
    user = require_page_user(request)
    mine = state.store.submissions.list_submissions(user_id=user.id, limit=20)
    return render(
        request, "submit.html", {"title": "Submit a paper", "ref": "", "error": None, "mine": mine}
    )


@router.post("/submit", dependencies=[Depends(csrf_form)], response_model=None)
def submit_post(request: Request, ref: str = Form("")) -> Response:
    """Add the paper (or recognise it, or queue it when arXiv is unreachable)."""
    user = require_page_user(request)
    write_limit(request, user)
    state = get_state(request)
    try:
        result = submissions.submit(state.settings, state.store, user.id, ref)
    except (BadRequest, NotFound) as exc:
        mine = state.store.submissions.list_submissions(user_id=user.id, limit=20)
        return render(
            request,
            "submit.html",
            {"title": "Submit a paper", "ref": ref, "error": exc.message, "mine": mine},
            status_code=exc.status,
        )
    state.after_write()
    flash(request, result.message, "info" if result.status != "queued" else "warn")
    target = f"/papers/{result.paper_id}" if result.paper_id else "/submit"
    return RedirectResponse(target, status_code=303)


@router.get("/about", response_class=HTMLResponse)
def about(request: Request) -> HTMLResponse:
    """What this site is, the trending formula, and how fresh the data is."""
    state = get_state(request)
    user = page_user(request)
    last = state.store.runs.last_successful_run()
    params = sv.trending_params(state)
    index = state.search.status()
    ctx = {
        "title": "About",
        "formula": FORMULA,
        "params": params,
        "papers": state.store.papers.count_papers(),
        "last_ingest": last.finished_at if last else None,
        "last_source": last.source if last else None,
        "search": sv.reader_search_status(index),
        "sources": sv.followed_sources(state),
        "build": read_build_status(state.settings),  # an index or topics build running now
        # index internals (paths, build times) are for administrators, not for readers
        "index": index if user and user.is_admin else None,
        "now": datetime.now(UTC),
    }
    return render(request, "about.html", ctx)


# ----- collections --------------------------------------------------------------------------------


@router.post("/collections", dependencies=[Depends(csrf_form)])
def collection_create(
    request: Request, name: str = Form(""), description: str = Form(""), is_public: str = Form(""),
    paper_id: str = Form(""),
) -> RedirectResponse:
    """Create a collection (optionally with a first paper)."""
    user = require_page_user(request)
    write_limit(request, user)
    state = get_state(request)
    first = _int(paper_id, "paper_id", high=MAX_ID) if paper_id else None
    coll = community.create_collection(
        state.store, user.id, name, description, bool(is_public), first
    )
    state.after_write()
    flash(request, f"Collection “{coll.name}” created")
    return RedirectResponse(f"/collections/{coll.id}", status_code=303)


@router.get("/collections/{collection_id}", response_class=HTMLResponse)
def collection_page(request: Request, collection_id: DbId) -> HTMLResponse:
    """A collection's papers (public ones for everyone, private ones for their owner)."""
    state = get_state(request)
    user = page_user(request)
    coll = community.visible_collection(state.store, collection_id, _uid(user))
    members = state.store.collections.collection_papers(collection_id)
    cards = sv.make_cards(state, [p.id for p in members if p.id is not None], None, _uid(user))
    owner = bool(user and user.id == coll.user_id)
    return render(
        request,
        "collection.html",
        {"coll": coll, "cards": cards, "owner": owner, "title": coll.name},
    )


@router.post("/collections/{collection_id}/edit", dependencies=[Depends(csrf_form)])
def collection_edit(
    request: Request,
    collection_id: DbId,
    name: str = Form(""),
    description: str = Form(""),
    is_public: str = Form(""),
) -> RedirectResponse:
    """Rename, describe, publish or hide an own collection."""
    user = require_page_user(request)
    write_limit(request, user)
    name, description = community.clean_collection_fields(name, description)
    get_state(request).store.collections.update_collection(
        user.id, collection_id, name, description, bool(is_public)
    )
    get_state(request).after_write()
    flash(request, "Collection saved")
    return RedirectResponse(f"/collections/{collection_id}", status_code=303)


@router.post("/collections/{collection_id}/delete", dependencies=[Depends(csrf_form)])
def collection_delete(request: Request, collection_id: DbId) -> RedirectResponse:
    """Delete an own collection."""
    user = require_page_user(request)
    write_limit(request, user)
    get_state(request).store.collections.delete_collection(user.id, collection_id)
    get_state(request).after_write()
    flash(request, "Collection deleted")
    return RedirectResponse("/profile", status_code=303)


@router.post("/collections/add", dependencies=[Depends(csrf_form)])
def collection_add_picked(request: Request, collection_id: str = Form(""), paper_id: str = Form(""),
                          next: str = Form("")) -> RedirectResponse:
    """Add a paper to the own collection picked in a form's select box."""
    return collection_add(
        request, _int(collection_id, "collection_id", high=MAX_ID), paper_id, next
    )


@router.post("/collections/{collection_id}/papers", dependencies=[Depends(csrf_form)])
def collection_add(
    request: Request, collection_id: DbId, paper_id: str = Form(""), next: str = Form("")
) -> RedirectResponse:
    """Add a paper to an own collection."""
    user = require_page_user(request)
    write_limit(request, user)
    pid = _int(paper_id, "paper_id", high=MAX_ID)
    added = community.collect(get_state(request).store, user.id, collection_id, pid)
    get_state(request).after_write()
    flash(request, "Added to the collection" if added else "Already in that collection")
    return RedirectResponse(safe_next(next, f"/collections/{collection_id}"), status_code=303)


@router.post(
    "/collections/{collection_id}/papers/{paper_id}/remove", dependencies=[Depends(csrf_form)]
)
def collection_remove(
    request: Request, collection_id: DbId, paper_id: DbId, next: str = Form("")
) -> RedirectResponse:
    """Take a paper out of an own collection."""
    user = require_page_user(request)
    write_limit(request, user)
    get_state(request).store.collections.remove_from_collection(user.id, collection_id, paper_id)
    get_state(request).after_write()
    flash(request, "Removed from the collection")
    return RedirectResponse(safe_next(next, f"/collections/{collection_id}"), status_code=303)


@router.get("/collections/{collection_id}/export.bib")
def collection_bibtex(request: Request, collection_id: DbId) -> Response:
    """The collection as BibTeX."""
    state = get_state(request)
    coll = community.visible_collection(state.store, collection_id, _uid(page_user(request)))
    body = papers.bibtex(state.store.collections.collection_papers(collection_id))
    return Response(
        body,
        media_type="application/x-bibtex; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="collection-{coll.id}.bib"'},
    )


@router.get("/collections/{collection_id}/export.json")
def collection_json_export(request: Request, collection_id: DbId) -> Response:
    """The collection and its papers as JSON."""
    state = get_state(request)
    coll = community.visible_collection(state.store, collection_id, _uid(page_user(request)))
    body = community.collection_export_json(
        coll, state.store.collections.collection_papers(collection_id)
    )
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="collection-{coll.id}.json"'},
    )


@router.get("/u/{username}", response_class=HTMLResponse)
def user_page(request: Request, username: str) -> HTMLResponse:
    """A user's public collections."""
    state = get_state(request)
    owner = state.store.users.get_user_by_name(username)
    if owner is None:
        raise NotFound(f"no user {username!r}")
    colls = state.store.collections.user_collections(owner.id, public_only=True)
    return render(request, "user.html", {"owner": owner, "colls": colls, "title": owner.username})
