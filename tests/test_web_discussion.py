"""Discussion through the web: forms on the paper page, the JSON API, the Atom feed, counts, limits,
notifications, email verification, and the digest's discussion section through a real SMTP
server."""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import feedparser
from starlette.testclient import TestClient

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app.credentials import hash_password
from paperfeed.delivery.common.secret_key import resolve_secret_key
from paperfeed.delivery.jobs.digests import run_digests
from paperfeed.delivery.mail.verify import verification_token
from paperfeed.delivery.web.security import token_hash
from paperfeed.store import Store
from paperfeed.store.runs import now_utc
from tests._digest_fixtures import SinkHandler, smtp_settings
from tests._mail import body_of
from tests.web_fixtures import PASSWORD, csrf_from, make_app, page_csrf, paper_id, signup


def _post(c: TestClient, path: str, **data: str) -> object:
    return c.post(path, data={"csrf_token": page_csrf(c), **data}, follow_redirects=False)


def test_thread_through_the_forms(settings: Settings, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00004")
    ada = make_app(settings, seeded)
    # one app (one page cache), four browsers
    bob, root, anon = (TestClient(ada.app) for _ in range(3))
    for c, name in ((ada, "ada"), (bob, "bob"), (root, "root")):
        signup(c, name)
    seeded.users.set_admin("root")
    assert "No comments yet." in anon.get(f"/papers/{pid}").text  # cached for visitors from here on

    r = _post(ada, f"/papers/{pid}/comments", body="Is **this** new?")
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{pid}#c1"  # type: ignore[attr-defined]
    assert _post(bob, f"/papers/{pid}/comments", body="Yes", parent_id="1").status_code == 303  # type: ignore[attr-defined]
    page = anon.get(f"/papers/{pid}").text  # the new comments show at once (the data stamp changed)
    assert "<strong>this</strong>" in page and 'id="c2"' in page and "(2 comments)" in page
    assert "Log in</a> to join the discussion" in page

    # no CSRF token, no comment
    assert ada.post(f"/papers/{pid}/comments", data={"body": "x"}).status_code == 403
    # edit and delete are the author's only
    assert _post(bob, "/comments/1/edit", body="hijack").status_code == 404  # type: ignore[attr-defined]
    assert _post(ada, "/comments/1/edit", body="Is this new? (edited)").status_code == 303  # type: ignore[attr-defined]
    assert "(edited)" in anon.get(f"/papers/{pid}").text
    # report, then an admin hides with a reason, then restores
    assert _post(bob, "/comments/1/report", reason="off topic").status_code == 303  # type: ignore[attr-defined]
    assert "off topic" in root.get("/admin/comments").text
    assert bob.get("/admin/comments").status_code == 403
    assert _post(bob, "/comments/1/hide", reason="mine").status_code == 403  # type: ignore[attr-defined]
    assert _post(root, "/comments/1/hide", reason="Off topic for this paper").status_code == 303  # type: ignore[attr-defined]
    page = anon.get(f"/papers/{pid}").text
    assert "Hidden by a moderator: Off topic for this paper" in page and "Is this new?" not in page
    assert "Is this new?" in ada.get(f"/papers/{pid}").text  # the author still reads it
    assert _post(root, "/comments/1/restore").status_code == 303  # type: ignore[attr-defined]
    assert "Hidden by a moderator" not in anon.get(f"/papers/{pid}").text
    assert _post(ada, "/comments/1/delete").status_code == 303  # type: ignore[attr-defined]
    page = anon.get(f"/papers/{pid}").text
    assert "[deleted]" in page and "(1 comment)" in page

    # the count on the Daily page's card and in the API
    home = anon.get("/?day=2025-01-05").text
    assert re.search(r"</svg> 1</a>", home)  # the comment count beside its icon
    listed = anon.get("/api/v1/papers", params={"day": "2025-01-05"}).json()["papers"]
    assert [p["comments"] for p in listed if p["id"] == pid] == [1]
    assert anon.get(f"/api/v1/papers/{pid}").json()["comments"] == 1


def test_api_feed_limits_and_notifications(settings: Settings, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00001")
    ada = seeded.users.create_user("ada", "ada@example.org", "x")
    bob = seeded.users.create_user("bob", "bob@example.org", "x")
    seeded.users.create_token(ada.id, "t", token_hash("pf_ada-token-000000000000000000000"))
    seeded.users.create_token(bob.id, "t", token_hash("pf_bob-token-000000000000000000000"))
    api = make_app(settings, seeded, rate_limit_comment="3/minute")
    h_ada = {"Authorization": "Bearer pf_ada-token-000000000000000000000"}
    h_bob = {"Authorization": "Bearer pf_bob-token-000000000000000000000"}

    assert api.post(f"/api/v1/papers/{pid}/comments", json={"body": "hi"}).status_code == 401
    r = api.post(
        f"/api/v1/papers/{pid}/comments",
        json={"body": "<script>alert(1)</script> *hi*"},
        headers=h_ada,
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert (
        first["html"] == "<p>&lt;script&gt;alert(1)&lt;/script&gt; <em>hi</em></p>\n"
        and first["author"] == "ada"
    )
    r = api.post(
        f"/api/v1/papers/{pid}/comments",
        json={"body": "reply", "parent_id": first["id"]},
        headers=h_bob,
    )
    assert r.status_code == 201 and r.json()["depth"] == 1
    bad = api.post(f"/api/v1/papers/{pid}/comments", json={"body": "   "}, headers=h_bob)
    assert bad.status_code == 400 and "body" in bad.json()["message"]
    assert (
        api.post("/api/v1/papers/999999/comments", json={"body": "x"}, headers=h_bob).status_code
        == 404
    )
    assert (
        api.patch(f"/api/v1/comments/{first['id']}", json={"body": "x"}, headers=h_bob).status_code
        == 404
    )
    assert (
        api.patch(f"/api/v1/comments/{first['id']}", json={"body": "edited"}, headers=h_ada).json()[
            "body"
        ]
        == "edited"
    )
    assert (
        api.post(
            f"/api/v1/comments/{first['id']}/hide", json={"reason": "x"}, headers=h_bob
        ).status_code
        == 403
    )
    rep = api.post(
        f"/api/v1/comments/{first['id']}/report", json={"reason": "spam"}, headers=h_bob
    ).json()
    assert rep == {"comment_id": first["id"], "reported": True, "new": True}

    # per-user comment limit: ada posted 1, 2 more are allowed, the 4th is refused
    for i in range(2):
        assert (
            api.post(
                f"/api/v1/papers/{pid}/comments", json={"body": f"n{i}"}, headers=h_ada
            ).status_code
            == 201
        )
    over = api.post(f"/api/v1/papers/{pid}/comments", json={"body": "too many"}, headers=h_ada)
    assert over.status_code == 429 and "too many requests" in over.json()["message"]

    thread = api.get(f"/api/v1/papers/{pid}/comments").json()
    assert thread["count"] == 4 and [c["depth"] for c in thread["comments"]] == [0, 1, 0, 0]
    assert api.delete(f"/api/v1/comments/{first['id']}", headers=h_ada).status_code == 204
    assert api.get(f"/api/v1/comments/{first['id']}").json()["state"] == "deleted"

    feed = feedparser.parse(api.get(f"/feeds/papers/{pid}/comments.atom").content)
    assert feed.bozo == 0 and feed.feed.title.startswith("Discussion: Attention Is Still")
    # the deleted one is gone
    assert sorted(e.author for e in feed.entries) == ["ada", "ada", "bob"]
    assert api.get("/feeds/papers/999999/comments.atom").status_code == 404

    notes = api.get("/api/v1/notifications", headers=h_ada).json()
    assert [(n["why"], n["author"], n["excerpt"]) for n in notes] == [("reply", "bob", "reply")]
    # bob is at his limit of 3 too
    seeded.comments.add_comment(pid, bob.id, "to ada", thread["comments"][2]["id"])
    notes = api.get("/api/v1/notifications", headers=h_ada).json()
    assert [(n["why"], n["author"], n["excerpt"], n["new"]) for n in notes] == [
        ("reply", "bob", "to ada", True), ("reply", "bob", "reply", True)]
    assert api.get("/api/v1/notifications").status_code == 401


def test_notifications_page(client: TestClient, seeded: Store) -> None:
    signup(client, "ada")
    pid = paper_id(seeded, "2501.00002")
    bob = seeded.users.create_user("bob", "bob@example.org", "x")
    assert _post(client, "/collections", name="Mine", paper_id=str(pid)).status_code == 303  # type: ignore[attr-defined]
    seeded.comments.add_comment(pid, bob.id, "Read this *twice*")
    page = client.get("/notifications").text
    assert "commented on" in page and "Read this twice" in page and 'class="tag">new' in page
    assert 'class="tag">new' in client.get("/notifications").text  # a GET never writes (#22)
    r = client.post("/notifications/seen", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 200 and 'class="tag">new' not in r.text


def test_email_verification_link(settings: Settings, seeded: Store, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    c = make_app(settings, seeded, mailer="file", mail_dir=str(outbox))
    # an account whose address nobody confirmed (sign-up itself now confirms it, #21 F13): it asks
    seeded.users.create_user("vera", "vera@example.org", hash_password(PASSWORD))
    form = {"login": "vera", "password": PASSWORD, "csrf_token": csrf_from(c.get("/login").text)}
    assert c.post("/login", data=form, follow_redirects=False).status_code == 303
    assert c.post("/profile/verify-email", data={"csrf_token": page_csrf(c)}).status_code == 200
    user = seeded.users.get_user_by_name("vera")
    assert user is not None and not user.email_verified
    assert "not confirmed yet" in c.get("/profile").text
    mails = list(outbox.glob("*.eml"))
    assert len(mails) == 1
    msg = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert msg["To"] == "vera <vera@example.org>" and "confirm your email address" in msg["Subject"]
    text = msg.get_content()
    link = re.search(r"(http://\S+/verify-email\?t=\S+)", text)
    assert link
    path = link.group(1).split("8000", 1)[1]
    assert c.get(path[:-3]).status_code == 400  # cut short
    # the GET (a mail scanner follows it too) changes nothing: it shows a button that POSTs (#21
    # F10)
    asked = c.get(path)
    assert asked.status_code == 200 and "Confirm my email address" in asked.text
    assert not seeded.users.get_user_by_name("vera").email_verified  # type: ignore[union-attr]
    token = html.unescape(re.search(r'name="t" value="([^"]+)"', asked.text).group(1))  # type: ignore[union-attr]
    form = {"t": token, "csrf_token": csrf_from(asked.text)}
    ok = c.post("/verify-email", data=form)
    assert ok.status_code == 200 and "vera@example.org is confirmed" in ok.text
    assert seeded.users.get_user_by_name("vera").email_verified  # type: ignore[union-attr]
    again = c.post("/verify-email", data=form)  # the link works once
    assert again.status_code == 400 and "used already" in again.text
    assert c.get(path).status_code == 400
    assert "not confirmed yet" not in c.get("/profile").text
    # a link for an address the account no longer has verifies nothing
    secret = resolve_secret_key(settings)
    other = seeded.users.create_user("olga", "olga@example.org", "x")
    stale = verification_token(secret, other)
    with seeded.engine.begin() as conn:
        from sqlalchemy import update

        from paperfeed.store.schema import users

        conn.execute(
            update(users).where(users.c.id == other.id).values(email="olga@new.example.org")
        )
    bad = c.get("/verify-email", params={"t": stale})
    assert bad.status_code == 400 and "no longer has" in bad.text
    assert not seeded.users.get_user_by_name("olga").email_verified  # type: ignore[union-attr]
    assert c.get("/verify-email", params={"t": "garbage"}).status_code == 400


def test_digest_has_discussion_section_only_for_verified(
    settings: Settings, seeded: Store, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    s = smtp_settings(settings, port)
    pid = paper_id(seeded, "2501.00001")
    ada = seeded.users.create_user("ada", "ada@example.org", "x")
    una = seeded.users.create_user("una", "una@example.org", "x")  # never verifies
    bob = seeded.users.create_user("bob", "bob@example.org", "x")
    seeded.comments.mark_email_verified(ada.id, ada.email)
    for u in (ada, una):
        seeded.subscriptions.save_subscription(
            u.id, send_hour=0, timezone="UTC", sections=("discussion",)
        )
        coll = seeded.collections.create_collection(u.id, "Reading")
        seeded.collections.add_to_collection(u.id, coll.id, pid)
    root = seeded.comments.add_comment(pid, ada.id, "My question")
    seeded.comments.add_comment(pid, bob.id, "An **answer**", root.id)
    report = run_digests(s, seeded, now=now_utc() + timedelta(minutes=1))
    assert report.sent == 1, report
    got = sink.by_recipient()
    assert list(got) == ["ada@example.org"]  # una gets nothing before confirming her address
    msg = got["ada@example.org"][0].message
    text = body_of(msg)
    assert "Discussion: replies to you and comments on your papers" in text
    assert "replies to you from bob" in text and "An answer" in text
    html = body_of(msg, "html")
    assert f"/papers/{pid}#comments" in unescape(html)
    # una confirms: her next digest brings the discussion she missed
    seeded.comments.mark_email_verified(una.id, una.email)
    again = run_digests(with_overrides(s), seeded, now=now_utc() + timedelta(minutes=2))
    assert again.sent == 1 and "una@example.org" in sink.by_recipient()
