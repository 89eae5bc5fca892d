"""Emerging topics as pure functions: planted clusters, one growing week over week."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from paperfeed.core.models import Paper
from paperfeed.index.text import analyse
from paperfeed.ranking.topics import (
    Topic,
    TopicParams,
    auto_clusters,
    growth_label,
    growth_text,
    lsa_vectors,
    rank_topics,
    rising_in,
    share_means,
    topic_names,
    week_start,
)
from paperfeed.sources import read_records
from tests._topics_fixtures import FIRST_MONDAY, GROWING, LAST_DAY, THEMES, WEEKS, per_week, planted

ROOT = Path(__file__).resolve().parent.parent


def _rank(vectors: np.ndarray, clusters: int = 4) -> list[Topic]:
    data = planted()
    return rank_topics(vectors, data.texts(), [p.day or LAST_DAY for p in data.papers], data.votes,
                       list(range(1, len(data.papers) + 1)), [p.categories for p in data.papers],
                       TopicParams(clusters=clusters), end=LAST_DAY)


def _theme_of(topic: Topic) -> str:
    data = planted()
    themes = [data.themes[pid - 1] for pid in topic.paper_ids]
    return max(set(themes), key=themes.count)


def test_growing_cluster_ranks_first_and_is_named_by_its_planted_terms() -> None:
    data = planted()
    topics = _rank(data.vectors)
    assert len(topics) == 4
    top = topics[0]
    assert _theme_of(top) == GROWING
    own = set(THEMES[GROWING][0])
    name_words = set(top.name.replace(",", " ").split())
    assert name_words and name_words <= own, top.name
    assert len(name_words) >= 2
    # every topic is named by its own theme's words, and holds that theme's papers only
    for t in topics:
        theme = _theme_of(t)
        assert {data.themes[pid - 1] for pid in t.paper_ids} == {theme}
        assert set(t.terms[0].split()) <= set(THEMES[theme][0]), (theme, t.terms)
    # the growing one gains share; the stable ones lose share as it grows
    assert top.growth > 0.5
    assert all(t.growth < 0 for t in topics[1:])
    assert [t.id for t in topics] == [1, 2, 3, 4]


def test_growth_is_the_documented_formula() -> None:
    """growth = log2(mean smoothed share of the last 2 weeks / mean share of the weeks before)."""
    data = planted()
    weight = np.log1p(np.asarray(data.votes, dtype=np.float64)) + 1.0
    week = np.asarray([((p.day or LAST_DAY) - FIRST_MONDAY).days // 7 for p in data.papers])
    themes = list(THEMES)
    act = np.zeros((len(themes), WEEKS))
    for w, th, wt in zip(week, data.themes, weight, strict=True):
        act[themes.index(th), w] += wt
    share = (act + 1.0) / (act.sum(axis=0) + len(themes))
    for t in _rank(data.vectors):
        row = share[themes.index(_theme_of(t))]
        assert t.growth == pytest.approx(np.log2(row[-2:].mean() / row[:-2].mean()), abs=1e-4)


def test_weekly_counts_match_the_plant() -> None:
    topics = _rank(planted().vectors)
    by_theme = {_theme_of(t): t for t in topics}
    for theme, t in by_theme.items():
        assert t.weekly_papers == tuple(per_week(theme, w) for w in range(WEEKS))
        assert t.weeks == tuple(FIRST_MONDAY + timedelta(days=7 * w) for w in range(WEEKS))
        assert t.papers == sum(t.weekly_papers)
        assert t.categories[0][0] == THEMES[theme][1]
        # activity counts each paper 1 + ln(1 + votes): at least the paper count
        assert sum(t.weekly_activity) >= t.papers


def test_lsa_fallback_finds_the_same_planted_topics() -> None:
    data = planted()
    topics = _rank(lsa_vectors(data.texts(), dim=16))
    assert _theme_of(topics[0]) == GROWING
    assert sorted(_theme_of(t) for t in topics) == sorted(THEMES)


def test_deterministic() -> None:
    data = planted()
    assert _rank(data.vectors) == _rank(data.vectors)


def test_votes_count_in_growth() -> None:
    """The same papers with many votes on one stable theme's recent papers: that theme's growth
    rises."""
    data = planted()
    days = [p.day or LAST_DAY for p in data.papers]
    recent = week_start(LAST_DAY) - timedelta(days=7)
    boosted = [v + (200 if th == "quantum" and d >= recent else 0)
               for v, th, d in zip(data.votes, data.themes, days, strict=True)]
    ids = list(range(1, len(data.papers) + 1))
    base = {
        _theme_of(t): t.growth
        for t in rank_topics(
            data.vectors, data.texts(), days, data.votes, ids, params=TopicParams(clusters=4)
        )
    }
    more = {
        _theme_of(t): t.growth
        for t in rank_topics(
            data.vectors, data.texts(), days, boosted, ids, params=TopicParams(clusters=4)
        )
    }
    assert more["quantum"] > base["quantum"] + 0.5
    assert more[GROWING] < base[GROWING]


def test_rising_in_categories() -> None:
    topics = _rank(planted().vectors)
    rising = rising_in(topics, ["cs.CV", "cs.RO"])
    # cs.RO's topic shrinks
    assert [(_theme_of(t), code) for t, code in rising] == [(GROWING, "cs.CV")]
    assert rising_in(topics, ["quant-ph"]) == []
    # an archive matches its categories
    assert [_theme_of(t) for t, _ in rising_in(topics, ["cs"])] == [GROWING]


def test_json_round_trip() -> None:
    for t in _rank(planted().vectors):
        assert Topic.from_dict(t.as_dict()) == t


def test_helpers() -> None:
    assert week_start(date(2026, 1, 11)) == date(2026, 1, 5)
    assert (
        growth_label(1.0) == "+100%" and growth_label(-1.0) == "-50%" and growth_label(0.0) == "+0%"
    )
    assert auto_clusters(10) == 2 and auto_clusters(20_000) == 32 and auto_clusters(10**7) == 60
    with pytest.raises(ValueError, match="one entry per paper"):
        rank_topics(np.zeros((2, 3), np.float32), ["a"], [date(2026, 1, 1)] * 2, [0, 0], [1, 2])
    assert rank_topics(np.zeros((0, 3), np.float32), [], [], [], []) == []


def test_topic_names_use_no_word_in_more_than_two_names() -> None:
    terms = [
        ["language models", "vision"],
        ["language model", "speech"],
        ["models", "robots", "grasping"],
        ["diffusion", "language"],
    ]
    names = topic_names(terms, per_name=2)
    assert names[:2] == ["language models, vision", "language model, speech"]
    # "models" is in two names already (stemmed: model = models)
    assert names[2] == "robots, grasping"
    assert names[3] == "diffusion"
    assert topic_names([[]]) == ["topic 1"]


def test_names_on_the_bundled_sample_are_distinct_and_not_generic() -> None:
    """The sample's last 12 weeks (real Hugging Face papers): 'models' used to name 4 of 6
    topics."""
    papers = [
        r
        for r in read_records(ROOT / "paperfeed/data/sample-feed.jsonl.gz")
        if isinstance(r, Paper) and r.day
    ]
    until = max(p.day for p in papers if p.day)
    since = week_start(until) - timedelta(days=7 * 11)
    window = [p for p in papers if p.day and since <= p.day <= until]
    texts = [f"{p.title}. {p.title}. {p.abstract}" for p in window]
    topics = rank_topics(
        lsa_vectors(texts),
        texts,
        [p.day or until for p in window],
        [p.external_upvotes or 0 for p in window],
        list(range(1, len(window) + 1)),
        end=until,
    )
    names = [t.name for t in topics]
    assert len(names) >= 4 and len(set(names)) == len(names), names
    uses = Counter(w for n in names for w in {s for term in n.split(", ") for s in analyse(term)})
    assert max(uses.values()) <= 2, (uses.most_common(3), names)
    # the corpus's own frequent word
    assert not any("models" in n.split(", ") for n in names), names


def test_growth_label_and_chart_are_one_measure() -> None:
    """The weekly share a topic keeps is what its growth compares: 2 ** growth = recent mean /
    earlier mean."""
    for t in _rank(planted().vectors):
        means = share_means(t)
        assert means is not None and t.recent_weeks == 2 and len(t.weekly_share) == WEEKS
        before, recent = means
        assert 2.0 ** t.growth == pytest.approx(recent / before, rel=1e-3)
        assert growth_text(t) == f"{growth_label(t.growth)} share of papers, weighted by upvotes"
    unweighted = rank_topics(
        planted().vectors,
        planted().texts(),
        [p.day or LAST_DAY for p in planted().papers],
        planted().votes,
        list(range(1, len(planted().papers) + 1)),
        params=TopicParams(clusters=4, vote_weight=0.0),
        end=LAST_DAY,
    )
    assert all(growth_text(t).endswith("% share of papers") for t in unweighted)
    # the growing theme: its papers per week rise AND its share rises, and a falling count with a
    # rising
    # share is told apart by the label (share), not hidden by a papers-per-week chart
    top = unweighted[0]
    assert top.weekly_share[-1] > top.weekly_share[0] and top.growth > 0
