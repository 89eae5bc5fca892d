"""Discussion use cases, written once for pages, API, feeds, CLI and digests: threads, posting,
editing, deleting, reporting, moderating, notifications and the digest's discussion section.

Visibility rules (one place): a deleted comment shows as "[deleted]" while it has replies that are
shown, and disappears otherwise; a hidden comment shows its author and the admins its text with the
moderator's reason, everyone else only the reason. Counts and feeds see visible ones only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperfeed.core.errors import BadRequest, Forbidden, NotFound
from paperfeed.core.models import User
from paperfeed.delivery.common.markup import plain_excerpt, render_markdown
from paperfeed.store import Store
from paperfeed.store.comments import Comment, DiscussionEvent
from paperfeed.store.runs import now_utc

MAX_BODY = 10_000
MAX_REASON = 500
MAX_DEPTH = 8  # deeper replies are shown at this depth (still in reply order)
DIGEST_THREADS = 10  # papers with new discussion in one digest, most recent first


@dataclass
class ThreadNode:
    """A comment as a thread shows it to one viewer."""

    comment: Comment
    state: str  # visible | hidden | deleted
    html: str | None  # sanitised HTML when the viewer may read the text
    depth: int
    group_name: str | None = None  # set on group-only comments
    can_edit: bool = False
    can_moderate: bool = False
    children: list[ThreadNode] = field(default_factory=list)


@dataclass
class Thread:
    """A paper's discussion for one viewer: root nodes (with replies) and the visible count."""

    paper_id: int
    roots: list[ThreadNode]
    count: int

    def flat(self) -> list[ThreadNode]:
        """Every node in reading order (depth-first)."""
        out: list[ThreadNode] = []
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


def clean_body(body: str) -> str:
    """The comment text trimmed; BadRequest when empty, too long or carrying NUL characters."""
    if "\x00" in body:
        raise BadRequest("body: must not contain NUL characters")
    body = body.strip()
    if not body:
        raise BadRequest("body: required (write something)")
    if len(body) > MAX_BODY:
        raise BadRequest(f"body: at most {MAX_BODY} characters")
    return body


def clean_reason(reason: str, what: str = "reason") -> str:
    """A report or moderation reason; BadRequest when empty or too long."""
    reason = " ".join(reason.replace("\x00", "").split())
    if not reason:
        raise BadRequest(f"{what}: required")
    if len(reason) > MAX_REASON:
        raise BadRequest(f"{what}: at most {MAX_REASON} characters")
    return reason


def _may_read(c: Comment, viewer: User | None) -> bool:
    if c.deleted:
        return False
    if not c.hidden:
        return True
    return viewer is not None and (viewer.is_admin or viewer.id == c.user_id)


def thread(store: Store, paper_id: int, viewer: User | None) -> Thread:
    """The paper's thread as the viewer may see it (group-only comments, and replies to them, for
    members only)."""
    mine = store.groups.member_group_ids(viewer.id if viewer else None)
    every = [
        c
        for c in store.comments.paper_comments(paper_id)
        if c.group_id is None or c.group_id in mine
    ]
    names = {gid: g.name for gid in {c.group_id for c in every if c.group_id is not None}
             if (g := store.groups.get_group(gid)) is not None}
    kids: dict[int | None, list[Comment]] = {}
    ids = {c.id for c in every}
    for c in every:
        if c.parent_id is not None and c.parent_id not in ids:
            continue  # a reply under a comment this viewer may not see
        kids.setdefault(c.parent_id, []).append(c)

    def build(c: Comment, depth: int) -> ThreadNode | None:
        children = [
            n for k in kids.get(c.id, []) if (n := build(k, min(depth + 1, MAX_DEPTH))) is not None
        ]
        if c.deleted and not children:
            return None
        state = "deleted" if c.deleted else "hidden" if c.hidden else "visible"
        readable = _may_read(c, viewer)
        return ThreadNode(
            comment=c, state=state, html=render_markdown(c.body) if readable else None, depth=depth,
            group_name=names.get(c.group_id) if c.group_id is not None else None,
            can_edit=bool(viewer and viewer.id == c.user_id and not c.deleted),
            can_moderate=bool(viewer and viewer.is_admin and not c.deleted), children=children,
        )

    roots = [n for c in kids.get(None, []) if (n := build(c, 0)) is not None]
    return Thread(paper_id, roots, sum(1 for c in every if c.visible))


def post_comment(store: Store, user: User, paper_id: int, body: str, parent_id: int | None = None,
                 group_id: int | None = None) -> Comment:
    """Add a comment (a reply when parent_id is given) to a paper's thread; group_id makes it group-
    only.

    A reply to a group-only comment is group-only in the same group.
    """
    text = clean_body(body)
    if store.papers.get_papers([paper_id]).get(paper_id) is None:
        raise NotFound(f"no paper {paper_id}")
    mine = store.groups.member_group_ids(user.id)
    if parent_id is not None:
        parent = store.comments.get_comment(parent_id)
        if (
            parent is None
            or parent.paper_id != paper_id
            or (parent.group_id is not None and parent.group_id not in mine)
        ):
            raise NotFound(f"no comment {parent_id} on paper {paper_id} to reply to")
        if parent.deleted:
            raise BadRequest(f"comment {parent_id} was deleted: reply to the paper instead")
        if parent.group_id is not None:
            group_id = parent.group_id
    if group_id is not None and group_id not in mine:
        raise NotFound(f"no group {group_id} of yours")
    return store.comments.add_comment(paper_id, user.id, text, parent_id, group_id)


def edit_comment(store: Store, user: User, comment_id: int, body: str) -> Comment:
    """Change the text of an own comment."""
    return store.comments.edit_comment(user.id, comment_id, clean_body(body))


def delete_comment(store: Store, user: User, comment_id: int) -> Comment:
    """Delete an own comment (replies to it stay)."""
    found = store.comments.get_comment(comment_id)
    store.comments.delete_comment(user.id, comment_id)
    assert found is not None
    return found


def report_comment(store: Store, user: User, comment_id: int, reason: str) -> bool:
    """Report a comment to the moderators; False when this user had reported it already."""
    text = clean_reason(reason)
    found = store.comments.get_comment(comment_id)
    if (
        found is None
        or found.deleted
        or (
            found.group_id is not None
            and found.group_id not in store.groups.member_group_ids(user.id)
        )
    ):
        raise NotFound(f"no comment {comment_id}")
    if found.user_id == user.id:
        raise BadRequest("you cannot report your own comment (edit or delete it instead)")
    return store.comments.report_comment(comment_id, user.id, text)


def hide_comment(store: Store, admin: User, comment_id: int, reason: str) -> Comment:
    """Hide a comment with a reason everyone sees (admins only)."""
    if not admin.is_admin:
        raise Forbidden("only administrators may hide comments")
    return store.comments.set_hidden(comment_id, admin.id, clean_reason(reason))


def restore_comment(store: Store, admin: User, comment_id: int) -> Comment:
    """Show a hidden comment again (admins only)."""
    if not admin.is_admin:
        raise Forbidden("only administrators may restore comments")
    return store.comments.set_hidden(comment_id, admin.id, None)


def comment_json(node: ThreadNode) -> dict[str, Any]:
    """The API's representation of a comment as the viewer sees it."""
    c = node.comment
    return {
        "id": c.id,
        "paper_id": c.paper_id,
        "parent_id": c.parent_id,
        "depth": node.depth,
        "author": None if c.deleted else c.author,
        "state": node.state,
        "created_at": c.created_at.isoformat(),
        "edited_at": c.edited_at.isoformat() if c.edited_at else None,
        "body": c.body if node.html is not None else None,
        "html": node.html,
        "hidden_reason": c.hidden_reason if c.hidden else None,
        "group_id": c.group_id,
    }


def single_json(store: Store, comment_id: int, viewer: User | None) -> dict[str, Any]:
    """One comment as the viewer sees it; NotFound when it is gone for them."""
    c = store.comments.get_comment(comment_id)
    if c is None:
        raise NotFound(f"no comment {comment_id}")
    for node in thread(store, c.paper_id, viewer).flat():
        if node.comment.id == comment_id:
            return comment_json(node)
    raise NotFound(f"no comment {comment_id}")


# ----- notifications and digests ------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """A comment the user hears about, why, and whether it is newer than their last visit."""

    event: DiscussionEvent
    excerpt: str
    new: bool


def notifications(
    store: Store, user: User, limit: int = 100, mark_seen: bool = True
) -> list[Notification]:
    """Replies to the user and comments on papers they authored or collected, newest first."""
    now = now_utc()
    seen = store.comments.notifications_seen(user.id)
    events = store.comments.discussion_events([user.id], None, now, limit=limit)
    out = [
        Notification(e, plain_excerpt(e.comment.body), seen is None or e.comment.created_at > seen)
        for e in events
    ]
    if mark_seen:
        store.comments.mark_notifications_seen(user.id, now)
    return out


def _reason(events: Sequence[DiscussionEvent]) -> str:
    n = len(events)
    replies = sorted({e.comment.author for e in events if e.why == "reply"})
    others = sorted({e.comment.author for e in events if e.why != "reply"} - set(replies))
    where = (
        "a paper you authored"
        if any(e.why == "authored" for e in events)
        else "a paper you collected"
    )
    parts = []
    if replies:
        parts.append(f"replies to you from {', '.join(replies)}")
    if others:
        parts.append(f"comments by {', '.join(others)} on {where}")
    latest = max(events, key=lambda e: e.comment.id)
    return (f"{n} new comment{'s' if n != 1 else ''}: {'; '.join(parts)} – "
            f"“{plain_excerpt(latest.comment.body, 140)}”")


def discussion_items(store: Store, windows: Mapping[int, datetime], until: datetime,
                     limit: int = DIGEST_THREADS) -> dict[int, list[dict[str, Any]]]:
    """Digest items of the discussion section per user: papers with new comments since each user's
    window start."""
    if not windows:
        return {}
    since = min(windows.values())
    by_user: dict[int, dict[int, list[DiscussionEvent]]] = {}
    for e in store.comments.discussion_events(list(windows), since, until, limit=20_000):
        if e.comment.created_at > windows.get(e.user_id, until):
            by_user.setdefault(e.user_id, {}).setdefault(e.comment.paper_id, []).append(e)
    out: dict[int, list[dict[str, Any]]] = {}
    for uid, per_paper in by_user.items():
        ranked = sorted(per_paper.items(), key=lambda kv: -max(e.comment.id for e in kv[1]))[:limit]
        out[uid] = [
            {"paper_id": pid, "section": "discussion", "reason": _reason(evs)}
            for pid, evs in ranked
        ]
    return out
