"""Lifecycle alerts and the portable profile through the web: the notifications page and its unread
count, /api/v1/alerts, the digest's alerts section (once, not again), the profile download and the
account deletion form."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select
from starlette.testclient import TestClient

from paperfeed.core.settings import Settings
from paperfeed.delivery.jobs.digests import run_digests
from paperfeed.store import Store
from paperfeed.store.alert_schema import alert_deliveries
from paperfeed.store.runs import now_utc
from tests._digest_fixtures import SinkHandler, smtp_settings
from tests._mail import body_of
from tests.web_fixtures import PASSWORD, SAMPLE, csrf_from, make_app, page_csrf, paper_id, signup


def _mailed(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(alert_deliveries)
                .where(alert_deliveries.c.channel == "email")
            ).scalar_one()
        )


def test_alerts_on_page_api_and_in_one_digest(
    settings: Settings, seeded: Store, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    c = make_app(settings, seeded)
    signup(c, "ada")
    ada = seeded.users.get_user_by_name("ada")
    assert ada is not None
    pid = paper_id(seeded, "2501.00001")
    seeded.votes.add_vote(ada.id, pid)
    seeded.comments.mark_email_verified(ada.id, ada.email)
    seeded.subscriptions.save_subscription(
        ada.id, send_hour=0, timezone="UTC", sections=("alerts",)
    )
    assert c.get("/api/v1/alerts").json() == {"unread": 0, "alerts": []}
    newer = replace(
        SAMPLE[0],
        version=3,
        source="arxiv-api",
        doi="10.48550/example.1",
        featured_on=None,
        external_upvotes=None,
    )
    seeded.papers.upsert_papers([newer])
    data = c.get("/api/v1/alerts").json()
    assert data["unread"] == 2
    assert [(a["kind"], a["key"], a["why"], a["new"]) for a in data["alerts"]] == [
        ("journal_ref", "10.48550/example.1", "upvoted", True),
        ("new_version", "3", "upvoted", True),
    ]
    page = c.get("/notifications").text
    assert "2 new" in page and "new version v3" in page and "published: 10.48550/example.1" in page
    assert c.get("/api/v1/alerts").json()["unread"] == 2  # a GET never writes (#22 item 7)
    assert c.get("/api/v1/alerts?mark_seen=true").status_code == 400  # POST .../seen instead
    c.post("/notifications/seen", data={"csrf_token": csrf_from(page)})  # the page's button
    assert c.get("/api/v1/alerts").json()["unread"] == 0
    assert "2 new" not in c.get("/notifications").text
    assert TestClient(c.app).get("/api/v1/alerts").status_code == 401

    report = run_digests(
        smtp_settings(settings, port), seeded, now=now_utc() + timedelta(minutes=1)
    )
    assert report.sent == 1, report
    text = body_of(sink.by_recipient()["ada@example.org"][0].message)
    assert text.count("Alerts: new versions, code and journal references of your papers") == 1
    assert "New version v3; published: 10.48550/example.1" in text
    assert _mailed(seeded) == 2
    # The next day's digest has no alert to repeat: nothing new, nothing sent.
    again = run_digests(
        smtp_settings(settings, port), seeded, now=now_utc() + timedelta(days=1, minutes=1)
    )
    assert (
        again.sent == 0
        and len(sink.by_recipient()["ada@example.org"]) == 1
        and _mailed(seeded) == 2
    )
    # A version that appears the day after is new: it comes in the digest after, alone.
    seeded.papers.upsert_papers(
        [replace(newer, version=4)], now=now_utc() + timedelta(days=1, minutes=30)
    )
    third = run_digests(
        smtp_settings(settings, port), seeded, now=now_utc() + timedelta(days=2, minutes=1)
    )
    assert third.sent == 1 and _mailed(seeded) == 3
    text = body_of(sink.by_recipient()["ada@example.org"][1].message)
    # only v4 is new: the v3 alert went out the day before (the links' random tokens may hold "v3")
    alerts = [line for line in text.splitlines() if "New version" in line]
    assert (
        alerts == [line for line in alerts if "v4" in line] and alerts and "published:" not in text
    )


def test_profile_download_and_account_deletion(settings: Settings, seeded: Store) -> None:
    c = make_app(settings, seeded)
    signup(c, "ada")
    signup(other := TestClient(c.app), "bob")
    ada = seeded.users.get_user_by_name("ada")
    assert ada is not None
    seeded.votes.add_vote(ada.id, paper_id(seeded, "2501.00002"))
    assert "Download my data" in c.get("/profile").text
    r = c.get("/profile/export")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    doc = json.loads(r.text)
    assert doc["format"] == "paperfeed-profile" and doc["account"]["username"] == "ada"
    assert [v["paper"]["arxiv_id"] for v in doc["votes"]] == ["2501.00002"]
    assert c.get("/api/v1/me/export").json()["votes"] == doc["votes"]
    assert TestClient(c.app).get("/api/v1/me/export").status_code == 401
    # No CSRF token: refused; a wrong password: refused with a clear message; nothing deleted.
    assert (
        c.post("/profile/delete", data={"password": PASSWORD}, follow_redirects=False).status_code
        == 403
    )
    r = c.post(
        "/profile/delete",
        data={"csrf_token": page_csrf(c), "password": "wrong"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "wrong password" in c.get("/profile").text
    assert seeded.users.get_user_by_name("ada") is not None
    r = c.post(
        "/profile/delete",
        data={"csrf_token": page_csrf(c), "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert (
        seeded.users.get_user_by_name("ada") is None
        and seeded.users.get_user_by_name("bob") is not None
    )
    assert c.get("/profile", follow_redirects=False).status_code in (302, 303)
    assert other.get("/profile").status_code == 200  # bob is still logged in
