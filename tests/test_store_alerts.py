"""Lifecycle events detected where a record merges into a stored paper, fanned out to the users who
authored, collected or upvoted it; each alert shown and mailed once (both backends)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from paperfeed.core.models import Paper
from paperfeed.store import Store
from paperfeed.store.alert_schema import alert_deliveries, paper_events

V1 = Paper(
    title="Sparse Mixtures of Experts at Scale",
    abstract="We study experts.",
    arxiv_id="2503.01234",
    version=1,
    authors=("Ada Lovelace",),
    categories=("cs.LG",),
    published=date(2025, 3, 3),
    source="arxiv-api",
)


def _v(version: int, **more: object) -> Paper:
    fields = {**V1.__dict__, "version": version, **more}
    return Paper(**fields)


def _events(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return [
            (k, key)
            for k, key in conn.execute(
                select(paper_events.c.kind, paper_events.c.key).order_by(paper_events.c.id)
            )
        ]


def test_first_ingest_is_no_event_and_a_merge_is(store: Store) -> None:
    # a new paper, even in two versions at once, is not news
    store.papers.upsert_papers([V1, _v(2)])
    assert _events(store) == []
    paper = store.papers.get_paper_by_arxiv("2503.01234")
    assert paper is not None and paper.id is not None
    store.papers.upsert_papers(
        [
            _v(
                3,
                code_url="https://github.com/ada/moe",
                doi="10.1000/moe.1",
                journal_ref="JMLR 26 (2025)",
            )
        ]
    )
    assert _events(store) == [
        ("new_version", "3"),
        ("code_link", "https://github.com/ada/moe"),
        ("journal_ref", "10.1000/moe.1"),
    ]
    # The same record again, an older version, a changed code link: nothing new.
    store.papers.upsert_papers([_v(3, code_url="https://github.com/ada/moe", doi="10.1000/moe.1")])
    store.papers.upsert_papers([_v(2)])
    store.papers.upsert_papers([_v(3, code_url="https://github.com/ada/moe-v2")])
    assert len(_events(store)) == 3
    assert [k for k, _, _ in store.alerts.paper_events(paper.id)] == [
        "new_version",
        "code_link",
        "journal_ref",
    ]


def test_code_link_from_text_and_journal_ref_without_doi(store: Store) -> None:
    store.papers.upsert_papers([V1])
    store.papers.upsert_papers(
        [
            _v(2, comment="Code: https://github.com/ada/sparse-moe. Accepted at ICML 2025"),
            Paper(title="Another paper", arxiv_id="2503.09999", version=1, source="jsonl"),
        ]
    )
    store.papers.upsert_papers([_v(2, journal_ref="Proc. ICML 2025")])
    assert _events(store) == [
        ("new_version", "2"),
        ("code_link", "https://github.com/ada/sparse-moe"),
        ("journal_ref", "Proc. ICML 2025"),
    ]


def test_alerts_reach_who_upvoted_collected_or_authored_once(store: Store) -> None:
    store.papers.upsert_papers([V1])
    pid = store.papers.get_paper_by_arxiv("2503.01234").id  # type: ignore[union-attr]
    assert pid is not None
    voter = store.users.create_user("ada", "ada@example.org", "h")
    collector = store.users.create_user("bob", "bob@example.org", "h")
    author = store.users.create_user("cy", "cy@example.org", "h")
    stranger = store.users.create_user("dee", "dee@example.org", "h")
    store.votes.add_vote(voter.id, pid)
    store.votes.add_vote(collector.id, pid)
    coll = store.collections.create_collection(collector.id, "Reading")
    store.collections.add_to_collection(collector.id, coll.id, pid)
    store.authors.add_claim(pid, author.id, "Ada Lovelace", "confirmed", "admin")
    store.papers.upsert_papers([_v(2, doi="10.1000/x")])
    mine = store.alerts.alerts([voter.id])
    assert [(a.kind, a.key, a.why) for a in mine] == [
        ("journal_ref", "10.1000/x", "upvoted"),
        ("new_version", "2", "upvoted"),
    ]
    # once, the closest tie
    assert {a.why for a in store.alerts.alerts([collector.id])} == {"collected"}
    assert len(store.alerts.alerts([collector.id])) == 2
    assert {a.why for a in store.alerts.alerts([author.id])} == {"authored"}
    assert store.alerts.alerts([stranger.id]) == []
    # Shown once: the second mark adds nothing; the key refuses a duplicate row outright.
    assert store.alerts.unread_alert_count(voter.id) == 2
    assert store.alerts.mark_alerts(voter.id, [a.event_id for a in mine], "web") == 2
    assert store.alerts.mark_alerts(voter.id, [a.event_id for a in mine], "web") == 0
    assert (
        store.alerts.unread_alert_count(voter.id) == 0
        and store.alerts.unread_alert_count(collector.id) == 2
    )
    assert all(a.seen and not a.mailed for a in store.alerts.alerts([voter.id]))
    assert store.alerts.alerts([voter.id], not_on="web") == []
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            insert(alert_deliveries).values(
                user_id=voter.id,
                event_id=mine[0].event_id,
                channel="web",
                created_at=datetime.now(UTC),
            )
        )
    with (
        pytest.raises(IntegrityError),
        store.engine.begin() as conn,
    ):  # one event per (paper, kind, key)
        conn.execute(
            insert(paper_events).values(
                paper_id=pid, kind="new_version", key="2", created_at=datetime.now(UTC)
            )
        )


def test_events_before_the_tie_are_no_alert(store: Store) -> None:
    store.papers.upsert_papers([V1])
    pid = store.papers.get_paper_by_arxiv("2503.01234").id  # type: ignore[union-attr]
    store.papers.upsert_papers([_v(2)], now=datetime.now(UTC) - timedelta(days=3))
    user = store.users.create_user("ada", "ada@example.org", "h")
    store.votes.add_vote(user.id, pid or 0)
    assert store.alerts.alerts([user.id]) == []
    store.papers.upsert_papers([_v(3)])
    assert [a.key for a in store.alerts.alerts([user.id])] == ["3"]


def test_migration_0009_enables_the_section_and_steps_down(store_url: str) -> None:
    from sqlalchemy import text

    from paperfeed.store import open_store

    s = open_store(store_url, migrate=False)
    try:
        s.migrate("0008")
        now = datetime(2025, 1, 1, tzinfo=UTC)
        with s.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (username, email, password_hash, created_at) "
                    "VALUES ('ada', 'ada@example.org', 'h', :n)"
                ),
                {"n": now},
            )
            conn.execute(
                text(
                    "INSERT INTO subscriptions (user_id, sections, created_at, updated_at) "
                    'VALUES (1, \'["trending", "discussion"]\', :n, :n)'
                ),
                {"n": now},
            )
        s.migrate()
        assert s.subscriptions.get_subscription(1).sections == (  # type: ignore[union-attr]
            "trending",
            "discussion",
            "alerts",
            "rising",
        )
        s.papers.upsert_papers([V1])
        s.papers.upsert_papers([_v(2)])
        assert _events(s) == [("new_version", "2")]
        s.downgrade("0008")
        with s.engine.connect() as conn:
            raw = conn.execute(text("SELECT sections FROM subscriptions")).scalar_one()
            assert (
                "alerts" not in raw
                and "rising" not in raw
                and "paper_events" not in s.engine.dialect.get_table_names(conn)
            )
        s.migrate()
        assert s.check() == []
    finally:
        s.close()


def test_a_digest_records_its_alerts_mailed_and_a_failed_one_gives_them_back(store: Store) -> None:
    from paperfeed.store.digests import ComposedDigest

    store.papers.upsert_papers([V1])
    pid = store.papers.get_paper_by_arxiv("2503.01234").id  # type: ignore[union-attr]
    user = store.users.create_user("ada", "ada@example.org", "h")
    store.votes.add_vote(user.id, pid or 0)
    store.papers.upsert_papers([_v(2)])
    events = [a.event_id for a in store.alerts.alerts([user.id], not_on="email")]
    now = datetime.now(UTC)
    for period, status in (("d:2026-01-01", "failed"), ("d:2026-01-02", "sent")):
        won = store.deliveries.claim_compose([(user.id, period)], "me", now)
        item: dict[str, object] = {
            "paper_id": pid,
            "section": "alerts",
            "reason": "New version v2",
            "events": events,
        }
        store.deliveries.finish_compose(
            [
                ComposedDigest(
                    won[user.id], user.id, [item], f"<{period}@x>", user.email, None, now, 0
                )
            ],
            "me",
        )
        assert (
            store.alerts.alerts([user.id], not_on="email") == []
            and store.alerts.alerts([user.id])[0].mailed
        )
        assert store.deliveries.claim_send(won[user.id], "me", now)
        store.deliveries.finish_send(won[user.id], "me", status)
        left = store.alerts.alerts([user.id], not_on="email")
        assert [a.event_id for a in left] == (events if status == "failed" else [])
