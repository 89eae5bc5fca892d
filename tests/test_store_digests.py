"""The digest tables: subscriptions, saved searches, follows, feedback, the delivery log and
leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import Paper
from paperfeed.store import Store
from paperfeed.store.digests import ComposedDigest


def _user(store: Store, name: str = "ann") -> int:
    return store.users.create_user(name, f"{name}@example.org", "x").id


def test_subscription_defaults_validation_and_update(store: Store) -> None:
    uid = _user(store)
    assert store.subscriptions.get_subscription(uid) is None
    sub = store.subscriptions.save_subscription(uid)
    assert (sub.frequency, sub.send_hour, sub.timezone, sub.max_papers, sub.active) == (
        "daily",
        7,
        "UTC",
        20,
        True,
    )
    sub = store.subscriptions.save_subscription(
        uid, frequency="weekly", weekday=4, timezone="Asia/Tokyo", sections=("searches",)
    )
    assert (sub.frequency, sub.weekday, sub.timezone, sub.sections) == (
        "weekly",
        4,
        "Asia/Tokyo",
        ("searches",),
    )
    # the rules are the use case's (test_delivery_subscriptions)
    with pytest.raises(TypeError, match="colour"):
        store.subscriptions.save_subscription(uid, colour="red")
    assert store.subscriptions.set_subscription_active(uid, False)
    assert store.subscriptions.get_subscription(uid).active is False  # type: ignore[union-attr]
    assert store.subscriptions.active_subscribers() == []
    with pytest.raises(NotFound):
        store.subscriptions.save_subscription(9999)


def test_saved_searches_and_follows_belong_to_their_owner(store: Store) -> None:
    a, b = _user(store, "ann"), _user(store, "ben")
    s = store.subscriptions.add_saved_search(a, "  diffusion   models ", category="cs.CV")
    assert (s.name, s.query, s.category) == ("diffusion models", "diffusion models", "cs.CV")
    with pytest.raises(BadRequest):
        store.subscriptions.add_saved_search(a, "")
    with pytest.raises(NotFound):
        store.subscriptions.delete_saved_search(b, s.id)  # not ben's
    store.subscriptions.delete_saved_search(a, s.id)
    assert store.subscriptions.saved_searches(a) == []
    assert store.subscriptions.follow(a, "category", "cs.CL") and not store.subscriptions.follow(
        a, "category", "cs.CL"
    )
    assert store.subscriptions.follow(a, "author", "Ada  Lovelace")
    assert (
        store.subscriptions.followed(a, "author") == ["Ada Lovelace"]
        and store.subscriptions.followed(b, "author") == []
    )
    assert store.subscriptions.unfollow(
        a, "category", "cs.CL"
    ) and not store.subscriptions.unfollow(a, "category", "cs.CL")
    with pytest.raises(BadRequest):
        store.subscriptions.follow(a, "planet", "x")
    for bad_call in (
        lambda: store.subscriptions.follow(a, "author", "\x00"),
        lambda: store.subscriptions.add_saved_search(a, "x\x00y"),
        lambda: store.subscriptions.add_saved_search(a, "x", author="A\x00"),
    ):
        with pytest.raises(BadRequest, match="NUL|time zone"):
            bad_call()
    assert not store.subscriptions.unfollow(a, "author", "\x00")
    assert store.subscriptions.followed(a, "author") == ["Ada Lovelace"]  # nothing stored was lost


def test_feedback_set_flip_clear(store: Store) -> None:
    uid = _user(store)
    store.papers.upsert_papers([Paper(title="P", arxiv_id="2501.00001", version=1)])
    paper = store.papers.get_paper_by_arxiv("2501.00001")
    assert paper is not None and paper.id is not None
    pid = paper.id
    store.subscriptions.set_feedback(uid, pid, 1)
    store.subscriptions.set_feedback(uid, pid, -1)
    assert store.subscriptions.feedback(uid) == {pid: -1}
    store.subscriptions.set_feedback(uid, pid, 0)
    assert store.subscriptions.feedback(uid) == {}
    with pytest.raises(NotFound):
        store.subscriptions.set_feedback(uid, 12345, 1)


def test_one_delivery_per_user_and_period_and_claims(store: Store) -> None:
    uid = _user(store)
    store.subscriptions.save_subscription(uid)
    store.papers.upsert_papers(
        [Paper(title=f"P{i}", arxiv_id=f"2501.0000{i}", version=1) for i in range(1, 4)]
    )
    now = datetime(2026, 3, 10, 8, tzinfo=UTC)
    won = store.deliveries.claim_compose([(uid, "d:2026-03-10")], "h1", now)
    assert list(won) == [uid]
    # UNIQUE (user, period)
    assert store.deliveries.claim_compose([(uid, "d:2026-03-10")], "h2", now) == {}
    did = won[uid]
    item = {"paper_id": 1, "section": "trending", "reason": "r"}
    res = ComposedDigest(
        delivery_id=did,
        user_id=uid,
        items=[item],
        message_id="<m@x>",
        recipient="ann@example.org",
        window_start=now - timedelta(days=1),
        window_end=now,
        gap_days=0,
    )
    assert store.deliveries.finish_compose([res], "someone-else") == 0  # not the holder
    assert store.deliveries.finish_compose([res], "h1") == 1
    assert store.deliveries.get_delivery(did).status == "ready"  # type: ignore[union-attr]
    assert [d.id for d in store.deliveries.due_deliveries(now)] == [did]
    assert store.deliveries.claim_send(did, "s1", now) and not store.deliveries.claim_send(
        did, "s2", now
    )
    with store.deliveries.marker() as marker:
        with pytest.raises(LookupError):
            marker.mark_data_end(did, "s2")
        marker.mark_data_end(did, "s1")
    assert store.deliveries.finish_send(did, "s1", "sent")
    d = store.deliveries.get_delivery(did)
    assert d is not None and d.status == "sent" and d.attempts == 1 and d.sent_at is not None
    prof = store.deliveries.digest_profiles(store.subscriptions.active_subscribers(), since=None)[
        uid
    ]
    assert prof.sent_recently == {1} and prof.last_window_end == now


def test_delivery_log_names_the_valid_states(store: Store) -> None:
    with pytest.raises(BadRequest, match="valid: composing, ready"):
        store.deliveries.delivery_log(status="bogus")
    assert store.deliveries.delivery_log(status="failed") == []


def test_recover_stale_claims(store: Store) -> None:
    now = datetime(2026, 3, 10, 8, tzinfo=UTC)
    ids = []
    for name in ("a1", "a2", "a3"):
        uid = _user(store, name)
        ids.append(store.deliveries.claim_compose([(uid, "d:2026-03-10")], "dead", now)[uid])
    base = {
        "message_id": "<m@x>",
        "recipient": "r@x.org",
        "window_start": None,
        "window_end": now,
        "gap_days": 0,
    }
    # ids[0] stays composing; ids[1] is being sent; ids[2] reached the end of DATA
    for did in ids[1:]:
        store.deliveries.finish_compose(
            [ComposedDigest(delivery_id=did, user_id=did, items=[], **base)], "dead"  # type: ignore[arg-type]
        )
    from paperfeed.store.schema import digest_deliveries

    with store.engine.begin() as conn:
        conn.execute(digest_deliveries.update().where(digest_deliveries.c.id == ids[1])
                     .values(status="sending", claimed_by="dead"))
        conn.execute(digest_deliveries.update().where(digest_deliveries.c.id == ids[2])
                     .values(status="data_end", claimed_by="dead"))
    assert store.deliveries.recover_stale(lambda holder, at: holder == "alive") == {
        "composing": 0,
        "sending": 0,
        "data_end": 0,
    }
    assert store.deliveries.recover_stale(lambda holder, at: holder == "dead") == {
        "composing": 1,
        "sending": 1,
        "data_end": 1,
    }
    assert store.deliveries.get_delivery(ids[0]) is None  # recomposed by the next run
    assert store.deliveries.get_delivery(ids[1]).status == "retry"  # type: ignore[union-attr]
    assert store.deliveries.get_delivery(ids[2]).status == "unconfirmed"  # type: ignore[union-attr]


def test_leases(store: Store) -> None:
    assert store.leases.acquire_lease("ingest", "a", 60)
    assert not store.leases.acquire_lease("ingest", "b", 60)
    assert store.leases.acquire_lease("ingest", "a", 60)  # renew
    store.leases.release_lease("ingest", "a", ran=True)
    assert store.leases.lease_last_run("ingest") is not None
    assert store.leases.acquire_lease("ingest", "b", 60)


def test_migration_0004_down_and_up(store: Store) -> None:
    uid = _user(store)
    store.subscriptions.save_subscription(uid)
    store.downgrade("0003")
    store.migrate()
    assert (
        store.subscriptions.get_subscription(uid) is None and store.users.get_user(uid) is not None
    )
