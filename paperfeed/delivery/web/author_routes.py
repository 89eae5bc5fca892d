"""Author adapters: /authors/<name> pages and JSON, claiming a paper, the admin's claim queue."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path, Request, Security
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.core.authors import parse_name
from paperfeed.core.errors import Forbidden
from paperfeed.core.models import User
from paperfeed.delivery.app import authors as au
from paperfeed.delivery.web.api import ERRORS, bearer
from paperfeed.delivery.web.deps import (
    PaperId,
    UserId,
    api_writer,
    csrf_form,
    flash,
    json_response,
    page_user,
    render,
    require_page_user,
    write_limit,
)
from paperfeed.delivery.web.state import WebState, get_state

router = APIRouter()
Writer = Annotated[User, Depends(api_writer)]
AuthorName = Annotated[
    str, Path(min_length=1, max_length=200, description="An author's name, any spelling.")
]


def _page(state: WebState, name: str) -> au.AuthorPage:
    parsed = parse_name(name[:200])
    result: au.AuthorPage = state.cached(("author", parsed.key if parsed else name[:200]),
                                         lambda: au.author_page(state.store, name))
    return result


def follows(page: au.AuthorPage, followed: list[str]) -> bool:
    """Whether one of the followed names names this page (the same person, not a namesake)."""
    return any((n := parse_name(f)) is not None and n.key in page.keys for f in followed)


@router.get("/authors/{name}", response_class=HTMLResponse, include_in_schema=False)
def author_page(request: Request, name: str) -> HTMLResponse:
    """An author's papers, co-authors, categories and upvotes over time."""
    state = get_state(request)
    user = page_user(request)

    def context() -> dict[str, Any]:
        page = _page(state, name)
        followed = bool(
            user and follows(page, state.store.subscriptions.followed(user.id, "author"))
        )
        return {"title": page.name, "author": page, "followed": followed}

    return render(request, "author.html", context, cache_key=("author", name[:200]))


@router.post("/papers/{paper_id}/claim", dependencies=[Depends(csrf_form)], include_in_schema=False)
def claim_form(request: Request, paper_id: PaperId, author: str = Form("")) -> RedirectResponse:
    """Claim to be one of the paper's authors."""
    user = require_page_user(request)
    write_limit(request, user)
    state = get_state(request)
    claim = au.claim_paper(state.store, user, paper_id, author)
    state.after_write()
    flash(
        request,
        f"You are confirmed as {claim.author} on this paper"
        if claim.status == "confirmed"
        else f"Claim as {claim.author} sent: an administrator will confirm it",
    )
    return RedirectResponse(f"/papers/{paper_id}", status_code=303)


@router.get("/admin/claims", response_class=HTMLResponse, include_in_schema=False)
def claims_page(request: Request) -> HTMLResponse:
    """Pending authorship claims for administrators."""
    user = require_page_user(request)
    if not user.is_admin:
        raise Forbidden("administrators only")
    return render(
        request,
        "claims.html",
        {
            "title": "Authorship claims",
            "claims": get_state(request).store.authors.claims(status="pending"),
        },
    )


@router.post(
    "/admin/claims/{paper_id}/{user_id}", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def claims_decide(
    request: Request,
    paper_id: PaperId,
    user_id: UserId,
    decision: Annotated[Literal["confirm", "reject"], Form()],
) -> RedirectResponse:
    """Confirm or reject a claim."""
    admin = require_page_user(request)
    state = get_state(request)
    c = au.decide_claim(state.store, admin, paper_id, user_id, decision == "confirm")
    state.after_write()
    flash(request, f"Claim of {c.username} as {c.author} {c.status}")
    return RedirectResponse("/admin/claims", status_code=303)


# ----- API ----------------------------------------------------------------------------------------


class ClaimIn(BaseModel):
    """The author name on the paper that is you."""

    author: str = Field(min_length=1, max_length=200)


class ClaimOut(BaseModel):
    """An authorship claim."""

    paper_id: int
    username: str
    author: str
    status: Literal["pending", "confirmed", "rejected"]
    method: Literal["admin", "email-domain"]
    created_at: str
    decided_at: str | None



@router.get("/api/v1/authors/{name}", responses=ERRORS, tags=["authors"])
def api_author(request: Request, name: AuthorName) -> Response:
    """An author (all spellings that merge with this name): papers, co-authors, categories, upvotes
    per month."""
    return json_response(au.author_json(_page(get_state(request), name)))


@router.post(
    "/api/v1/papers/{paper_id}/claims",
    response_model=ClaimOut,
    responses=ERRORS,
    status_code=201,
    tags=["authors"],
    dependencies=[Security(bearer)],
)
def api_claim(request: Request, paper_id: PaperId, body: ClaimIn, user: Writer) -> Response:
    """Claim to be one of the paper's authors (confirmed at once by the email-domain rule, else
    pending)."""
    state = get_state(request)
    c = au.claim_paper(state.store, user, paper_id, body.author.replace("\x00", ""))
    state.after_write()
    return json_response(au.claim_json(c), 201)
