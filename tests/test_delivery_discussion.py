"""Discussion rules on both backends: threads, visibility, ownership, moderation, notifications,
digest items."""

from __future__ import annotations

from datetime import timedelta

import pytest

from paperfeed.core.errors import BadRequest, Forbidden, NotFound
from paperfeed.core.models import User
from paperfeed.delivery.app import comments as ds
from paperfeed.delivery.common.markup import plain_excerpt, render_markdown
from paperfeed.store import Store
from paperfeed.store.runs import now_utc
from tests.web_fixtures import paper_id


def _users(store: Store) -> tuple[User, User, User]:
    a = store.users.create_user("ada", "ada@example.org", "h")
    b = store.users.create_user("bob", "bob@example.org", "h")
    admin = store.users.set_admin(store.users.create_user("root", "root@example.org", "h").username)
    return a, b, admin


def test_markdown_is_rendered_and_sanitised() -> None:
    assert (
        render_markdown("**bold** and `code`")
        == "<p><strong>bold</strong> and <code>code</code></p>\n"
    )
    for payload in (
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<a href='javascript:alert(1)'>x</a>",
    ):
        out = render_markdown(payload)
        assert (
            "<script" not in out and "<img" not in out and "<svg" not in out and "<a " not in out
        ), out
    assert "href" not in render_markdown("[x](javascript:alert(1))")
    assert "href" not in render_markdown("[x](data:text/html;base64,PHNjcmlwdD4=)")
    link = render_markdown("[site](https://example.org)")
    assert 'href="https://example.org"' in link and 'rel="nofollow noopener ugc"' in link
    assert "style" not in render_markdown("| a |\n|:-:|\n| 1 |")  # the CSP forbids inline styles
    assert plain_excerpt("**Hi** & <b>x</b> [l](https://e.org)") == "Hi & <b>x</b> l"


def test_thread_replies_edit_delete(seeded: Store) -> None:
    a, b, _ = _users(seeded)
    pid = paper_id(seeded, "2501.00001")
    root = ds.post_comment(seeded, a, pid, "  First!  ")
    assert root.body == "First!"
    reply = ds.post_comment(seeded, b, pid, "A reply", root.id)
    ds.post_comment(seeded, a, pid, "Reply to the reply", reply.id)
    t = ds.thread(seeded, pid, None)
    assert t.count == 3 and [n.depth for n in t.flat()] == [0, 1, 2]
    assert [n.comment.author for n in t.flat()] == ["ada", "bob", "ada"]

    edited = ds.edit_comment(seeded, a, root.id, "First, edited")
    assert edited.body == "First, edited" and edited.edited_at is not None
    with pytest.raises(NotFound):
        ds.edit_comment(seeded, b, root.id, "not mine")  # someone else's comment
    with pytest.raises(NotFound):
        ds.delete_comment(seeded, b, root.id)

    ds.delete_comment(seeded, a, root.id)  # has replies: stays as a placeholder
    t = ds.thread(seeded, pid, a)
    first = t.flat()[0]
    assert first.state == "deleted" and first.html is None and t.count == 2
    assert ds.comment_json(first)["author"] is None and ds.comment_json(first)["body"] is None
    with pytest.raises(BadRequest, match="deleted"):
        ds.post_comment(seeded, b, pid, "reply to a deleted one", root.id)
    with pytest.raises(NotFound):
        ds.edit_comment(seeded, a, root.id, "undelete?")
    # a deleted comment without shown replies disappears
    lone = ds.post_comment(seeded, b, pid, "lonely")
    ds.delete_comment(seeded, b, lone.id)
    assert lone.id not in [n.comment.id for n in ds.thread(seeded, pid, None).flat()]


def test_bad_input_names_the_problem_and_keeps_what_is_stored(seeded: Store) -> None:
    a, _, _ = _users(seeded)
    pid = paper_id(seeded, "2501.00001")
    kept = ds.post_comment(seeded, a, pid, "kept")
    for body, message in (("   ", "body: required"), ("x" * (ds.MAX_BODY + 1), "at most"),
                          ("nul \x00 here", "NUL")):
        with pytest.raises(BadRequest, match=message):
            ds.post_comment(seeded, a, pid, body)
        with pytest.raises(BadRequest, match=message):
            ds.edit_comment(seeded, a, kept.id, body)
    with pytest.raises(NotFound, match="no paper"):
        ds.post_comment(seeded, a, 999_999, "hello")
    other = paper_id(seeded, "2501.00002")
    with pytest.raises(NotFound, match="to reply to"):
        ds.post_comment(seeded, a, other, "reply across papers", kept.id)
    assert [c.body for c in seeded.comments.paper_comments(pid)] == ["kept"]


def test_report_hide_restore(seeded: Store) -> None:
    a, b, admin = _users(seeded)
    pid = paper_id(seeded, "2501.00001")
    c = ds.post_comment(seeded, a, pid, "buy cheap watches")
    with pytest.raises(BadRequest, match="your own"):
        ds.report_comment(seeded, a, c.id, "spam")
    with pytest.raises(BadRequest, match="reason: required"):
        ds.report_comment(seeded, b, c.id, "  ")
    assert ds.report_comment(seeded, b, c.id, "spam") is True
    assert ds.report_comment(seeded, b, c.id, "spam again") is False  # once per user
    assert [(r.reporter, r.reason) for r, _ in seeded.comments.open_reports()] == [("bob", "spam")]

    with pytest.raises(Forbidden):
        ds.hide_comment(seeded, b, c.id, "I do not like it")
    with pytest.raises(BadRequest, match="reason"):
        ds.hide_comment(seeded, admin, c.id, "")
    ds.hide_comment(seeded, admin, c.id, "advertising")
    assert seeded.comments.open_reports() == []  # hiding resolves the reports
    for viewer, readable in ((None, False), (b, False), (a, True), (admin, True)):
        node = ds.thread(seeded, pid, viewer).flat()[0]
        assert node.state == "hidden" and node.comment.hidden_reason == "advertising"
        assert (node.html is not None) is readable, viewer
    assert ds.thread(seeded, pid, None).count == 0
    assert seeded.comments.comment_counts([pid]) == {}
    with pytest.raises(Forbidden):
        ds.restore_comment(seeded, a, c.id)
    ds.restore_comment(seeded, admin, c.id)
    assert ds.thread(seeded, pid, None).flat()[0].state == "visible"
    assert seeded.comments.comment_counts([pid]) == {pid: 1}


def test_notifications_and_digest_items(seeded: Store) -> None:
    a, b, _ = _users(seeded)
    carol = seeded.users.create_user("carol", "carol@example.org", "h")
    pid = paper_id(seeded, "2501.00001")
    coll = seeded.collections.create_collection(carol.id, "Reading")
    seeded.collections.add_to_collection(carol.id, coll.id, pid)
    start = now_utc() - timedelta(seconds=1)
    root = ds.post_comment(seeded, a, pid, "What about **long** contexts?")
    ds.post_comment(seeded, b, pid, "They work.", root.id)
    ds.post_comment(seeded, carol, pid, "Own comment: never a notification for carol")

    got = ds.notifications(seeded, a)
    assert [(n.event.why, n.event.comment.author, n.new) for n in got] == [("reply", "bob", True)]
    assert [n.new for n in ds.notifications(seeded, a)] == [False]  # seen now
    carol_sees = ds.notifications(seeded, carol, mark_seen=False)
    assert sorted(n.event.comment.author for n in carol_sees) == ["ada", "bob"]
    assert {n.event.why for n in carol_sees} == {"collected"}
    assert ds.notifications(seeded, b) == []  # nobody replied to bob, bob collected nothing

    items = ds.discussion_items(seeded, {a.id: start, carol.id: start, b.id: start}, now_utc())
    assert set(items) == {a.id, carol.id}
    assert items[a.id] == [{"paper_id": pid, "section": "discussion",
                            "reason": "1 new comment: replies to you from bob – “They work.”"}]
    assert items[carol.id][0]["reason"].startswith(
        "2 new comments: comments by ada, bob on a paper you collected"
    )
    # outside the window: nothing
    assert ds.discussion_items(seeded, {a.id: now_utc()}, now_utc()) == {}
