"""The caller's own data: lifecycle alerts as JSON, the profile download (page and API) and deleting
the account.

Thin: the rules live in delivery/app/alerts.py and delivery/app/profile.py.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Security
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from paperfeed.core.errors import BadRequest, TooManyRequests, Unauthorized
from paperfeed.core.models import User
from paperfeed.delivery.app import alerts, profile
from paperfeed.delivery.web.api import ERRORS, bearer
from paperfeed.delivery.web.deps import (
    api_user,
    api_writer,
    client_key,
    csrf_form,
    flash,
    require_page_user,
)
from paperfeed.delivery.web.state import get_state

router = APIRouter()
Caller = Annotated[User | None, Depends(api_user)]
Writer = Annotated[User, Depends(api_writer)]


class AlertOut(BaseModel):
    """A lifecycle alert on a paper the caller authored, collected or upvoted."""

    event_id: int
    kind: str
    key: str
    text: str
    why: str
    new: bool
    mailed: bool
    paper_id: int
    paper_title: str
    arxiv_id: str | None
    created_at: str


class AlertsOut(BaseModel):
    """The caller's alerts, newest first, and how many were never shown."""

    unread: int
    alerts: list[AlertOut]


def _caller(user: User | None) -> User:
    if user is None:
        raise Unauthorized("log in or send a Bearer token to read your own data")
    return user


def _download(user: User, body: str) -> Response:
    name = f"paperfeed-profile-{user.username}.json"
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/api/v1/alerts",
    response_model=AlertsOut,
    responses=ERRORS,
    tags=["alerts"],
    dependencies=[Security(bearer)],
)
def api_alerts(
    request: Request,
    user: Caller,
    mark_seen: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """New versions, code links and journal references of papers the caller authored, collected or
    upvoted."""
    me = _caller(user)
    if mark_seen:  # a GET never writes (#22 item 7)
        raise BadRequest("mark_seen: a GET changes nothing; POST /api/v1/alerts/seen")
    store = get_state(request).store
    unread = alerts.unread_alerts(store, me)
    notes = alerts.alert_notes(store, me, limit=limit, mark_seen=False)
    data: dict[str, Any] = {"unread": unread, "alerts": [alerts.alert_json(n) for n in notes]}
    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")


@router.post(
    "/api/v1/alerts/seen", responses=ERRORS, tags=["alerts"], dependencies=[Security(bearer)]
)
def api_alerts_seen(request: Request, user: Writer) -> Response:
    """Mark the caller's alerts seen (they are no longer "new")."""
    notes = alerts.alert_notes(get_state(request).store, user, limit=500, mark_seen=True)
    body = json.dumps({"marked": sum(1 for n in notes if n.new)})
    return Response(body, media_type="application/json")


@router.get(
    "/api/v1/me/export", responses=ERRORS, tags=["profile"], dependencies=[Security(bearer)]
)
def api_export(request: Request, user: Caller) -> Response:
    """Everything the caller has, as a paperfeed-profile JSON file (docs/profile-export.md)."""
    me = _caller(user)
    return _download(me, profile.export_json(get_state(request).store, me))


@router.get("/profile/export", include_in_schema=False)
def page_export(request: Request) -> Response:
    """The profile page's "Download my data" link."""
    me = require_page_user(request)
    return _download(me, profile.export_json(get_state(request).store, me))


@router.post("/profile/delete", dependencies=[Depends(csrf_form)], include_in_schema=False)
async def page_delete(request: Request, password: str = Form("")) -> Response:
    """Delete the account and everything it owns after the password is confirmed."""
    me = require_page_user(request)
    state = get_state(request)
    try:
        state.limits.hit("login", client_key(request))  # a password check: the login limit applies
        await run_in_threadpool(profile.delete_own_account, state.store, me, password[:1024])
    except (BadRequest, TooManyRequests) as exc:
        flash(request, exc.message, "error")
        return RedirectResponse("/profile#delete", status_code=303)
    state.after_write()
    request.session.clear()
    flash(request, f"The account {me.username} and everything it owned were deleted.")
    return RedirectResponse("/", status_code=303)
