"""Digest subscriptions on the web: the settings page, the API under /api/v1/subscriptions, the one-
click unsubscribe page (RFC 8058) and the "more / less like this" links of digest emails.

The unsubscribe and feedback endpoints take no session and no CSRF token: the signed token in the
URL authenticates the request (it names the user and, for feedback, the paper and signal).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from paperfeed.core.models import User
from paperfeed.core.rules import DIGEST_SECTIONS, FREQUENCIES, SECTION_TITLES
from paperfeed.delivery.app import subscriptions
from paperfeed.delivery.jobs.digests import preview
from paperfeed.delivery.mail.tokens import (
    email_secret,
    link_account,
    read_feedback_token,
    read_unsubscribe_token,
)
from paperfeed.delivery.web.deps import (
    api_user,
    api_writer,
    csrf_form,
    flash,
    render,
    require_page_user,
)
from paperfeed.delivery.web.state import WebState, get_state
from paperfeed.store.digests import DigestSubscription

router = APIRouter()
NAV = [("Digest", "/subscriptions")]
Writer = Annotated[User, Depends(api_writer)]
Caller = Annotated[User | None, Depends(api_user)]
Token = Annotated[
    str, Query(min_length=10, max_length=400, description="The signed token from the email link.")
]


# ----- shared -------------------------------------------------------------------------------------


def _secret(state: WebState) -> str:
    secret: str = getattr(state, "secret_key", "") or email_secret(state.settings)
    return secret


def _overview(state: WebState, user: User) -> dict[str, Any]:
    store = state.store
    sub = store.subscriptions.get_subscription(user.id)
    return {
        "subscription": _sub_dict(sub) if sub else None,
        "searches": [s.__dict__ for s in store.subscriptions.saved_searches(user.id)],
        "categories": store.subscriptions.followed(user.id, "category"),
        "authors": store.subscriptions.followed(user.id, "author"),
    }


def _sub_dict(sub: DigestSubscription) -> dict[str, Any]:
    return {"frequency": sub.frequency, "send_hour": sub.send_hour, "weekday": sub.weekday,
            "timezone": sub.timezone, "max_papers": sub.max_papers, "sections": list(sub.sections),
            "active": sub.active}


# ----- pages --------------------------------------------------------------------------------------


@router.get("/subscriptions", response_class=HTMLResponse, include_in_schema=False)
def subscriptions_page(request: Request) -> HTMLResponse:
    """The user's digest settings, saved searches, follows and recent digests."""
    user = require_page_user(request)
    state = get_state(request)
    sub = state.store.subscriptions.get_subscription(user.id) or DigestSubscription(
        user_id=user.id, frequency="daily", active=False
    )
    return render(
        request,
        "subscriptions.html",
        {
            "title": "Your digest",
            "sub": sub,
            "subscribed": state.store.subscriptions.get_subscription(user.id) is not None,
            "searches": state.store.subscriptions.saved_searches(user.id),
            "categories": state.store.subscriptions.followed(user.id, "category"),
            "authors": state.store.subscriptions.followed(user.id, "author"),
            "sections": [(s, SECTION_TITLES[s]) for s in DIGEST_SECTIONS],
            "frequencies": FREQUENCIES,
            "deliveries": state.store.deliveries.delivery_log(user_id=user.id, limit=10),
            "weekdays": [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ],
        },
    )


@router.post("/subscriptions", dependencies=[Depends(csrf_form)], include_in_schema=False)
def subscriptions_save(
    request: Request,
    frequency: Annotated[str, Form()] = "daily",
    send_hour: Annotated[int, Form(ge=0, le=23)] = 7,
    weekday: Annotated[int, Form(ge=0, le=6)] = 0,
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    max_papers: Annotated[int, Form(ge=1, le=200)] = 20,
    sections: Annotated[list[str] | None, Form()] = None,
    active: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """Save the digest settings."""
    user = require_page_user(request)
    subscriptions.save_subscription(
        get_state(request).store,
        user.id,
        frequency=frequency,
        send_hour=send_hour,
        weekday=weekday,
        timezone=timezone.strip(),
        max_papers=max_papers,
        sections=tuple(sections or ()),
        active=active == "1",
    )
    flash(request, "Digest settings saved.")
    return RedirectResponse("/subscriptions", status_code=303)


@router.post("/subscriptions/searches", dependencies=[Depends(csrf_form)], include_in_schema=False)
def searches_add(
    request: Request,
    query: Annotated[str, Form(max_length=500)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    category: Annotated[str, Form(max_length=64)] = "",
    author: Annotated[str, Form(max_length=200)] = "",
) -> RedirectResponse:
    """Save a search for the digest."""
    user = require_page_user(request)
    store = get_state(request).store
    s = subscriptions.save_search(store, user.id, query, name, category.strip(), author.strip())
    flash(request, f"Saved search “{s.name}” added.")
    return RedirectResponse("/subscriptions", status_code=303)


@router.post(
    "/subscriptions/searches/{search_id}/delete",
    dependencies=[Depends(csrf_form)],
    include_in_schema=False,
)
def searches_delete(
    request: Request, search_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> RedirectResponse:
    """Delete a saved search."""
    user = require_page_user(request)
    get_state(request).store.subscriptions.delete_saved_search(user.id, search_id)
    flash(request, "Saved search deleted.")
    return RedirectResponse("/subscriptions", status_code=303)


@router.post("/subscriptions/follow", dependencies=[Depends(csrf_form)], include_in_schema=False)
def follow_add(request: Request, kind: Annotated[Literal["category", "author"], Form()],
               value: Annotated[str, Form(max_length=200)]) -> RedirectResponse:
    """Follow a category or an author."""
    user = require_page_user(request)
    store = get_state(request).store
    subscriptions.follow(store, user.id, kind, value)
    flash(request, f"Following {kind} {value.strip()}.")
    return RedirectResponse("/subscriptions", status_code=303)


@router.post("/subscriptions/unfollow", dependencies=[Depends(csrf_form)], include_in_schema=False)
def follow_remove(request: Request, kind: Annotated[Literal["category", "author"], Form()],
                  value: Annotated[str, Form(max_length=200)]) -> RedirectResponse:
    """Stop following a category or an author."""
    user = require_page_user(request)
    get_state(request).store.subscriptions.unfollow(user.id, kind, value)
    flash(request, f"No longer following {kind} {value.strip()}.")
    return RedirectResponse("/subscriptions", status_code=303)


@router.get("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_confirm(request: Request, t: Token) -> HTMLResponse:
    """Ask to confirm: a GET never unsubscribes (mail scanners follow links)."""
    state = get_state(request)
    uid, stamp = read_unsubscribe_token(_secret(state), t)
    user = link_account(state.store.users.get_user(uid), stamp)
    return render(request, "unsubscribe.html", {"title": "Unsubscribe", "token": t, "done": False,
                                                "account": user.username})


@router.post("/unsubscribe", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe(request: Request, t: Token) -> HTMLResponse:
    """Unsubscribe (also the RFC 8058 one-click POST: body List-Unsubscribe=One-Click, no cookies,
    no CSRF)."""
    state = get_state(request)
    uid, stamp = read_unsubscribe_token(_secret(state), t)
    user = link_account(state.store.users.get_user(uid), stamp)
    state.store.subscriptions.set_subscription_active(uid, False)
    return render(request, "unsubscribe.html", {"title": "Unsubscribed", "token": t, "done": True,
                                                "account": user.username})


@router.get("/feedback", response_class=HTMLResponse, include_in_schema=False)
def feedback_link(
    request: Request,
    t: Token,
    s: Annotated[int, Query(ge=-1, le=1, description="1: more like this, -1: less like this.")] = 1,
) -> HTMLResponse:
    """Ask to confirm "more / less like this" from a digest link: a GET records nothing (mail
    scanners follow links)."""
    state = get_state(request)
    uid, pid, stamp = read_feedback_token(_secret(state), t)
    if s == 0:
        raise BadRequest("s must be 1 (more like this) or -1 (less like this)")
    link_account(state.store.users.get_user(uid), stamp)
    paper = state.store.papers.get_paper(pid)
    if paper is None:
        raise NotFound("that paper no longer exists")
    return render(
        request,
        "feedback.html",
        {
            "title": "More or less like this?",
            "paper": paper,
            "signal": s,
            "token": t,
            "done": False,
        },
    )


@router.post("/feedback", response_class=HTMLResponse, include_in_schema=False)
def feedback_record(request: Request, t: Annotated[str, Form(min_length=10, max_length=400)],
                    s: Annotated[int, Form(ge=-1, le=1)] = 0) -> HTMLResponse:
    """Record (1 / -1) or clear (0) the feedback of a digest link (the token authenticates; no
    session needed)."""
    state = get_state(request)
    uid, pid, stamp = read_feedback_token(_secret(state), t)
    link_account(state.store.users.get_user(uid), stamp)
    paper = state.store.papers.get_paper(pid)
    if paper is None:
        raise NotFound("that paper no longer exists")
    state.store.subscriptions.set_feedback(uid, pid, s)
    return render(
        request,
        "feedback.html",
        {
            "title": "Thanks" if s else "Undone",
            "paper": paper,
            "signal": s,
            "token": t,
            "done": True,
        },
    )


@router.get("/admin/digests", response_class=HTMLResponse, include_in_schema=False)
def admin_digests(
    request: Request, status: Annotated[str | None, Query(max_length=16)] = None
) -> HTMLResponse:
    """The delivery log for administrators: counts per state and the latest rows (failures first to
    look at)."""
    user = require_page_user(request)
    if not user.is_admin:
        raise Forbidden("administrators only")
    store = get_state(request).store
    return render(
        request,
        "digest_log.html",
        {
            "title": "Digest deliveries",
            "counts": store.deliveries.delivery_counts(),
            "rows": store.deliveries.delivery_log(status=status or None, limit=200),
            "status": status or "",
        },
    )


# ----- API ----------------------------------------------------------------------------------------


class SubscriptionIn(BaseModel):
    """Fields to change; those left out keep their value."""

    frequency: Literal["daily", "weekly"] | None = None
    send_hour: int | None = Field(default=None, ge=0, le=23)
    weekday: int | None = Field(default=None, ge=0, le=6, description="Weekly digests: 0 = Monday.")
    timezone: str | None = Field(
        default=None, max_length=64, description="IANA name, e.g. Europe/Berlin."
    )
    max_papers: int | None = Field(default=None, ge=1, le=200)
    # Checked by the use case against core.rules.DIGEST_SECTIONS (the one list), naming a bad one.
    sections: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None,
        max_length=len(DIGEST_SECTIONS),
        description=f"Any of: {', '.join(DIGEST_SECTIONS)}.",
    )
    active: bool | None = None


class SearchIn(BaseModel):
    """A saved search: search syntax plus optional filters."""

    query: str = Field(default="", max_length=500)
    name: str = Field(default="", max_length=200)
    category: str | None = Field(default=None, max_length=64)
    author: str | None = Field(default=None, max_length=200)


class FollowIn(BaseModel):
    """A category or author to follow."""

    kind: Literal["category", "author"]
    value: str = Field(min_length=1, max_length=200)


class FeedbackIn(BaseModel):
    """More (+1) or less (-1) like this paper; 0 clears."""

    paper_id: int = Field(ge=1, le=2**31 - 1)
    signal: Literal[-1, 0, 1]


def _me(user: User | None) -> User:
    if user is None:
        raise Unauthorized("log in or send 'Authorization: Bearer <token>'")
    return user


@router.get("/api/v1/subscriptions", tags=["subscriptions"])
def api_get(request: Request, caller: Caller) -> dict[str, Any]:
    """Your subscription, saved searches and follows."""
    return _overview(get_state(request), _me(caller))


@router.put("/api/v1/subscriptions", tags=["subscriptions"])
def api_put(request: Request, body: SubscriptionIn, user: Writer) -> dict[str, Any]:
    """Create or change your subscription."""
    state = get_state(request)
    changes = body.model_dump(exclude_none=True)
    if "sections" in changes:
        changes["sections"] = tuple(changes["sections"])
    subscriptions.save_subscription(state.store, user.id, **changes)
    return _overview(state, user)


@router.post("/api/v1/subscriptions/searches", tags=["subscriptions"], status_code=201)
def api_add_search(request: Request, body: SearchIn, user: Writer) -> dict[str, Any]:
    """Save a search."""
    store = get_state(request).store
    return subscriptions.save_search(
        store, user.id, body.query, body.name, body.category, body.author
    ).__dict__


@router.delete(
    "/api/v1/subscriptions/searches/{search_id}", tags=["subscriptions"], status_code=204
)
def api_delete_search(
    request: Request, search_id: Annotated[int, Path(ge=1, le=2**31 - 1)], user: Writer
) -> Response:
    """Delete one of your saved searches."""
    get_state(request).store.subscriptions.delete_saved_search(user.id, search_id)
    return Response(status_code=204)


@router.post("/api/v1/subscriptions/follows", tags=["subscriptions"])
def api_follow(request: Request, body: FollowIn, user: Writer) -> JSONResponse:
    """Follow a category or an author (201 when new, 200 when already followed)."""
    store = get_state(request).store
    added = subscriptions.follow(store, user.id, body.kind, body.value)
    return JSONResponse(_overview(get_state(request), user), status_code=201 if added else 200)


@router.delete("/api/v1/subscriptions/follows", tags=["subscriptions"], status_code=204)
def api_unfollow(
    request: Request,
    kind: Annotated[Literal["category", "author"], Query()],
    value: Annotated[str, Query(min_length=1, max_length=200)],
    user: Writer,
) -> Response:
    """Stop following a category or an author."""
    if not get_state(request).store.subscriptions.unfollow(user.id, kind, value):
        raise NotFound(f"you do not follow {kind} {value!r}")
    return Response(status_code=204)


@router.post("/api/v1/subscriptions/feedback", tags=["subscriptions"])
def api_feedback(request: Request, body: FeedbackIn, user: Writer) -> dict[str, Any]:
    """Tell recommendations "more like this" (1) or "less like this" (-1) about a paper; 0
    clears."""
    get_state(request).store.subscriptions.set_feedback(user.id, body.paper_id, body.signal)
    return {"paper_id": body.paper_id, "signal": body.signal}


@router.get("/api/v1/subscriptions/preview", tags=["subscriptions"])
def api_preview(request: Request, caller: Caller) -> dict[str, Any]:
    """What your digest would hold now, with the reason for each paper (nothing is sent)."""
    user = _me(caller)
    state = get_state(request)
    picks, out = preview(state.settings, state.store, user, index=state.search.get())
    return {"papers": [p.as_dict() for p in picks], "would_send": out is not None}


@router.get("/api/v1/subscriptions/deliveries", tags=["subscriptions"])
def api_deliveries(request: Request, caller: Caller,
                   limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[dict[str, Any]]:
    """Your recent digests and their delivery state."""
    user = _me(caller)
    rows = get_state(request).store.deliveries.delivery_log(user_id=user.id, limit=limit)
    return [
        {k: v for k, v in r.as_dict().items() if k not in ("claimed_by", "claimed_at")}
        for r in rows
    ]
