"""Discussion adapters: thread forms on the paper page, notifications, moderation, JSON API, Atom
feed.

Thin: every rule lives in paperfeed.delivery.app.comments; handlers parse, check the caller and
limits, call the use case and answer.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request, Security
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from feedgen.feed import FeedGenerator
from pydantic import BaseModel, Field

from paperfeed.core.errors import BadRequest, Forbidden, Unauthorized
from paperfeed.core.models import User
from paperfeed.delivery.app import alerts, comments as ds, papers
from paperfeed.delivery.common.markup import render_markdown
from paperfeed.delivery.web.api import ERRORS, bearer
from paperfeed.delivery.web.deps import (
    CommentId,
    PaperId,
    api_user,
    api_writer,
    csrf_form,
    flash,
    json_response,
    render,
    require_page_user,
    write_limit,
)
from paperfeed.delivery.web.state import WebState, get_state

router = APIRouter()
NAV = [("Notifications", "/notifications")]
Writer = Annotated[User, Depends(api_writer)]
Caller = Annotated[User | None, Depends(api_user)]
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _comment_limit(request: Request, user: User) -> None:
    """Posting comments has its own per-user limit on top of the write limit."""
    write_limit(request, user)
    get_state(request).limits.hit("comment", f"u{user.id}")


def _done(state: WebState) -> None:
    state.after_write()


def _back(paper_id: int, comment_id: int | None = None) -> RedirectResponse:
    anchor = f"#c{comment_id}" if comment_id else "#comments"
    return RedirectResponse(f"/papers/{paper_id}{anchor}", status_code=303)


def _int_or_none(raw: str, name: str) -> int | None:
    if not raw.strip():
        return None
    if not raw.strip().isdigit() or int(raw) > 2**31 - 1:
        raise BadRequest(f"{name}: {raw!r} is not an id")
    return int(raw)


# ----- pages --------------------------------------------------------------------------------------


@router.post(
    "/papers/{paper_id}/comments", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def comment_post(
    request: Request,
    paper_id: PaperId,
    body: str = Form(""),
    parent_id: str = Form(""),
    group_id: str = Form(""),
) -> Response:
    """Post a comment or a reply from the paper page (group_id: for that lab only)."""
    user = require_page_user(request)
    _comment_limit(request, user)
    state = get_state(request)
    c = ds.post_comment(state.store, user, paper_id, body, _int_or_none(parent_id, "parent_id"),
                        _int_or_none(group_id, "group_id"))
    _done(state)
    flash(request, "Reply posted" if c.parent_id else "Comment posted")
    return _back(paper_id, c.id)


@router.post(
    "/comments/{comment_id}/edit", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def comment_edit(request: Request, comment_id: CommentId, body: str = Form("")) -> Response:
    """Change an own comment."""
    user = require_page_user(request)
    write_limit(request, user)
    state = get_state(request)
    c = ds.edit_comment(state.store, user, comment_id, body)
    _done(state)
    flash(request, "Comment saved")
    return _back(c.paper_id, c.id)


@router.post(
    "/comments/{comment_id}/delete", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def comment_delete(request: Request, comment_id: CommentId) -> Response:
    """Delete an own comment."""
    user = require_page_user(request)
    write_limit(request, user)
    state = get_state(request)
    c = ds.delete_comment(state.store, user, comment_id)
    _done(state)
    flash(request, "Comment deleted")
    return _back(c.paper_id)


@router.post(
    "/comments/{comment_id}/report", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def comment_report(request: Request, comment_id: CommentId, reason: str = Form("")) -> Response:
    """Report a comment to the moderators."""
    user = require_page_user(request)
    write_limit(request, user)
    state = get_state(request)
    new = ds.report_comment(state.store, user, comment_id, reason)
    flash(
        request,
        "Thanks: a moderator will look at it" if new else "You had already reported this comment",
    )
    found = state.store.comments.get_comment(comment_id)
    return _back(found.paper_id if found else 0, comment_id)


@router.post(
    "/comments/{comment_id}/hide", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def comment_hide(request: Request, comment_id: CommentId, reason: str = Form("")) -> Response:
    """Hide a comment with a reason (admins)."""
    user = require_page_user(request)
    state = get_state(request)
    c = ds.hide_comment(state.store, user, comment_id, reason)
    _done(state)
    flash(request, "Comment hidden")
    return _back(c.paper_id, c.id)


@router.post(
    "/comments/{comment_id}/restore", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def comment_restore(request: Request, comment_id: CommentId) -> Response:
    """Show a hidden comment again (admins)."""
    user = require_page_user(request)
    state = get_state(request)
    c = ds.restore_comment(state.store, user, comment_id)
    _done(state)
    flash(request, "Comment restored")
    return _back(c.paper_id, c.id)


@router.get("/notifications", response_class=HTMLResponse, include_in_schema=False)
def notifications_page(request: Request) -> HTMLResponse:
    """Replies to you, comments on papers you collected, and alerts on papers you follow the life
    of."""
    user = require_page_user(request)
    store = get_state(request).store
    # a GET never writes (#22 item 7): the page's button POSTs /notifications/seen
    items = ds.notifications(store, user, mark_seen=False)
    news = alerts.alert_notes(store, user, mark_seen=False)
    unread = sum(1 for n in items if n.new) + sum(1 for n in news if n.new)
    return render(request, "notifications.html",
                  {"title": "Notifications", "items": items, "alerts": news, "unread": unread})


@router.post("/notifications/seen", dependencies=[Depends(csrf_form)], include_in_schema=False)
def notifications_seen(request: Request) -> RedirectResponse:
    """Mark every notification and alert shown so far as seen."""
    user = require_page_user(request)
    store = get_state(request).store
    ds.notifications(store, user, mark_seen=True)
    alerts.alert_notes(store, user, mark_seen=True)
    flash(request, "Marked as seen")
    return RedirectResponse("/notifications", status_code=303)


@router.get("/admin/comments", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request) -> HTMLResponse:
    """Open reports for the moderators."""
    user = require_page_user(request)
    if not user.is_admin:
        raise Forbidden("administrators only")
    reports = get_state(request).store.comments.open_reports()
    return render(
        request, "comment_reports.html", {"title": "Reported comments", "reports": reports}
    )


# ----- API ----------------------------------------------------------------------------------------


class CommentIn(BaseModel):
    """A new comment (Markdown), optionally a reply to another comment of the same paper."""

    body: str = Field(min_length=1, max_length=ds.MAX_BODY)
    parent_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    group_id: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="Only this lab's members see it."
    )


class CommentPatch(BaseModel):
    """New text of an own comment."""

    body: str = Field(min_length=1, max_length=ds.MAX_BODY)


class ReasonIn(BaseModel):
    """Why a comment is reported or hidden."""

    reason: str = Field(min_length=1, max_length=ds.MAX_REASON)


class CommentOut(BaseModel):
    """A comment as the caller may see it (body and html are null when hidden from them or
    deleted)."""

    id: int
    paper_id: int
    parent_id: int | None
    depth: int
    author: str | None
    state: Literal["visible", "hidden", "deleted"]
    created_at: str
    edited_at: str | None
    body: str | None
    html: str | None
    hidden_reason: str | None
    group_id: int | None


class ThreadOut(BaseModel):
    """A paper's thread in reading order (depth-first; `depth` gives the nesting)."""

    paper_id: int
    count: int = Field(description="Visible comments.")
    comments: list[CommentOut]


class NotificationOut(BaseModel):
    """A comment the caller hears about."""

    why: Literal["reply", "authored", "collected"]
    new: bool
    paper_id: int
    paper_title: str
    comment_id: int
    author: str
    created_at: str
    excerpt: str



def _thread_json(state: WebState, paper_id: int, viewer: User | None) -> dict[str, Any]:
    papers.get_paper(state.store, paper_id)
    t = ds.thread(state.store, paper_id, viewer)
    return {
        "paper_id": paper_id,
        "count": t.count,
        "comments": [ds.comment_json(n) for n in t.flat()],
    }


@router.get(
    "/api/v1/papers/{paper_id}/comments",
    response_model=ThreadOut,
    responses=ERRORS,
    tags=["discussion"],
)
def api_thread(request: Request, paper_id: PaperId, user: Caller) -> Response:
    """A paper's discussion thread."""
    state = get_state(request)
    if user is None:  # what every visitor sees: cached under the data stamp
        body: bytes = state.cached(
            ("api-thread", paper_id),
            lambda: json.dumps(_thread_json(state, paper_id, None), ensure_ascii=False).encode(),
        )
        return Response(body, media_type="application/json")
    return json_response(_thread_json(state, paper_id, user))


@router.post(
    "/api/v1/papers/{paper_id}/comments",
    response_model=CommentOut,
    responses=ERRORS,
    status_code=201,
    tags=["discussion"],
    dependencies=[Security(bearer)],
)
def api_post(request: Request, paper_id: PaperId, body: CommentIn, user: Writer) -> Response:
    """Comment on a paper (Markdown; raw HTML is shown as text), or reply with parent_id."""
    get_state(request).limits.hit("comment", f"u{user.id}")
    state = get_state(request)
    c = ds.post_comment(state.store, user, paper_id, body.body, body.parent_id, body.group_id)
    _done(state)
    return json_response(ds.single_json(state.store, c.id, user), 201)


@router.get(
    "/api/v1/comments/{comment_id}",
    response_model=CommentOut,
    responses=ERRORS,
    tags=["discussion"],
)
def api_get(request: Request, comment_id: CommentId, user: Caller) -> Response:
    """One comment."""
    return json_response(ds.single_json(get_state(request).store, comment_id, user))


@router.patch(
    "/api/v1/comments/{comment_id}",
    response_model=CommentOut,
    responses=ERRORS,
    tags=["discussion"],
    dependencies=[Security(bearer)],
)
def api_edit(request: Request, comment_id: CommentId, body: CommentPatch, user: Writer) -> Response:
    """Change the text of an own comment."""
    state = get_state(request)
    ds.edit_comment(state.store, user, comment_id, body.body)
    _done(state)
    return json_response(ds.single_json(state.store, comment_id, user))


@router.delete(
    "/api/v1/comments/{comment_id}",
    status_code=204,
    responses=ERRORS,
    tags=["discussion"],
    dependencies=[Security(bearer)],
)
def api_delete(request: Request, comment_id: CommentId, user: Writer) -> Response:
    """Delete an own comment (replies to it stay in the thread)."""
    state = get_state(request)
    ds.delete_comment(state.store, user, comment_id)
    _done(state)
    return Response(status_code=204)


@router.post("/api/v1/comments/{comment_id}/report", responses=ERRORS, tags=["discussion"],
             dependencies=[Security(bearer)])
def api_report(request: Request, comment_id: CommentId, body: ReasonIn, user: Writer) -> Response:
    """Report a comment to the moderators (once per user)."""
    new = ds.report_comment(get_state(request).store, user, comment_id, body.reason)
    return json_response({"comment_id": comment_id, "reported": True, "new": new})


@router.post("/api/v1/comments/{comment_id}/hide", response_model=CommentOut, responses=ERRORS,
             tags=["discussion"], dependencies=[Security(bearer)])
def api_hide(request: Request, comment_id: CommentId, body: ReasonIn, user: Writer) -> Response:
    """Hide a comment with a reason (administrators)."""
    state = get_state(request)
    ds.hide_comment(state.store, user, comment_id, body.reason)
    _done(state)
    return json_response(ds.single_json(state.store, comment_id, user))


@router.delete("/api/v1/comments/{comment_id}/hide", response_model=CommentOut, responses=ERRORS,
               tags=["discussion"], dependencies=[Security(bearer)])
def api_restore(request: Request, comment_id: CommentId, user: Writer) -> Response:
    """Show a hidden comment again (administrators)."""
    state = get_state(request)
    ds.restore_comment(state.store, user, comment_id)
    _done(state)
    return json_response(ds.single_json(state.store, comment_id, user))


@router.get(
    "/api/v1/notifications",
    response_model=list[NotificationOut],
    responses=ERRORS,
    tags=["discussion"],
    dependencies=[Security(bearer)],
)
def api_notifications(request: Request, user: Caller, mark_seen: bool = False) -> Response:
    """Replies to the caller and comments on papers the caller collected, newest first."""
    if user is None:
        raise Unauthorized("log in or send a Bearer token to read your notifications")
    if mark_seen:  # a GET never writes (#22 item 7)
        raise BadRequest("mark_seen: a GET changes nothing; POST /api/v1/notifications/seen")
    items = ds.notifications(get_state(request).store, user, mark_seen=False)
    return json_response(
        [
            {
                "why": n.event.why,
                "new": n.new,
                "paper_id": n.event.comment.paper_id,
                "paper_title": n.event.paper_title,
                "comment_id": n.event.comment.id,
                "author": n.event.comment.author,
                "created_at": n.event.comment.created_at.isoformat(),
                "excerpt": n.excerpt,
            }
            for n in items
        ]
    )


@router.post("/api/v1/notifications/seen", responses=ERRORS, tags=["discussion"],
             dependencies=[Security(bearer)])
def api_notifications_seen(request: Request, user: Writer) -> Response:
    """Mark the caller's notifications seen (they are no longer "new")."""
    items = ds.notifications(get_state(request).store, user, mark_seen=True)
    return json_response({"marked": sum(1 for n in items if n.new)})


# ----- Atom feed ----------------------------------------------------------------------------------


def _x(text: str) -> str:
    return _NOT_XML.sub("", text)


@router.get("/feeds/papers/{paper_id}/comments.atom", include_in_schema=False)
def thread_feed(request: Request, paper_id: PaperId) -> Response:
    """The newest visible comments of a paper's thread as Atom."""
    state = get_state(request)

    def compute() -> bytes:
        paper = papers.get_paper(state.store, paper_id)
        base = state.settings.base_url.rstrip("/")
        url = f"{base}/papers/{paper_id}"
        fg = FeedGenerator()
        fg.id(url + "#comments")
        fg.title(_x(f"Discussion: {paper.title}"))
        fg.link(href=url, rel="alternate")
        fg.link(href=f"{base}/feeds/papers/{paper_id}/comments.atom", rel="self")
        fg.generator("paperfeed")
        recent = state.store.comments.recent_comments(paper_id, 50)
        fg.updated(
            max(
                (c.edited_at or c.created_at for c in recent),
                default=datetime(2000, 1, 1, tzinfo=UTC),
            )
        )
        for c in reversed(recent):  # feedgen prepends
            entry = fg.add_entry()
            entry.id(f"{url}#c{c.id}")
            entry.title(_x(f"{c.author} on {paper.title}"[:200]))
            entry.link(href=f"{url}#c{c.id}")
            entry.author(name=_x(c.author))
            entry.published(c.created_at)
            entry.updated(c.edited_at or c.created_at)
            entry.content(_x(render_markdown(c.body)), type="html")
        body: bytes = fg.atom_str(pretty=False)
        return body

    body: bytes = state.cached(("feed-thread", paper_id), compute)
    return Response(
        body,
        media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": f"public, max-age={int(state.settings.web_cache_seconds)}"},
    )


def paper_context(state: WebState, paper_id: int, viewer: User | None) -> dict[str, Any]:
    """What the paper page adds: its discussion, who submitted it, its confirmed authors, the
    viewer's claim."""
    return {
        "thread": ds.thread(state.store, paper_id, viewer), "comment_max": ds.MAX_BODY,
        "submitted_by": state.store.authors.submitters([paper_id]).get(paper_id),
        "claims": state.store.authors.confirmed_claims([paper_id]).get(paper_id, []),
        "my_claim": state.store.authors.get_claim(paper_id, viewer.id) if viewer else None,
        "my_groups": [g for g, _ in state.store.groups.user_groups(viewer.id)] if viewer else [],
    }
