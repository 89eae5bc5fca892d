"""Lab (group) use cases: create, invite by link or email, accept, roles, shared collections, the
group feed ("what the lab upvoted or collected this week") and the weekly group digest.

Visibility (one rule, used by pages, API, feeds and digests): a private group, its members, feed,
shared collections and group-only comments exist only for its members; everyone else gets NotFound,
the same answer as for a group that does not exist. A public group's page and feed are open, its
group-only comments still are not.

Roles: the owner (creator) changes roles; owners and admins invite, remove members and revoke
invites; every member shares their own collections and reads everything of the group.

An email invite is sent to an address nobody has verified yet; it is a signed, single-use link like
the verification link, and accepting it while logged in with that address verifies the address.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, formataddr
from typing import Any

from paperfeed.core.addresses import is_email
from paperfeed.core.errors import BadRequest, Conflict, Forbidden, NotFound
from paperfeed.core.models import Paper, User
from paperfeed.core.settings import Settings
from paperfeed.delivery.mail.compose import Outgoing, notice_message, sender_address, site_host
from paperfeed.delivery.mail.mailer import Mailer, MailError, TransientMailError, open_mailer
from paperfeed.store import Store
from paperfeed.store.community import ROLES, Collection, FeedItem, Group, Invite, Member
from paperfeed.store.runs import now_utc

log = logging.getLogger("paperfeed.groups")
INVITE_DAYS = 14
FEED_DAYS = 7
MANAGERS = ("owner", "admin")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def clean_group_fields(name: str, description: str) -> tuple[str, str]:
    """Trimmed name and description; BadRequest naming the field that is wrong."""
    if "\x00" in name + description:
        raise BadRequest("name/description: must not contain NUL characters")
    name, description = " ".join(name.split()), description.strip()
    if not name:
        raise BadRequest("name: required")
    if len(name) > 200:
        raise BadRequest("name: at most 200 characters")
    if len(description) > 2000:
        raise BadRequest("description: at most 2000 characters")
    return name, description


def create_group(
    store: Store, user: User, name: str, description: str = "", is_private: bool = True
) -> Group:
    """Create a lab with the user as its owner."""
    name, description = clean_group_fields(name, description)
    return store.groups.create_group(user.id, name, description, is_private)


def visible_group(store: Store, group_id: int, viewer: User | None) -> tuple[Group, str | None]:
    """The group and the viewer's role; NotFound for a private group the viewer is not in."""
    group = store.groups.get_group(group_id)
    role = store.groups.member_role(group_id, viewer.id if viewer else None) if group else None
    if group is None or (group.is_private and role is None):
        raise NotFound(f"no group {group_id}")
    return group, role


def _manager(store: Store, actor: User, group_id: int) -> Group:
    group, role = visible_group(store, group_id, actor)
    if role not in MANAGERS:
        raise Forbidden("only the group's owners and admins may do this")
    return group


def _member(store: Store, actor: User, group_id: int) -> Group:
    group, role = visible_group(store, group_id, actor)
    if role is None:
        raise NotFound(f"no group {group_id}")
    return group


def invite_link(
    store: Store, actor: User, group_id: int, role: str = "member"
) -> tuple[str, Invite]:
    """A new invite link (anyone holding it joins, until it expires or is revoked): (token,
    invite)."""
    _manager(store, actor, group_id)
    if role not in ("admin", "member"):
        raise BadRequest(f"role: {role!r} is not one of admin, member")
    token = secrets.token_urlsafe(24)
    return token, store.groups.add_invite(
        group_id, _hash(token), None, role, actor.id, now_utc() + timedelta(days=INVITE_DAYS)
    )


def invite_url(settings: Settings, token: str) -> str:
    """Where an invite token leads."""
    return f"{settings.base_url.rstrip('/')}/groups/join/{token}"


def invite_email(settings: Settings, store: Store, actor: User, group_id: int, email: str,
                 mailer: Mailer | None = None) -> Invite:
    """Mail a single-use invite to one address."""
    group = _manager(store, actor, group_id)
    email = email.strip()
    if not is_email(email):
        raise BadRequest(f"email: {email!r} is not an email address")
    if not actor.email_verified:
        raise Forbidden("confirm your own email address before inviting others by email")
    token = secrets.token_urlsafe(24)
    invite = store.groups.add_invite(group_id, _hash(token), email.lower(), "member", actor.id,
                              now_utc() + timedelta(days=INVITE_DAYS))
    body = (
        f"{actor.username} invites you to read papers together in “{group.name}” on paperfeed.\n\n"
        f"Join (valid for {INVITE_DAYS} days, once):\n\n{invite_url(settings, token)}\n\n"
        "Log in or sign up with this address to accept. If you did not expect this, ignore it.\n"
    )
    subject = f"paperfeed: {actor.username} invites you to the lab “{group.name}”"
    out = notice_message(settings, email, subject, body, now_utc(), kind=f"invite-{invite.id}")
    own = mailer is None
    active = mailer or open_mailer(settings)
    try:
        active.send(out, lambda: None)
    except (MailError, OSError) as exc:
        store.groups.revoke_invite(group_id, invite.id)
        raise BadRequest(f"the invitation could not be mailed ({exc}); try again later") from None
    finally:
        if own:
            active.close()
    return invite


def pending_invite(store: Store, token: str) -> tuple[Invite, Group]:
    """The usable invite of a token; BadRequest when expired, used or revoked, NotFound when
    unknown."""
    invite = store.groups.invite_by_token(_hash(token.strip()[:200]))
    group = store.groups.get_group(invite.group_id) if invite else None
    if invite is None or group is None:
        raise NotFound("this invitation link is not valid")
    if invite.revoked_at is not None:
        raise BadRequest("this invitation was revoked")
    if invite.email is not None and invite.used_at is not None:
        raise BadRequest("this invitation was used already")
    if invite.expires_at < now_utc():
        raise BadRequest("this invitation has expired: ask for a new one")
    return invite, group


def accept_invite(store: Store, user: User, token: str) -> Group:
    """Join the group of an invite (an email invite only for an account with that address)."""
    invite, group = pending_invite(store, token)
    if invite.email is not None:
        if invite.email != user.email.lower():
            raise Forbidden(
                f"this invitation is for {invite.email}; log in with that address to accept it"
            )
        if store.groups.member_role(group.id, user.id) is None and not store.groups.use_invite(
            invite.id
        ):
            raise BadRequest("this invitation was used already")
        store.comments.mark_email_verified(user.id, user.email)  # the link reached this address
    store.groups.add_member(group.id, user.id, invite.role)
    return group


def set_role(store: Store, actor: User, group_id: int, user_id: int, role: str) -> None:
    """Change a member's role (owners only; a group keeps at least one owner)."""
    _group, actor_role = visible_group(store, group_id, actor)
    if actor_role != "owner":
        raise Forbidden("only the group's owners change roles")
    if role not in ROLES:
        raise BadRequest(f"role: {role!r} is not one of {', '.join(ROLES)}")
    current = store.groups.member_role(group_id, user_id)
    if current is None:
        raise NotFound(f"user {user_id} is not a member")
    if current == "owner" and role != "owner" and store.groups.count_role(group_id, "owner") == 1:
        raise BadRequest("a group needs an owner: make someone else owner first")
    store.groups.set_member(group_id, user_id, role=role)


def remove_member(store: Store, actor: User, group_id: int, user_id: int) -> None:
    """Remove a member (managers), or leave (anyone, for themselves); the last owner cannot go."""
    _group, actor_role = visible_group(store, group_id, actor)
    if actor_role is None:
        raise NotFound(f"no group {group_id}")
    target = store.groups.member_role(group_id, user_id)
    if target is None:
        raise NotFound(f"user {user_id} is not a member")
    if user_id != actor.id and actor_role not in MANAGERS:
        raise Forbidden("only the group's owners and admins remove members")
    if target == "owner" and (actor_role != "owner" and user_id != actor.id):
        raise Forbidden("admins cannot remove an owner")
    if target == "owner" and store.groups.count_role(group_id, "owner") == 1:
        raise BadRequest("a group needs an owner: make someone else owner first")
    store.groups.remove_member(group_id, user_id)


def share_collection(store: Store, actor: User, group_id: int, collection_id: int,
                     confirm_public: bool = False) -> bool:
    """Share one of the actor's collections with a group the actor belongs to.

    A private collection shared with a public lab is read by every member of a lab anyone may join,
    so it needs `confirm_public` (F2): Conflict says so otherwise.
    """
    group = _member(store, actor, group_id)
    coll = store.collections.get_collection(collection_id)
    if coll is None or coll.user_id != actor.id:
        raise NotFound(f"no collection {collection_id} of yours")
    if not group.is_private and not coll.is_public and not confirm_public:
        raise Conflict(f"“{coll.name}” is private and “{group.name}” is a public lab: every member "
                       "of it will read the collection; confirm to share it")
    return store.groups.share_collection(group_id, collection_id, actor.id)


def unshare_collection(store: Store, actor: User, group_id: int, collection_id: int) -> bool:
    """Stop sharing (a manager, or the collection's owner always: also after leaving the lab,
    F1)."""
    coll = store.collections.get_collection(collection_id)
    if (
        coll is not None
        and coll.user_id == actor.id
        and store.groups.is_shared(group_id, collection_id)
    ):
        return store.groups.unshare_collection(group_id, collection_id)
    _group, role = visible_group(store, group_id, actor)
    if role not in MANAGERS or coll is None:
        raise NotFound(f"no collection {collection_id} shared by you here")
    return store.groups.unshare_collection(group_id, collection_id)


def shared_collections(store: Store, group_id: int) -> list[Collection]:
    """The collections shared with a group (the caller checked visibility)."""
    return store.groups.shared_collections(group_id)


@dataclass
class FeedEntry:
    """A paper in the group feed, with who upvoted or collected it."""

    paper: Paper
    item: FeedItem


def group_feed(store: Store, group_id: int, until: datetime | None = None, days: int = FEED_DAYS,
               limit: int = 100, members_view: bool = True) -> list[FeedEntry]:
    """What the group's members upvoted or added to shared collections in the `days` before `until`.

    `members_view=False` is a non-member's view of a public lab: no votes (they are private) and
    only public collections' papers (F2).
    """
    end = until or now_utc()
    items = store.groups.group_feed(group_id, end - timedelta(days=days), end, limit, members_view)
    found = store.papers.get_papers([i.paper_id for i in items])
    return [FeedEntry(found[i.paper_id], i) for i in items if i.paper_id in found]


def feed_json(entries: list[FeedEntry]) -> list[dict[str, Any]]:
    """The API's representation of the group feed."""
    return [{"paper_id": e.paper.id, "title": e.paper.title, "authors": list(e.paper.authors[:10]),
             "upvoted_by": list(e.item.upvoters), "collected_by": list(e.item.collectors),
             "last_at": e.item.last_at.isoformat()} for e in entries]


def group_json(
    group: Group, role: str | None, members: list[Member] | None = None
) -> dict[str, Any]:
    """The API's representation of a group (members only for members)."""
    out: dict[str, Any] = {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "is_private": group.is_private,
        "member_count": group.member_count,
        "role": role,
    }
    if members is not None:
        out["members"] = [{"username": m.username, "role": m.role} for m in members]
    return out


# ----- the weekly group digest --------------------------------------------------------------------


def last_week(now: datetime) -> tuple[str, datetime, datetime]:
    """The ISO week before `now` (UTC): its key and [start, end)."""
    today = now.astimezone(UTC).date()
    monday = today - timedelta(days=today.weekday())
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC) - timedelta(days=7)
    iso = start.isocalendar()
    return f"{iso.year}-W{iso.week:02d}", start, start + timedelta(days=7)


def group_digest_message(settings: Settings, group: Group, user: User, week: str,
                         entries: list[FeedEntry]) -> Outgoing:
    """The weekly digest message of a group for one member."""
    base = settings.base_url.rstrip("/")
    lines = [
        f"Hello {user.username},",
        "",
        f"this is what “{group.name}” upvoted or collected in {week}:",
        "",
    ]
    for e in entries:
        who = []
        if e.item.upvoters:
            who.append("upvoted by " + ", ".join(e.item.upvoters[:8]))
        if e.item.collectors:
            who.append("collected by " + ", ".join(e.item.collectors[:8]))
        lines += [
            f"* {' '.join(e.paper.title.split())}",
            f"  {'; '.join(who)}",
            f"  {base}/papers/{e.paper.id}",
            "",
        ]
    lines += [
        f"The group: {base}/groups/{group.id}",
        "Stop these weekly mails on that page (Weekly digest: off).",
    ]
    from_header, sender, utf8 = sender_address(settings)
    msg = EmailMessage()
    msg["From"] = from_header
    msg["To"] = formataddr((user.username, user.email))
    msg["Subject"] = (
        f"paperfeed: {len(entries)} paper{'s' if len(entries) != 1 else ''} from {group.name} – "
        f"{week}"
    )
    msg["Date"] = format_datetime(now_utc())
    message_id = f"<group-{group.id}.{user.id}.{week}@{site_host(settings)}>"
    msg["Message-ID"] = message_id
    msg["List-Id"] = f"{group.name} <group-{group.id}.{site_host(settings)}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(lines) + "\n")
    wide = utf8 or not user.email.isascii()
    return Outgoing(
        message_id, sender, user.email, msg.as_bytes(policy=SMTPUTF8 if wide else SMTP), wide
    )


def run_group_digests(
    settings: Settings, store: Store, mailer: Mailer, now: datetime | None = None
) -> dict[str, int]:
    """Send every group's digest of last week to its verified members who want it, once per week."""
    when = now or now_utc()
    week, start, end = last_week(when)
    counts = {"sent": 0, "failed": 0, "retry": 0, "empty": 0}
    for group in store.groups.all_groups():
        done = {uid for uid, _, _ in store.groups.group_sends(group.id, week)}
        todo = [u for u in store.groups.digest_members(group.id) if u.id not in done]
        if not todo:  # the job runs every minute: a week already sent costs two small queries
            continue
        entries = group_feed(store, group.id, until=end, days=(end - start).days, limit=50)
        if not entries:
            counts["empty"] += 1
            continue
        for user in todo:
            if not store.groups.claim_group_send(group.id, user.id, week):
                continue
            try:
                mailer.send(
                    group_digest_message(settings, group, user, week, entries), lambda: None
                )
            except MailError as exc:
                transient = isinstance(exc, TransientMailError)
                store.groups.finish_group_send(
                    group.id, user.id, week, "retry" if transient else "failed", str(exc)
                )
                counts["retry" if transient else "failed"] += 1
                log.warning("group digest %s to %s: %s", group.id, user.username, exc)
            else:
                store.groups.finish_group_send(group.id, user.id, week, "sent")
                counts["sent"] += 1
    return counts
