"""Digest selection: periods in the user's time zone, windows and gaps, search matching, sections."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from paperfeed.core.models import Paper, Subscription
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

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def _p(pid: int, title: str, abstract: str = "", authors: tuple[str, ...] = ("A B",), cats: tuple[str, ...] = ("cs.LG",),
       hours_ago: float = 2, up: int = 0) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, authors=authors, categories=cats, published=date(2026, 3, 10),
                 external_upvotes=up, first_seen_at=NOW - timedelta(hours=hours_ago))


POOL = [
    _p(1, "Diffusion models for video", "A video diffusion model.", ("Ada Lovelace", "Bo Li"), ("cs.CV",), up=5),
    _p(2, "Language models reason", "Large language models and chain of thought.", ("Alan Turing",), ("cs.CL",), up=50),
    _p(3, "Graph neural networks", "Message passing for molecules.", ("Marie Curie",), ("cs.LG", "q-bio.BM")),
    _p(4, "Diffusion language models", "A discrete diffusion model for text.", ("Bo Li",), ("cs.CL",), up=1),
    _p(5, "Old paper on diffusion", "Diffusion.", ("X Y",), ("cs.CV",), hours_ago=60),
    _p(6, "Schölkopf kernels", "Kernel methods, revisited.", ("Bernhard Schölkopf",), ("stat.ML",)),
]


def _pool() -> CandidatePool:
    return CandidatePool(POOL, {2: 3}, NOW)


def test_periods_follow_the_users_time_zone() -> None:
    berlin = Subscription(user_id=1, frequency="daily", send_hour=7, timezone="Europe/Berlin")
    p = current_period(berlin, datetime(2026, 3, 9, 23, 30, tzinfo=UTC))  # 00:30 on the 10th in Berlin
    assert p.key == "d:2026-03-10" and p.due_at == datetime(2026, 3, 10, 6, tzinfo=UTC)
    assert not p.is_due(datetime(2026, 3, 10, 5, 59, tzinfo=UTC)) and p.is_due(datetime(2026, 3, 10, 6, tzinfo=UTC))
    weekly = Subscription(user_id=1, frequency="weekly", send_hour=9, timezone="America/New_York")
    w = current_period(weekly, datetime(2026, 3, 11, 15, tzinfo=UTC), weekday=2)  # a Wednesday
    assert w.key == "w:2026-W11" and w.due_at == datetime(2026, 3, 11, 13, tzinfo=UTC)
    assert period_label("d:2026-03-10") == "Tuesday 10 March 2026" and period_label("w:2026-W11") == "week 11 of 2026"
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


def test_saved_search_syntax_and_precision() -> None:
    pool = _pool()
    allowed = pool.window_mask(NOW - timedelta(days=1), NOW)
    ids = lambda q, **kw: [int(pool.ids[m.row]) for m in pool.match_search(SearchSpec("s", q, **kw), allowed)]
    assert set(ids("diffusion")) == {1, 4}  # 5 is older than the window
    assert ids("diffusion -video") == [4]
    assert ids('"large language models"') == [2] and set(ids('"language models"')) == {2, 4}
    assert ids("diffusion model", category="cs.CL") == [4]
    assert set(ids('author:"bo li" diffusion')) == {1, 4} and ids('author:lovelace') == [1]
    assert ids("cat:cs.CV") == [1]
    assert ids("schölkopf") == [6] and ids("scholkopf kernels") == [6]
    assert ids("diffusion quantum") == []  # two words: both needed
    m = pool.match_search(SearchSpec("s", "video diffusion"), allowed)
    assert m[0].terms == ("video", "diffusion")


def test_select_digest_each_paper_once_sections_take_turns_and_say_why() -> None:
    pool = _pool()
    allowed = pool.window_mask(NOW - timedelta(days=1), NOW, exclude={3})
    interests = Interests(searches=[SearchSpec("Diffusion", "diffusion")], categories=["cs.CL"], authors=["Bo Li"])
    rec = [Pick(6, "recommended", "similar to X", 1.0), Pick(4, "recommended", "dup", 0.9)]
    picks = select_digest(pool, interests, allowed, ("searches", "authors", "categories", "recommended", "trending"), 10, rec)
    ids = [p.paper_id for p in picks]
    assert len(ids) == len(set(ids)) and 3 not in ids and 5 not in ids
    assert {p.section for p in picks} >= {"searches", "categories", "recommended"}
    assert all(p.reason for p in picks)
    search = [p for p in picks if p.section == "searches"]
    assert search[0].reason.startswith("matches your saved search “Diffusion”")
    capped = select_digest(pool, interests, allowed, ("searches", "categories", "trending"), 2)
    assert [p.section for p in capped] == ["searches", "categories"]  # one each before anyone gets a second
    assert select_digest(pool, Interests(), np.zeros(len(pool), dtype=bool), ("trending",), 10) == []
    trending = select_digest(pool, Interests(), allowed, ("trending",), 10)
    assert [p.paper_id for p in trending][:1] == [2] and "upvotes" in trending[0].reason


def test_undated_papers_stay_out_of_the_trending_section() -> None:
    undated = Paper(id=9, title="Undated but upvoted", external_upvotes=500, first_seen_at=NOW - timedelta(hours=1))
    pool = CandidatePool([*POOL, undated], {9: 4}, NOW)
    picks = select_digest(pool, Interests(), np.ones(len(pool.ids), dtype=bool), ["trending"], 10)
    assert picks and 9 not in [p.paper_id for p in picks]
