"""The topics job on both backends: topics.json written and re-read, the worker step, the CLI, the
digest section "rising", and (slow) the real 74k papers."""

from __future__ import annotations

import email
import email.policy
import json
import os
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app.topics import (
    VECTORS_EMBEDDINGS,
    VECTORS_LSA,
    TooFewPapers,
    build_topics,
    load_topics,
    topics_due,
    topics_path,
)
from paperfeed.delivery.cli.main import cli
from paperfeed.delivery.jobs.digests import preview, run_digests
from paperfeed.delivery.jobs.worker import maybe_build_topics
from paperfeed.index import open_search_index
from paperfeed.ranking.topics import (
    TopicParams,
    auto_clusters,
    lsa_vectors,
    rank_topics,
    week_start,
)
from paperfeed.sources import read_records
from paperfeed.store import Store
from tests._digest_fixtures import add_user
from tests._topics_fixtures import GROWING, LAST_DAY, THEMES, planted
from tests.conftest import shared_file


def _seed(settings: Settings, store: Store) -> tuple[Settings, dict[int, str]]:
    """The planted papers stored; settings with 4 clusters over 8 weeks; paper id -> theme."""
    data = planted()
    store.papers.upsert_papers(data.papers)
    theme_of = {}
    for p, theme in zip(data.papers, data.themes, strict=True):
        stored = store.papers.get_paper_by_arxiv(p.arxiv_id or "")
        assert stored is not None and stored.id is not None
        theme_of[stored.id] = theme
    return with_overrides(settings, topics_clusters=4, topics_weeks=8), theme_of


def _theme(topic_ids: tuple[int, ...], theme_of: dict[int, str]) -> str:
    return Counter(theme_of[i] for i in topic_ids).most_common(1)[0][0]


def test_build_writes_and_rereads_the_file(settings: Settings, store: Store) -> None:
    settings, theme_of = _seed(settings, store)
    built = build_topics(settings, store)
    assert built.vectors == VECTORS_LSA  # no vectors stored: the fallback, and it says so
    assert "TF-IDF" in built.vectors_note
    newest = max(p.day for p in planted().papers if p.day)
    assert built.until == newest and built.since == week_start(LAST_DAY) - timedelta(days=49)
    assert built.papers == len(theme_of)
    assert _theme(built.topics[0].paper_ids, theme_of) == GROWING
    assert set(built.topics[0].name.replace(",", " ").split()) <= set(THEMES[GROWING][0])
    again = load_topics(settings)
    assert again == built
    assert json.loads(topics_path(settings).read_text())["topics"][0]["id"] == 1
    # no temporary files left beside it (atomic write)
    assert [
        p.name for p in topics_path(settings).parent.iterdir() if p.name.startswith(".topics")
    ] == []


def test_build_uses_stored_vectors(settings: Settings, store: Store) -> None:
    settings, theme_of = _seed(settings, store)
    data = planted()
    index = open_search_index(settings, store)
    index.semantic.ensure_model("planted-test-vectors", data.vectors.shape[1])
    # planted() rows are in insertion (= id) order
    index.semantic.append(sorted(theme_of), data.vectors)
    built = build_topics(settings, store)
    assert built.vectors == VECTORS_EMBEDDINGS
    assert _theme(built.topics[0].paper_ids, theme_of) == GROWING
    for t in built.topics:  # each planted theme is one topic
        assert {theme_of[i] for i in t.paper_ids} == {_theme(t.paper_ids, theme_of)}


def test_too_few_papers_and_the_worker_step(settings: Settings, store: Store) -> None:
    with pytest.raises(TooFewPapers):
        build_topics(settings, store)
    assert maybe_build_topics(settings, store) is None  # the worker waits for papers
    assert not topics_path(settings).exists()
    settings, _ = _seed(settings, store)
    assert topics_due(settings)
    summary = maybe_build_topics(settings, store)
    assert summary is not None and "4 topics" in summary
    assert not topics_due(settings)  # fresh: the next cycle does not rebuild
    later = datetime.now(UTC) + timedelta(hours=settings.topics_refresh_hours + 1)
    assert topics_due(settings, later)
    assert not topics_due(with_overrides(settings, topics_refresh_hours=0.0), later)


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, [*args, "--data-dir", settings.data_dir, "--database-url", settings.db_url]
    )
    return result.exit_code, result.output


def test_cli_build_list_show(settings: Settings, store: Store) -> None:
    settings, _ = _seed(settings, store)
    code, out = _cli(settings, "topics", "list")
    assert code != 0 and "paperfeed topics build" in out
    code, out = _cli(settings, "topics", "build")
    assert code == 0, out
    assert "4 topics over" in out and "TF-IDF" in out
    code, out = _cli(settings, "topics", "list", "--json")
    assert code == 0
    listed = json.loads(out)["topics"]
    assert [t["id"] for t in listed] == [1, 2, 3, 4]
    assert listed[0]["growth"] > 0 > listed[-1]["growth"]
    code, out = _cli(settings, "topics", "show", "1")
    assert code == 0 and "papers per week" in out and listed[0]["name"] in out
    assert _cli(settings, "topics", "show", "99")[0] != 0


def test_digest_rising_section_picks_the_rising_topic_in_the_users_category(settings: Settings,
                                                                           store: Store) -> None:
    settings, theme_of = _seed(settings, store)
    build_topics(settings, store)
    follows_cv = add_user(store, "vera", sections=["rising", "trending"], send_hour=0)
    store.subscriptions.follow(follows_cv.id, "category", "cs.CV")
    follows_quantum = add_user(store, "quinn", sections=["rising"], send_hour=0)
    store.subscriptions.follow(follows_quantum.id, "category", "quant-ph")
    now = datetime.now(UTC) + timedelta(minutes=1)  # the papers were first seen just now
    picks, message = preview(settings, store, follows_cv, now)
    rising = [p for p in picks if p.section == "rising"]
    assert rising and message is not None
    assert {theme_of[p.paper_id] for p in rising} == {GROWING}
    assert "rising topic" in rising[0].reason and "cs.CV" in rising[0].reason
    body = email.message_from_bytes(message.data, policy=email.policy.default).get_body(("plain",))
    assert body is not None and "Rising in your categories" in body.get_content()
    # quant-ph's topic is shrinking: nothing rises there
    assert preview(settings, store, follows_quantum, now)[0] == []
    # the digest job composes the same section (daily at 00:00 UTC: due now, over the last day)
    run_digests(settings, store, now=now, send=False)
    composed = store.deliveries.delivery_log(user_id=follows_cv.id)[0].items
    assert [it["paper_id"] for it in composed if it["section"] == "rising"] == [
        p.paper_id for p in rising
    ]
    assert store.deliveries.delivery_log(user_id=follows_quantum.id)[0].items == []


@pytest.mark.slow
def test_real_74k_papers_with_lsa_vectors() -> None:
    """The job's window (12 weeks) of the real arXiv papers, clustered by LSA vectors: under 2
    minutes, every paper in one topic, named topics, and far more agreement with arXiv categories
    than random."""
    from sklearn.metrics import adjusted_mutual_info_score

    path = shared_file("arxiv-74k.jsonl.gz")
    started = time.monotonic()
    papers = [r for r in read_records(path) if isinstance(r, Paper) and r.day]
    until = max(p.day for p in papers if p.day)
    since = week_start(until) - timedelta(days=7 * 11)
    window = [p for p in papers if p.day and since <= p.day <= until]
    texts = [f"{p.title}. {p.title}. {p.abstract}" for p in window]
    vecs = lsa_vectors(texts)
    topics = rank_topics(
        vecs,
        texts,
        [p.day or until for p in window],
        [p.external_upvotes or 0 for p in window],
        list(range(len(window))),
        [p.categories for p in window],
        TopicParams(),
        end=until,
    )
    seconds = time.monotonic() - started
    assert seconds < 120 * (2 if os.environ.get("CI") else 1), seconds
    assert len(topics) == auto_clusters(len(window))
    assert sorted(i for t in topics for i in t.paper_ids) == list(range(len(window)))
    assert all(len(t.weeks) == 12 and sum(t.weekly_papers) == t.papers for t in topics)
    assert all(t.name and len(t.terms) >= 3 for t in topics)
    assert len({t.name for t in topics}) == len(topics)
    labels = np.empty(len(window), dtype=np.int64)
    for t in topics:
        labels[list(t.paper_ids)] = t.id
    truth = [p.primary_category or "" for p in window]
    ami = adjusted_mutual_info_score(truth, labels)
    random_ami = adjusted_mutual_info_score(truth, np.random.default_rng(42).permutation(labels))
    assert ami > 0.1 and ami > 20 * abs(random_ami), (ami, random_ami)
