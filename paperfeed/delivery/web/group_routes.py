"""Lab adapters: group pages, invites, the group feed (page, Atom, API), shared collections."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Query, Request, Security
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from feedgen.feed import FeedGenerator
from pydantic import BaseModel, Field

from paperfeed.core.errors import BadRequest, TooManyRequests, Unauthorized
from paperfeed.core.models import User
from paperfeed.delivery.app import labs as gr
from paperfeed.delivery.web.api import ERRORS, bearer
from paperfeed.delivery.web.deps import (
    CollectionId,
    DbId,
    GroupId,
    UserId,
    api_user,
    api_writer,
    csrf_form,
    flash,
    json_response,
    page_user,
    render,
    require_page_user,
    write_limit,
)
from paperfeed.delivery.web.security import address_key
from paperfeed.delivery.web.state import WebState, get_state

router = APIRouter()
NAV = [("Labs", "/groups")]
# the page lists this many members, owners and admins first (the count says how many)
MEMBERS_SHOWN = 100
Writer = Annotated[User, Depends(api_writer)]
Caller = Annotated[User | None, Depends(api_user)]
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _feed(state: WebState, group_id: int, member: bool) -> list[gr.FeedEntry]:
    """The lab's week, cached under the data stamp (votes and collection changes move it);
    visibility is checked first.

    A non-member (of a public lab) gets the public view: no votes, only public collections (F2).
    """
    entries: list[gr.FeedEntry] = state.cached(
        ("group-feed", group_id, member),
        lambda: gr.group_feed(state.store, group_id, members_view=member),
    )
    return entries


def _mail_bound(state: WebState, address: str) -> None:
    """Invites go to addresses nobody confirmed: bounded per address (#21 F14)."""
    if not state.limits.allow("unconfirmed_mail", address_key(address)):
        raise TooManyRequests(
            f"{address.strip()[:320]} got several mails from this site in the last "
            "hour: try again later",
            retry_after=3600,
        )


def _to_group(group_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/groups/{group_id}{anchor}", status_code=303)


def _group_page(request: Request, group_id: int, user: User | None, new_link: str | None = None,
                status_code: int = 200) -> HTMLResponse:
    state = get_state(request)
    group, role = gr.visible_group(state.store, group_id, user)
    member = role is not None
    ctx: dict[str, Any] = {
        "title": group.name,
        "group": group,
        "role": role,
        "new_link": new_link,
        "feed": _feed(state, group_id, member) if member or not group.is_private else [],
        "shared": gr.shared_collections(state.store, group_id) if member else [],
        "members": state.store.groups.members(group_id, limit=MEMBERS_SHOWN) if member else [],
        "invites": state.store.groups.group_invites(group_id) if role in gr.MANAGERS else [],
        "my_collections": state.store.collections.user_collections(user.id)
        if user and member
        else [],
        "my_digest": state.store.groups.member_digest(group_id, user.id)
        if user and member
        else False,
        "roles": ("owner", "admin", "member"),
    }
    return render(request, "group.html", ctx, status_code=status_code)


# ----- pages --------------------------------------------------------------------------------------


@router.get("/groups", response_class=HTMLResponse, include_in_schema=False)
def groups_page(request: Request) -> HTMLResponse:
    """The user's labs and the form to create one."""
    user = require_page_user(request)
    return render(
        request,
        "groups.html",
        {"title": "Labs", "mine": get_state(request).store.groups.user_groups(user.id)},
    )


@router.post("/groups", dependencies=[Depends(csrf_form)], include_in_schema=False)
def group_create(request: Request, name: str = Form(""), description: str = Form(""),
                 is_public: str = Form("")) -> RedirectResponse:
    """Create a lab (private unless asked otherwise)."""
    user = require_page_user(request)
    write_limit(request, user)
    group = gr.create_group(
        get_state(request).store, user, name, description, is_private=not is_public
    )
    flash(request, f"Lab “{group.name}” created: invite your colleagues below")
    return _to_group(group.id)


@router.get("/groups/{group_id}", response_class=HTMLResponse, include_in_schema=False)
def group_page(request: Request, group_id: GroupId) -> HTMLResponse:
    """A lab: this week's feed, shared collections, members, invites."""
    return _group_page(request, group_id, page_user(request))


@router.post(
    "/groups/{group_id}/invites", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def invite_create(
    request: Request,
    group_id: GroupId,
    kind: Annotated[Literal["link", "email"], Form()] = "link",
    email: str = Form(""),
    role: str = Form("member"),
) -> Response:
    """Make an invite link (shown once) or mail an invite to one address."""
    user = require_page_user(request)
    write_limit(request, user)
    state = get_state(request)
    if kind == "email":
        _mail_bound(state, email)
        gr.invite_email(state.settings, state.store, user, group_id, email)
        flash(request, f"Invitation mailed to {email.strip()}")
        return _to_group(group_id, "#invite")
    token, _ = gr.invite_link(state.store, user, group_id, role)
    return _group_page(request, group_id, user, new_link=gr.invite_url(state.settings, token))


@router.post("/groups/{group_id}/invites/{invite_id}/revoke", dependencies=[Depends(csrf_form)],
             include_in_schema=False)
def invite_revoke(request: Request, group_id: GroupId, invite_id: DbId) -> RedirectResponse:
    """Revoke an invite."""
    user = require_page_user(request)
    state = get_state(request)
    gr._manager(state.store, user, group_id)
    state.store.groups.revoke_invite(group_id, invite_id)
    flash(request, "Invitation revoked")
    return _to_group(group_id, "#invite")


@router.get("/groups/join/{token}", response_class=HTMLResponse, include_in_schema=False)
def join_page(request: Request, token: str) -> HTMLResponse:
    """What an invite link shows: the lab's name and an Accept button."""
    user = require_page_user(request)
    invite, group = gr.pending_invite(get_state(request).store, token)
    return render(
        request,
        "group_join.html",
        {
            "title": f"Join {group.name}",
            "group": group,
            "invite": invite,
            "token": token,
            "user": user,
        },
    )


@router.post("/groups/join/{token}", dependencies=[Depends(csrf_form)], include_in_schema=False)
def join_accept(request: Request, token: str) -> RedirectResponse:
    """Accept an invite."""
    user = require_page_user(request)
    group = gr.accept_invite(get_state(request).store, user, token)
    get_state(request).after_write()  # the feed counts members' votes
    flash(request, f"Welcome to {group.name}")
    return _to_group(group.id)


@router.post(
    "/groups/{group_id}/members/{user_id}/role",
    dependencies=[Depends(csrf_form)],
    include_in_schema=False,
)
def member_role(
    request: Request, group_id: GroupId, user_id: UserId, role: str = Form("")
) -> RedirectResponse:
    """Change a member's role (owners)."""
    gr.set_role(get_state(request).store, require_page_user(request), group_id, user_id, role)
    flash(request, "Role changed")
    return _to_group(group_id, "#members")


@router.post("/groups/{group_id}/members/{user_id}/remove", dependencies=[Depends(csrf_form)],
             include_in_schema=False)
def member_remove(request: Request, group_id: GroupId, user_id: UserId) -> RedirectResponse:
    """Remove a member, or leave the group."""
    user = require_page_user(request)
    gr.remove_member(get_state(request).store, user, group_id, user_id)
    get_state(request).after_write()
    flash(request, "You left the lab" if user_id == user.id else "Member removed")
    return (
        RedirectResponse("/groups", status_code=303)
        if user_id == user.id
        else _to_group(group_id, "#members")
    )


@router.post(
    "/groups/{group_id}/digest", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def member_digest(request: Request, group_id: GroupId, on: str = Form("")) -> RedirectResponse:
    """Turn one's weekly digest of this lab on or off."""
    user = require_page_user(request)
    store = get_state(request).store
    gr._member(store, user, group_id)
    store.groups.set_member(group_id, user.id, digest=bool(on))
    flash(request, "Weekly lab digest " + ("on" if on else "off"))
    return _to_group(group_id)


@router.post(
    "/groups/{group_id}/collections", dependencies=[Depends(csrf_form)], include_in_schema=False
)
def collection_share(
    request: Request,
    group_id: GroupId,
    collection_id: str = Form(""),
    confirm_public: str = Form(""),
) -> RedirectResponse:
    """Share one of your collections with the lab (a private one with a public lab: after
    confirming)."""
    user = require_page_user(request)
    write_limit(request, user)
    if not collection_id.isdigit() or int(collection_id) > 2**31 - 1:
        raise BadRequest(f"collection_id: {collection_id!r} is not a collection id")
    new = gr.share_collection(get_state(request).store, user, group_id, int(collection_id),
                              confirm_public=bool(confirm_public))
    get_state(request).after_write()
    flash(
        request, "Collection shared with the lab" if new else "That collection was shared already"
    )
    return _to_group(group_id, "#shared")


@router.post(
    "/groups/{group_id}/collections/{collection_id}/remove",
    dependencies=[Depends(csrf_form)],
    include_in_schema=False,
)
def collection_unshare(
    request: Request, group_id: GroupId, collection_id: CollectionId
) -> RedirectResponse:
    """Stop sharing a collection."""
    gr.unshare_collection(
        get_state(request).store, require_page_user(request), group_id, collection_id
    )
    get_state(request).after_write()
    flash(request, "Collection no longer shared")
    return _to_group(group_id, "#shared")


# ----- feed ---------------------------------------------------------------------------------------


def _x(text: str) -> str:
    return _NOT_XML.sub("", text)


@router.get("/feeds/groups/{group_id}.atom", include_in_schema=False)
def group_atom(request: Request, group_id: GroupId) -> Response:
    """The lab's week as Atom (members only for a private lab: send the session cookie or a Bearer
    token)."""
    state = get_state(request)
    viewer = api_user(request)
    group, role = gr.visible_group(state.store, group_id, viewer)
    base = state.settings.base_url.rstrip("/")
    fg = FeedGenerator()
    fg.id(f"{base}/groups/{group_id}")
    fg.title(_x(f"{group.name}: this week"))
    fg.link(href=f"{base}/groups/{group_id}", rel="alternate")
    fg.generator("paperfeed")
    entries = _feed(state, group_id, role is not None)
    fg.updated(max((e.item.last_at for e in entries), default=datetime(2000, 1, 1, tzinfo=UTC)))
    for e in reversed(entries):
        entry = fg.add_entry()
        entry.id(f"{base}/groups/{group_id}#p{e.paper.id}")
        entry.title(_x(e.paper.title))
        entry.link(href=f"{base}/papers/{e.paper.id}")
        entry.updated(e.item.last_at)
        who = ", ".join(
            [
                *(f"upvoted by {n}" for n in e.item.upvoters),
                *(f"collected by {n}" for n in e.item.collectors),
            ]
        )
        entry.summary(_x(who))
    return Response(fg.atom_str(pretty=False), media_type="application/atom+xml; charset=utf-8",
                    headers={"Cache-Control": "private, no-store"})


# ----- API ----------------------------------------------------------------------------------------


class GroupIn(BaseModel):
    """A new lab."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    is_private: bool = True


class InviteIn(BaseModel):
    """An invite: a link (no email) or a mail to one address."""

    email: str | None = Field(default=None, max_length=320)
    role: Literal["admin", "member"] = "member"


class JoinIn(BaseModel):
    """The token of an invite link (the last part of /groups/join/<token>)."""

    token: str = Field(min_length=1, max_length=200)



def _need(user: User | None) -> User:
    if user is None:
        raise Unauthorized("log in or send a Bearer token")
    return user


def _detail(state: WebState, group_id: int, user: User | None) -> dict[str, Any]:
    group, role = gr.visible_group(state.store, group_id, user)
    out = gr.group_json(
        group, role, state.store.groups.members(group_id, limit=1000) if role else None
    )
    if role:
        out["collections"] = [
            {"id": c.id, "name": c.name, "owner": c.owner, "paper_count": c.paper_count}
            for c in gr.shared_collections(state.store, group_id)
        ]
    return out


@router.get("/api/v1/groups", responses=ERRORS, tags=["groups"], dependencies=[Security(bearer)])
def api_groups(request: Request, user: Caller) -> Response:
    """The caller's labs."""
    me = _need(user)
    return json_response(
        [gr.group_json(g, role) for g, role in get_state(request).store.groups.user_groups(me.id)]
    )


@router.post(
    "/api/v1/groups",
    responses=ERRORS,
    tags=["groups"],
    status_code=201,
    dependencies=[Security(bearer)],
)
def api_create(request: Request, body: GroupIn, user: Writer) -> Response:
    """Create a lab."""
    group = gr.create_group(
        get_state(request).store, user, body.name, body.description, body.is_private
    )
    return json_response(_detail(get_state(request), group.id, user), 201)


@router.get(
    "/api/v1/groups/{group_id}", responses=ERRORS, tags=["groups"], dependencies=[Security(bearer)]
)
def api_group(request: Request, group_id: GroupId, user: Caller) -> Response:
    """A lab (its members and shared collections for members only; private labs for members
    only)."""
    return json_response(_detail(get_state(request), group_id, user))


@router.get(
    "/api/v1/groups/{group_id}/feed",
    responses=ERRORS,
    tags=["groups"],
    dependencies=[Security(bearer)],
)
def api_feed(request: Request, group_id: GroupId, user: Caller) -> Response:
    """What the lab upvoted or collected in the last seven days."""
    state = get_state(request)
    _group, role = gr.visible_group(state.store, group_id, user)
    return json_response(gr.feed_json(_feed(state, group_id, role is not None)))


@router.post(
    "/api/v1/groups/{group_id}/invites",
    responses=ERRORS,
    tags=["groups"],
    status_code=201,
    dependencies=[Security(bearer)],
)
def api_invite(request: Request, group_id: GroupId, body: InviteIn, user: Writer) -> Response:
    """Invite: without email, a link (returned once); with email, a mailed single-use invite."""
    state = get_state(request)
    if body.email:
        _mail_bound(state, body.email)
        inv = gr.invite_email(state.settings, state.store, user, group_id, body.email)
        return json_response(
            {"id": inv.id, "email": inv.email, "expires_at": inv.expires_at.isoformat()}, 201
        )
    token, inv = gr.invite_link(state.store, user, group_id, body.role)
    return json_response({"id": inv.id, "url": gr.invite_url(state.settings, token), "token": token,
                  "expires_at": inv.expires_at.isoformat()}, 201)


@router.post(
    "/api/v1/groups/join", responses=ERRORS, tags=["groups"], dependencies=[Security(bearer)]
)
def api_join(request: Request, body: JoinIn, user: Writer) -> Response:
    """Accept an invite."""
    state = get_state(request)
    group = gr.accept_invite(state.store, user, body.token)
    state.after_write()
    return json_response(_detail(state, group.id, user))


@router.put(
    "/api/v1/groups/{group_id}/collections/{collection_id}",
    responses=ERRORS,
    tags=["groups"],
    dependencies=[Security(bearer)],
)
def api_share(
    request: Request,
    group_id: GroupId,
    collection_id: CollectionId,
    user: Writer,
    confirm_public: Annotated[
        bool, Query(description="Share a private collection with a public lab (409 without it).")
    ] = False,
) -> Response:
    """Share one of your collections with the lab."""
    state = get_state(request)
    gr.share_collection(state.store, user, group_id, collection_id, confirm_public=confirm_public)
    state.after_write()
    return json_response(_detail(state, group_id, user))


@router.delete(
    "/api/v1/groups/{group_id}/collections/{collection_id}",
    responses=ERRORS,
    tags=["groups"],
    dependencies=[Security(bearer)],
)
def api_unshare(
    request: Request, group_id: GroupId, collection_id: CollectionId, user: Writer
) -> Response:
    """Stop sharing a collection with the lab."""
    state = get_state(request)
    gr.unshare_collection(state.store, user, group_id, collection_id)
    state.after_write()
    return json_response(_detail(state, group_id, user))
