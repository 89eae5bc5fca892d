"""Labs on both backends: roles, invites, shared collections, the feed, group-only comments, the
weekly digest through a real SMTP server, and visibility on every path (a non-member sees
nothing)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from starlette.testclient import TestClient

from paperfeed.core.errors import BadRequest, Forbidden, NotFound
from paperfeed.core.models import User
from paperfeed.core.settings import Settings
from paperfeed.delivery.app import comments as ds, labs as gr
from paperfeed.delivery.jobs.digests import run_digests
from paperfeed.delivery.mail.mailer import FileMailer
from paperfeed.delivery.web.security import token_hash
from paperfeed.store import Store
from paperfeed.store.runs import now_utc
from tests._digest_fixtures import SinkHandler, smtp_settings
from tests.web_fixtures import make_app, paper_id


def _verified(store: Store, name: str) -> User:
    u = store.users.create_user(name, f"{name}@example.org", "x")
    store.comments.mark_email_verified(u.id, u.email)
    found = store.users.get_user(u.id)
    assert found is not None
    return found


def _lab(store: Store) -> tuple[int, User, User, User]:
    owner, member, outsider = (_verified(store, n) for n in ("olga", "max", "nina"))
    group = gr.create_group(store, owner, "  Vision   Lab ", "We read vision papers")
    token, _ = gr.invite_link(store, owner, group.id)
    gr.accept_invite(store, member, token)
    return group.id, owner, member, outsider


def test_roles_and_invites(seeded: Store, tmp_path: Path, settings: Settings) -> None:
    gid, owner, member, outsider = _lab(seeded)
    assert seeded.groups.get_group(gid).name == "Vision Lab"  # type: ignore[union-attr]
    assert seeded.groups.member_role(gid, member.id) == "member"
    with pytest.raises(BadRequest, match="name: required"):
        gr.create_group(seeded, owner, "  ")
    with pytest.raises(Forbidden):
        gr.invite_link(seeded, member, gid)  # members do not invite
    with pytest.raises(NotFound):
        gr.invite_link(seeded, outsider, gid)  # a private lab does not exist for outsiders
    with pytest.raises(Forbidden):
        gr.set_role(seeded, member, gid, member.id, "owner")
    gr.set_role(seeded, owner, gid, member.id, "admin")
    token, _ = gr.invite_link(seeded, member, gid)  # an admin invites
    with pytest.raises(BadRequest, match="needs an owner"):
        gr.set_role(seeded, owner, gid, owner.id, "member")
    with pytest.raises(Forbidden):
        gr.remove_member(seeded, member, gid, owner.id)  # admins cannot remove an owner
    # a link invite works for several people until revoked
    gr.accept_invite(seeded, outsider, token)
    assert seeded.groups.member_role(gid, outsider.id) == "member"
    gr.remove_member(seeded, outsider, gid, outsider.id)  # leave
    invite = seeded.groups.invite_by_token(token_hash(token))
    assert invite is not None
    seeded.groups.revoke_invite(gid, invite.id)
    with pytest.raises(BadRequest, match="revoked"):
        gr.accept_invite(seeded, outsider, token)
    with pytest.raises(NotFound):
        gr.accept_invite(seeded, outsider, "not-a-token")

    # an email invite: single use, for that address only, verifies it
    outbox = tmp_path / "out"
    fresh = seeded.users.create_user("zed", "zed@example.org", "x")
    inv = gr.invite_email(
        settings, seeded, owner, gid, "Zed@Example.org", mailer=FileMailer(outbox)
    )
    assert inv.email == "zed@example.org"
    mail = next(outbox.glob("*.eml")).read_bytes().decode()
    email_token = re.search(r"/groups/join/([\w-]+)", mail.replace("=\r\n", "").replace("=\n", ""))
    assert email_token
    with pytest.raises(Forbidden, match="zed@example.org"):
        gr.accept_invite(seeded, outsider, email_token.group(1))
    gr.accept_invite(seeded, fresh, email_token.group(1))
    assert (
        seeded.groups.member_role(gid, fresh.id) == "member"
        and seeded.users.get_user(fresh.id).email_verified  # type: ignore[union-attr]
    )
    gr.remove_member(seeded, owner, gid, fresh.id)
    with pytest.raises(BadRequest, match="used already"):
        gr.accept_invite(seeded, fresh, email_token.group(1))
    with pytest.raises(BadRequest, match="not an email address"):
        gr.invite_email(settings, seeded, owner, gid, "nobody", mailer=FileMailer(outbox))


def test_shared_collections_feed_and_group_comments(seeded: Store) -> None:
    gid, owner, member, outsider = _lab(seeded)
    pid = paper_id(seeded, "2501.00004")
    coll = seeded.collections.create_collection(member.id, "Max's private reading")
    seeded.collections.add_to_collection(member.id, coll.id, pid)
    with pytest.raises(NotFound):
        gr.share_collection(seeded, owner, gid, coll.id)  # not the owner's collection
    assert gr.share_collection(seeded, member, gid, coll.id) is True
    assert seeded.groups.collection_shared_with(
        coll.id, owner.id
    ) and not seeded.groups.collection_shared_with(coll.id, outsider.id)
    seeded.votes.add_vote(owner.id, pid)
    # not in the lab: not in the feed
    seeded.votes.add_vote(outsider.id, paper_id(seeded, "2501.00001"))
    feed = gr.group_feed(seeded, gid)
    assert [(e.paper.id, e.item.upvoters, e.item.collectors) for e in feed] == [
        (pid, ("olga",), ("max",))
    ]
    assert gr.group_feed(seeded, gid, until=now_utc() + timedelta(days=8)) == []  # last week only

    lab_note = ds.post_comment(seeded, member, pid, "Lab only: discuss on Friday", group_id=gid)
    ds.post_comment(seeded, owner, pid, "ok", parent_id=lab_note.id)  # a reply stays in the lab
    public = ds.post_comment(seeded, outsider, pid, "Public remark")
    with pytest.raises(NotFound):
        ds.post_comment(seeded, outsider, pid, "sneak", group_id=gid)
    with pytest.raises(NotFound):
        ds.post_comment(seeded, outsider, pid, "sneak reply", parent_id=lab_note.id)
    with pytest.raises(NotFound):
        ds.report_comment(seeded, outsider, lab_note.id, "can I see it?")
    seen_by_outsider = [n.comment.id for n in ds.thread(seeded, pid, outsider).flat()]
    assert seen_by_outsider == [public.id]
    assert ds.thread(seeded, pid, None).count == 1
    member_view = ds.thread(seeded, pid, member).flat()
    assert [n.group_name for n in member_view] == ["Vision Lab", "Vision Lab", None]
    assert all(n.comment.group_id == gid for n in member_view[:2])
    assert seeded.comments.comment_counts([pid]) == {pid: 1}  # cards count public comments only
    assert [c.id for c in seeded.comments.recent_comments(pid)] == [public.id]  # the Atom feed too
    # the outsider collects the paper: the lab's comments never reach them (the public one is their
    # own)
    seeded.collections.add_to_collection(
        outsider.id, seeded.collections.create_collection(outsider.id, "n").id, pid
    )
    assert ds.notifications(seeded, outsider) == []
    # max collected the paper: the public remark, and olga's reply within the lab
    assert [n.event.comment.body for n in ds.notifications(seeded, member)] == [
        "Public remark",
        "ok",
    ]


def test_visibility_on_every_path(settings: Settings, seeded: Store) -> None:
    gid, owner, member, outsider = _lab(seeded)
    pid = paper_id(seeded, "2501.00004")
    coll = seeded.collections.create_collection(member.id, "Secret reading")
    seeded.collections.add_to_collection(member.id, coll.id, pid)
    gr.share_collection(seeded, member, gid, coll.id)
    seeded.votes.add_vote(member.id, pid)
    ds.post_comment(seeded, member, pid, "Lab-only remark", group_id=gid)
    for u, tok in (
        (member, "pf_member-token-00000000000000000"),
        (outsider, "pf_outsider-token-0000000000000000"),
    ):
        seeded.users.create_token(u.id, "t", token_hash(tok))
    app = make_app(settings, seeded)
    as_member = {"Authorization": "Bearer pf_member-token-00000000000000000"}
    as_outsider = {"Authorization": "Bearer pf_outsider-token-0000000000000000"}
    anon = TestClient(app.app)

    # pages
    assert "Secret reading" in app.get(f"/api/v1/groups/{gid}", headers=as_member).text
    for who in ({}, as_outsider):
        assert anon.get(f"/api/v1/groups/{gid}", headers=who).status_code == 404
        assert anon.get(f"/api/v1/groups/{gid}/feed", headers=who).status_code == 404
        assert anon.get(f"/feeds/groups/{gid}.atom", headers=who).status_code == 404
        assert anon.get(f"/api/v1/collections/{coll.id}", headers=who).status_code == 404
        thread = anon.get(f"/api/v1/papers/{pid}/comments", headers=who).json()
        assert thread["count"] == 0 and "Lab-only" not in str(thread)
        assert "Lab-only remark" not in anon.get(f"/feeds/papers/{pid}/comments.atom").text
    assert anon.get(f"/groups/{gid}").status_code == 404
    assert anon.get(f"/collections/{coll.id}").status_code == 404
    page = anon.get(f"/papers/{pid}").text
    assert "Lab-only remark" not in page and "Secret reading" not in page
    # a member sees all of it, through the API and the feed
    feed = app.get(f"/api/v1/groups/{gid}/feed", headers=as_member).json()
    assert feed == [
        {
            "paper_id": pid,
            "title": "Vision Transformers at Scale",
            "authors": ["Fei-Fei Li"],
            "upvoted_by": ["max"],
            "collected_by": ["max"],
            "last_at": feed[0]["last_at"],
        }
    ]
    atom = feedparser.parse(app.get(f"/feeds/groups/{gid}.atom", headers=as_member).content)
    assert [e.title for e in atom.entries] == ["Vision Transformers at Scale"]
    assert app.get(f"/api/v1/collections/{coll.id}", headers=as_member).status_code == 200
    assert "Lab-only remark" in str(
        app.get(f"/api/v1/papers/{pid}/comments", headers=as_member).json()
    )
    # the API can make invites and join with them
    made = app.post(f"/api/v1/groups/{gid}/invites", json={}, headers=as_member)
    assert made.status_code == 403  # members do not invite
    seeded.users.create_token(owner.id, "t", token_hash("pf_owner-token-00000000000000000000"))
    made = app.post(f"/api/v1/groups/{gid}/invites", json={},
                    headers={"Authorization": "Bearer pf_owner-token-00000000000000000000"})
    assert made.status_code == 201
    joined = app.post(
        "/api/v1/groups/join", json={"token": made.json()["token"]}, headers=as_outsider
    )
    assert joined.status_code == 200 and joined.json()["role"] == "member"
    assert app.get(f"/api/v1/groups/{gid}/feed", headers=as_outsider).status_code == 200


def test_weekly_group_digest_reaches_members_only(settings: Settings, seeded: Store,
                                                  smtp_sink: tuple[SinkHandler, int]) -> None:
    sink, port = smtp_sink
    gid, owner, member, _outsider = _lab(seeded)
    unverified = seeded.users.create_user("uma", "uma@example.org", "x")
    seeded.groups.add_member(gid, unverified.id, "member")
    pid = paper_id(seeded, "2501.00004")
    seeded.votes.add_vote(member.id, pid)
    seeded.groups.set_member(gid, owner.id, digest=True)
    now = now_utc() + timedelta(days=7)  # next week: this week's activity is "last week"
    report = run_digests(smtp_settings(settings, port), seeded, now=now)
    assert report.groups["sent"] == 2, report
    got = sink.by_recipient()
    # not the outsider, not the unverified
    assert sorted(got) == ["max@example.org", "olga@example.org"]
    msg = got["max@example.org"][0].message
    assert "Vision Lab" in msg["Subject"]
    body = msg.get_content()
    assert "Vision Transformers at Scale" in body and "upvoted by max" in body
    again = run_digests(smtp_settings(settings, port), seeded, now=now)
    assert again.groups["sent"] == 0 and len(sink.received) == 2  # once per member and week
    # a member who turned it off gets none the week after
    seeded.groups.set_member(gid, owner.id, digest=False)
    seeded.votes.add_vote(owner.id, paper_id(seeded, "2501.00001"))
    later = run_digests(
        smtp_settings(settings, port), seeded, now=now_utc() + timedelta(days=7, hours=1)
    )
    assert later.groups.get("sent", 0) == 0  # same week key: already sent to max
