"""Upvote velocity from the readings the followed sources keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from paperfeed.core.models import Paper
from paperfeed.ranking.velocity import rank_rising, velocity
from paperfeed.store import Store

NOW = datetime(2026, 2, 10, 12, tzinfo=UTC)


def test_velocity_counts_only_the_window() -> None:
    readings = [(NOW - timedelta(hours=60), 2), (NOW - timedelta(hours=30), 5), (NOW - timedelta(hours=6), 17)]
    assert velocity(readings, NOW, 24) == 12.0  # 5 before the window, 17 inside
    assert velocity(readings, NOW, 48) == 7.5  # (17 - 2) per 48 h, as per day
    assert velocity(readings[:2], NOW, 24) == 0.0  # nothing read inside the window
    assert velocity([], NOW) == 0.0


def test_gains_from_stored_history_rank_rising(store: Store) -> None:
    day1, day2 = NOW - timedelta(days=2), NOW - timedelta(hours=1)
    store.papers.upsert_papers([Paper(title="Slow", arxiv_id="2602.00001", external_upvotes=50, source="hf-daily"),
                         Paper(title="Fast", arxiv_id="2602.00002", external_upvotes=3, source="hf-daily")], now=day1)
    store.papers.upsert_papers([Paper(title="Slow", arxiv_id="2602.00001", external_upvotes=52, source="hf-daily"),
                         Paper(title="Fast", arxiv_id="2602.00002", external_upvotes=40, source="hf-daily")], now=day2)
    slow, fast = (store.papers.get_paper_by_arxiv(i) for i in ("2602.00001", "2602.00002"))
    assert slow and fast and slow.id and fast.id
    assert [u for _, u, _ in store.sources.upvote_history(fast.id)] == [3, 40]
    gains = store.sources.upvote_gains(since=NOW - timedelta(days=1))
    assert gains == {slow.id: 2, fast.id: 37}
    assert [r.paper_id for r in rank_rising(gains, 24)] == [fast.id, slow.id]  # the total alone says Slow
