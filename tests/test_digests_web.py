"""Subscription pages, the subscriptions API, one-click unsubscribe (RFC 8058) and feedback
links."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from paperfeed.core.errors import NotFound
from paperfeed.core.settings import Settings
from paperfeed.delivery.common.secret_key import resolve_secret_key
from paperfeed.delivery.mail.tokens import feedback_token, unsubscribe_token
from paperfeed.store import Store
from tests.web_fixtures import SAMPLE, make_app, page_csrf, signup


def _client(settings: Settings, store: Store) -> TestClient:
    client = make_app(settings, store)  # the real app: digest routes are part of it
    # mounted, wants a login
    assert client.get("/subscriptions", follow_redirects=False).status_code == 303
    assert 'href="/subscriptions"' in client.get("/").text  # and in the header
    return client


def test_settings_page_and_forms(settings: Settings, store: Store) -> None:
    client = _client(settings, store)
    assert client.get("/subscriptions", follow_redirects=False).status_code == 303  # log in first
    signup(client, "alice")
    uid = store.users.get_user_by_name("alice").id  # type: ignore[union-attr]
    page = client.get("/subscriptions")
    assert page.status_code == 200 and "Saved searches" in page.text
    csrf = page_csrf(client, "/subscriptions")
    r = client.post(
        "/subscriptions",
        data={
            "csrf_token": csrf,
            "frequency": "weekly",
            "send_hour": "9",
            "weekday": "2",
            "timezone": "Europe/Berlin",
            "max_papers": "15",
            "active": "1",
            "sections": ["searches", "recommended"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    sub = store.subscriptions.get_subscription(uid)
    assert sub is not None and (sub.frequency, sub.weekday, sub.timezone, sub.sections) == (
        "weekly", 2, "Europe/Berlin", ("searches", "recommended"))
    bad = client.post("/subscriptions", data={"csrf_token": csrf, "timezone": "Nowhere/Land"})
    assert bad.status_code == 400 and "time zone" in bad.text
    # no CSRF token
    assert client.post("/subscriptions", data={"frequency": "daily"}).status_code == 403
    client.post(
        "/subscriptions/searches",
        data={"csrf_token": csrf, "query": '"diffusion model" -video', "name": "Diff"},
    )
    client.post(
        "/subscriptions/follow",
        data={"csrf_token": csrf, "kind": "author", "value": "Ada Lovelace"},
    )
    assert [s.name for s in store.subscriptions.saved_searches(uid)] == [
        "Diff"
    ] and store.subscriptions.followed(uid, "author") == ["Ada Lovelace"]
    text = client.get("/subscriptions").text
    assert "Diff" in text and "Ada Lovelace" in text
    sid = store.subscriptions.saved_searches(uid)[0].id
    client.post(f"/subscriptions/searches/{sid}/delete", data={"csrf_token": csrf})
    client.post(
        "/subscriptions/unfollow",
        data={"csrf_token": csrf, "kind": "author", "value": "Ada Lovelace"},
    )
    assert (
        store.subscriptions.saved_searches(uid) == []
        and store.subscriptions.followed(uid, "author") == []
    )


def test_api(settings: Settings, store: Store) -> None:
    client = _client(settings, store)
    assert client.get("/api/v1/subscriptions").status_code == 401
    signup(client, "bob")
    headers = {"X-CSRF-Token": page_csrf(client)}
    r = client.put(
        "/api/v1/subscriptions",
        json={"frequency": "daily", "send_hour": 6, "sections": ["trending"]},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["subscription"]["sections"] == ["trending"]
    assert (
        client.put("/api/v1/subscriptions", json={"send_hour": 30}, headers=headers).status_code
        == 400
    )
    # session without CSRF
    assert client.put("/api/v1/subscriptions", json={"send_hour": 5}).status_code == 403
    r = client.post(
        "/api/v1/subscriptions/searches",
        json={"query": "graph neural", "category": "cs.LG"},
        headers=headers,
    )
    assert r.status_code == 201
    sid = r.json()["id"]
    assert client.post("/api/v1/subscriptions/follows", json={"kind": "category", "value": "cs.CL"},
                       headers=headers).status_code == 201
    got = client.get("/api/v1/subscriptions").json()
    assert got["categories"] == ["cs.CL"] and got["searches"][0]["query"] == "graph neural"
    assert (
        client.delete(f"/api/v1/subscriptions/searches/{sid}", headers=headers).status_code == 204
    )
    assert (
        client.delete(f"/api/v1/subscriptions/searches/{sid}", headers=headers).status_code == 404
    )
    assert (
        client.delete(
            "/api/v1/subscriptions/follows",
            params={"kind": "category", "value": "cs.CL"},
            headers=headers,
        ).status_code
        == 204
    )
    store.papers.upsert_papers(SAMPLE)
    pid = store.papers.get_paper_by_arxiv("2501.00001").id  # type: ignore[union-attr]
    assert client.post("/api/v1/subscriptions/feedback", json={"paper_id": pid, "signal": -1},
                       headers=headers).json() == {"paper_id": pid, "signal": -1}
    assert client.get("/api/v1/subscriptions/preview").status_code == 200
    assert client.get("/api/v1/subscriptions/deliveries").json() == []


def test_one_click_unsubscribe_and_feedback_links(settings: Settings, store: Store) -> None:
    client = _client(settings, store)
    secret = resolve_secret_key(settings)
    user = store.users.create_user("carol", "carol@example.org", "x")
    store.subscriptions.save_subscription(user.id)
    token = unsubscribe_token(secret, user)
    page = client.get("/unsubscribe", params={"t": token})
    assert page.status_code == 200 and "Unsubscribe" in page.text
    assert store.subscriptions.get_subscription(user.id).active  # type: ignore[union-attr]  # a GET changes nothing
    # RFC 8058: a POST with List-Unsubscribe=One-Click, no cookies, no CSRF token
    fresh = _client(settings, store)
    r = fresh.post("/unsubscribe", params={"t": token}, content=b"List-Unsubscribe=One-Click",
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and "unsubscribed" in r.text
    assert not store.subscriptions.get_subscription(user.id).active  # type: ignore[union-attr]
    assert fresh.post("/unsubscribe", params={"t": token[:-4] + "AAAA"}).status_code == 400
    store.papers.upsert_papers(SAMPLE)
    paper = store.papers.get_paper_by_arxiv("2501.00002")
    assert paper is not None and paper.id is not None
    pid = paper.id
    less = feedback_token(secret, user, pid)
    # a GET asks, records nothing (mail scanners)
    r = fresh.get("/feedback", params={"t": less, "s": "-1"})
    assert (
        r.status_code == 200
        and "Fewer papers like this?" in r.text
        and store.subscriptions.feedback(user.id) == {}
    )
    r = fresh.post("/feedback", data={"t": less, "s": "-1"})
    assert (
        r.status_code == 200
        and "fewer" in r.text
        and store.subscriptions.feedback(user.id) == {pid: -1}
    )
    r = fresh.post("/feedback", data={"t": less, "s": "0"})
    assert r.status_code == 200 and store.subscriptions.feedback(user.id) == {}
    assert fresh.get("/feedback", params={"t": unsubscribe_token(secret, user)}).status_code == 400
    assert fresh.get("/feedback", params={"t": less, "s": "7"}).status_code == 400
    r = fresh.post("/feedback", data={"t": less, "s": "1"})
    assert "more papers like" in r.text and store.subscriptions.feedback(user.id) == {pid: 1}


def test_admin_log_is_for_admins(settings: Settings, store: Store) -> None:
    client = _client(settings, store)
    signup(client, "dave")
    assert client.get("/admin/digests").status_code == 403
    assert store.users.set_admin("DAVE").is_admin  # names are case-insensitive
    r = client.get("/admin/digests")
    assert r.status_code == 200 and "Digest deliveries" in r.text
    store.users.set_admin("dave", False)
    assert client.get("/admin/digests").status_code == 403
    with pytest.raises(NotFound):
        store.users.set_admin("nobody")
