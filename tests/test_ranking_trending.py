"""Trending: the HN-style gravity formula, checked on its own and on real Hugging Face upvotes."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from paperfeed.core.models import Paper
from paperfeed.ranking.trending import (
    TrendingParams,
    age_hours,
    order_by_votes,
    rank_trending,
    reference_time,
    trending_score,
    window_start,
)
from paperfeed.store import Store
from tests.conftest import shared_file
from tests.web_fixtures import hf_daily_papers

NOW = datetime(2026, 2, 21, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class V:
    paper_id: int
    day: date
    external_upvotes: int
    votes: int = 0


def test_fresher_paper_with_equal_votes_ranks_higher() -> None:
    items = [V(1, date(2026, 2, 18), 10), V(2, date(2026, 2, 20), 10), V(3, date(2026, 2, 19), 10)]
    assert [r.paper_id for r in rank_trending(items, NOW)] == [2, 3, 1]


def test_more_votes_same_age_ranks_higher_and_votes_add_up() -> None:
    day = date(2026, 2, 20)
    items = [V(1, day, 5), V(2, day, 3, votes=3), V(3, day, 7)]
    ranked = rank_trending(items, NOW)
    assert [r.paper_id for r in ranked] == [3, 2, 1]
    assert ranked[1].upvotes == 6 and ranked[1].points == 6


def test_score_decays_with_age_and_gravity() -> None:
    p = TrendingParams(gravity=1.8, offset_hours=2.0)
    scores = [trending_score(100, h, p) for h in (0, 1, 10, 100, 1000)]
    assert scores == sorted(scores, reverse=True)
    assert trending_score(100, 0, p) == 100 / 2**1.8
    steep = TrendingParams(gravity=3.0)
    assert trending_score(100, 48, steep) / trending_score(100, 0, steep) < trending_score(
        100, 48, p
    ) / trending_score(100, 0, p)


def test_old_paper_needs_many_more_votes() -> None:
    # A day-old paper with 10 votes beats a week-old one with 50 (gravity 1.8).
    items = [V(1, date(2026, 2, 14), 50), V(2, date(2026, 2, 20), 10)]
    assert rank_trending(items, NOW)[0].paper_id == 2


def test_zero_points_tie_broken_by_freshness_then_id() -> None:
    items = [V(1, date(2026, 2, 19), 0), V(2, date(2026, 2, 20), 0), V(3, date(2026, 2, 20), 0)]
    assert [r.paper_id for r in rank_trending(items, NOW)] == [3, 2, 1]


def test_external_weight() -> None:
    day = date(2026, 2, 20)
    items = [V(1, day, 10, votes=0), V(2, day, 0, votes=6)]
    assert rank_trending(items, NOW)[0].paper_id == 1
    assert rank_trending(items, NOW, TrendingParams(external_weight=0.5))[0].paper_id == 2


def test_reference_time_and_window() -> None:
    assert reference_time(NOW, date(2026, 2, 25)) == NOW
    stale = reference_time(NOW, date(2024, 4, 1))
    assert stale == datetime(2024, 4, 2, tzinfo=UTC)
    assert reference_time(NOW, None) == NOW
    assert age_hours(date(2026, 2, 21), NOW) == 12.0
    assert age_hours(date(2026, 2, 22), NOW) == 0.0  # a future day never gets a negative age
    assert window_start(NOW, TrendingParams(window_days=14)) == date(2026, 2, 7)


def test_order_by_votes() -> None:
    items = [
        V(1, date(2026, 2, 19), 5),
        V(2, date(2026, 2, 20), 5),
        V(3, date(2026, 2, 18), 9, votes=1),
    ]
    assert [v.paper_id for v in order_by_votes(items)] == [3, 2, 1]


def test_on_real_hugging_face_upvotes(store: Store) -> None:
    papers = hf_daily_papers(shared_file("hf-daily/hf-daily-2026-02.jsonl"))
    store.papers.upsert_papers(papers)
    rows = store.votes.paper_votes()
    assert len(rows) > 700 and sum(r.external_upvotes for r in rows) > 10_000
    days = store.papers.paper_days()
    ref = reference_time(datetime.now(UTC), days[0])
    assert ref == datetime.combine(days[0] + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    params = TrendingParams()
    ranked = rank_trending(rows, ref, params)
    by_id = {r.paper_id: r for r in rows}
    position = {r.paper_id: i for i, r in enumerate(ranked)}
    # Scores are sorted, and within one day trending is exactly "most upvoted first".
    assert all(a.score >= b.score for a, b in itertools.pairwise(ranked))
    for day in days:
        same_day = [r for r in ranked if by_id[r.paper_id].day == day]
        ups = [r.upvotes for r in same_day]
        assert ups == sorted(ups, reverse=True), day
    # Equal votes: the fresher paper always ranks higher.
    pairs = 0
    for a in rows:
        for b in rows:
            if a.external_upvotes == b.external_upvotes and a.day > b.day:
                pairs += 1
                assert position[a.paper_id] < position[b.paper_id]
    assert pairs > 100
    # Decay matters on real data: some paper outranks an older one with more upvotes.
    overtakes = sum(
        1
        for a in ranked[:50]
        for b in ranked
        if by_id[a.paper_id].day > by_id[b.paper_id].day
        and a.upvotes < b.upvotes
        and position[a.paper_id] < position[b.paper_id]
    )
    assert overtakes > 0
    # The newest day's most upvoted paper is near the top; the all-time most upvoted old paper is
    # not first.
    newest_best = max((r for r in rows if r.day == days[0]), key=lambda r: r.external_upvotes)
    assert position[newest_best.paper_id] < 10
    most = max(rows, key=lambda r: r.external_upvotes)
    if most.day < days[0] - timedelta(days=7):
        assert position[most.paper_id] > 0


def test_on_older_hugging_face_dump(store: Store) -> None:
    data = json.loads(
        shared_file("hf-daily/hf-daily-2023-12_2024-04.json").read_text(encoding="utf-8")
    )
    papers = []
    for arxiv_id, rec in data.items():
        day = date.fromisoformat(str(rec["publication_date"])[:10])
        papers.append(
            Paper(
                title=rec["title"],
                abstract=rec.get("abstract") or "",
                arxiv_id=arxiv_id,
                authors=tuple(rec.get("authors") or ()),
                featured_on=day,
                published=day,
                external_upvotes=int(rec.get("upvotes") or 0),
                source="hf-daily",
            )
        )
    store.papers.upsert_papers(papers)
    days = store.papers.paper_days()
    ref = reference_time(datetime.now(UTC), days[0])
    params = TrendingParams(window_days=14)
    rows = store.votes.paper_votes(since=window_start(ref, params))
    ranked = rank_trending(rows, ref, params)
    assert ranked and all(by.day >= window_start(ref, params) for by in rows)
    # The stale dump still ranks sensibly: scores are not flattened to ~0 by a 2-year age.
    assert ranked[0].score > 0.01 and ranked[0].age_hours <= 24 * 15
