"""Digest selection: periods in the user's time zone, windows and gaps, saved searches (the search
engine), sections."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from paperfeed.core.models import Paper, Subscription
from paperfeed.core.settings import Settings
from paperfeed.index import SearchIndex, open_search_index
from paperfeed.ranking.digest import (
    CandidatePool,
    Interests,
    Pick,
    SearchSpec,
    current_period,
    digest_window,
    period_label,
    select_digest,
)
from paperfeed.ranking.search import search_papers
from paperfeed.store import Store

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _p(
    pid: int,
    title: str,
    abstract: str = "",
    authors: tuple[str, ...] = ("A B",),
    cats: tuple[str, ...] = ("cs.LG",),
    hours_ago: float = 2,
    up: int = 0,
) -> Paper:
    return Paper(
        id=pid,
        title=title,
        abstract=abstract,
        authors=authors,
        categories=cats,
        published=date(2026, 3, 10),
        external_upvotes=up,
        first_seen_at=NOW - timedelta(hours=hours_ago),
    )


POOL = [
    _p(
        1,
        "Diffusion models for video",
        "A video diffusion model.",
        ("Ada Lovelace", "Bo Li"),
        ("cs.CV",),
        up=5,
    ),
    _p(
        2,
        "Language models reason",
        "Large language models and chain of thought.",
        ("Alan Turing",),
        ("cs.CL",),
        up=50,
    ),
    _p(
        3,
        "Graph neural networks",
        "Message passing for molecules.",
        ("Marie Curie",),
        ("cs.LG", "q-bio.BM"),
    ),
    _p(
        4,
        "Diffusion language models",
        "A discrete diffusion model for text.",
        ("Bo Li",),
        ("cs.CL",),
        up=1,
    ),
    _p(5, "Old paper on diffusion", "Diffusion.", ("X Y",), ("cs.CV",), hours_ago=60),
    _p(6, "Schölkopf kernels", "Kernel methods, revisited.", ("Bernhard Schölkopf",), ("stat.ML",)),
]


def test_periods_follow_the_users_time_zone() -> None:
    berlin = Subscription(user_id=1, frequency="daily", send_hour=7, timezone="Europe/Berlin")
    # 00:30 on the 10th in Berlin
    p = current_period(berlin, datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    assert p.key == "d:2026-03-10" and p.due_at == datetime(2026, 3, 10, 6, tzinfo=UTC)
    assert not p.is_due(datetime(2026, 3, 10, 5, 59, tzinfo=UTC)) and p.is_due(
        datetime(2026, 3, 10, 6, tzinfo=UTC)
    )
    weekly = Subscription(user_id=1, frequency="weekly", send_hour=9, timezone="America/New_York")
    w = current_period(weekly, datetime(2026, 3, 11, 15, tzinfo=UTC), weekday=2)  # a Wednesday
    assert w.key == "w:2026-W11" and w.due_at == datetime(2026, 3, 11, 13, tzinfo=UTC)
    assert (
        period_label("d:2026-03-10") == "Tuesday 10 March 2026"
        and period_label("w:2026-W11") == "week 11 of 2026"
    )
    odd = Subscription(user_id=1, frequency="daily", timezone="Not/AZone")
    assert current_period(odd, NOW).key == "d:2026-03-10"


def test_window_starts_at_previous_digest_and_reports_gaps() -> None:
    day = current_period(Subscription(user_id=1, frequency="daily"), NOW)
    assert digest_window(None, NOW, day, 14) == (NOW - timedelta(days=1), 0)
    assert digest_window(NOW - timedelta(hours=25), NOW, day, 14) == (NOW - timedelta(hours=25), 0)
    start, gap = digest_window(NOW - timedelta(days=4), NOW, day, 14)
    assert start == NOW - timedelta(days=4) and gap == 4
    start, gap = digest_window(NOW - timedelta(days=40), NOW, day, 14)
    assert start == NOW - timedelta(days=14) and gap == 40


@pytest.fixture
def indexed(settings: Settings, store: Store) -> tuple[CandidatePool, SearchIndex, dict[int, int]]:
    """The pool's papers stored and indexed; the pool over the stored papers; test id -> stored
    id."""
    store.papers.upsert_papers([replace(p, id=None) for p in POOL])
    stored = {
        p.title: p
        for p in store.deliveries.papers_first_seen(None, datetime.now(UTC) + timedelta(days=1))
    }
    ids = {p.id or 0: stored[p.title].id or 0 for p in POOL}
    papers = [
        replace(stored[p.title], first_seen_at=p.first_seen_at, external_upvotes=p.external_upvotes)
        for p in POOL
    ]
    index = open_search_index(settings, store)
    index.build(embed=False)
    return CandidatePool(papers, {ids[2]: 3}, NOW), index, ids


def test_saved_search_is_the_search_engine_over_the_window(
        indexed: tuple[CandidatePool, SearchIndex, dict[int, int]]) -> None:
    pool, index, ids = indexed
    back = {v: k for k, v in ids.items()}
    allowed = pool.window_mask(NOW - timedelta(days=1), NOW)

    def found(q: str, **kw: str) -> list[int]:
        picks = select_digest(
            pool,
            Interests(searches=[SearchSpec("s", q, **kw)]),
            allowed,
            ("searches",),
            10,
            index=index,
        )
        got = [back[p.paper_id] for p in picks]
        # the same papers, in the same order, as /search restricted to the window's papers
        same = search_papers(index, q, k=10, within=pool.ids[allowed], category=kw.get("category"))
        assert got == [back[h.paper_id] for h in same.hits]
        return got

    assert set(found("diffusion")) == {1, 4}  # 5 is older than the window
    assert found("diffusion -video") == [4]
    assert found('"large language models"') == [2] and set(found('"language models"')) == {2, 4}
    # ranked as /search ranks: any query word matches, the paper with both first
    assert found("diffusion model", category="cs.CL") == [4, 2]
    assert set(found('author:"bo li" diffusion')) == {1, 4} and found("author:lovelace") == [1]
    assert found("cat:cs.CV") == [1]
    assert found("schölkopf") == [6] and found("scholkopf kernels") == [6]
    picks = select_digest(
        pool,
        Interests(searches=[SearchSpec("V", "video diffusion")]),
        allowed,
        ("searches",),
        10,
        index=index,
    )
    assert picks[0].reason == "matches your saved search “V” (video, diffusion)"


def test_select_digest_each_paper_once_sections_take_turns_and_say_why(
        indexed: tuple[CandidatePool, SearchIndex, dict[int, int]]) -> None:
    pool, index, ids = indexed
    allowed = pool.window_mask(NOW - timedelta(days=1), NOW, exclude={ids[3]})
    interests = Interests(
        searches=[SearchSpec("Diffusion", "diffusion")], categories=["cs.CL"], authors=["Bo Li"]
    )
    rec = [
        Pick(ids[6], "recommended", "similar to X", 1.0),
        Pick(ids[4], "recommended", "dup", 0.9),
    ]
    picks = select_digest(
        pool,
        interests,
        allowed,
        ("searches", "authors", "categories", "recommended", "trending"),
        10,
        rec,
        index=index,
    )
    got = [p.paper_id for p in picks]
    assert len(got) == len(set(got)) and ids[3] not in got and ids[5] not in got
    assert {p.section for p in picks} >= {"searches", "categories", "recommended"}
    assert all(p.reason for p in picks)
    search = [p for p in picks if p.section == "searches"]
    assert search[0].reason.startswith("matches your saved search “Diffusion”")
    capped = select_digest(
        pool, interests, allowed, ("searches", "categories", "trending"), 2, index=index
    )
    # one each before anyone gets a second
    assert [p.section for p in capped] == ["searches", "categories"]
    assert (
        select_digest(pool, Interests(), np.zeros(len(pool), dtype=bool), ("trending",), 10) == []
    )
    trending = select_digest(pool, Interests(), allowed, ("trending",), 10)
    assert [p.paper_id for p in trending][:1] == [ids[2]] and "upvotes" in trending[0].reason
    # without an index, searches and followed authors (which are searches) find nothing
    assert {
        p.section for p in select_digest(pool, interests, allowed, ("searches", "authors"), 10)
    } == set()


def test_undated_papers_stay_out_of_the_trending_section() -> None:
    dated = Paper(id=8, title="Dated and upvoted", external_upvotes=5, published=date(2026, 3, 10),
                  first_seen_at=NOW - timedelta(hours=1))
    undated = Paper(
        id=9,
        title="Undated but upvoted",
        external_upvotes=500,
        first_seen_at=NOW - timedelta(hours=1),
    )
    pool = CandidatePool([dated, undated], {9: 4}, NOW)
    picks = select_digest(pool, Interests(), np.ones(len(pool.ids), dtype=bool), ["trending"], 10)
    assert [p.paper_id for p in picks] == [8]
