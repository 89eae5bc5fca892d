"""The emerging-topics job: cluster the last weeks' papers and save `<data_dir>/topics.json`
atomically.

Run by `paperfeed topics build` and by the worker when the file is older than
`topics_refresh_hours`. Readers (pages, the feed, the CLI list, the digest's "rising" section) only
read the file. Papers are clustered by their MiniLM vectors when (nearly) all of them have one;
otherwise by TF-IDF + TruncatedSVD (LSA) vectors of their titles and abstracts, and the file, the
page and the CLI say so.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from paperfeed.core.errors import ConfigError
from paperfeed.core.settings import Settings
from paperfeed.core.util import write_atomic
from paperfeed.delivery.common import charts
from paperfeed.index import open_search_index
from paperfeed.ranking.topics import (
    Topic,
    TopicParams,
    growth_label,
    lsa_vectors,
    rank_topics,
    week_start,
)
from paperfeed.store import Store
from paperfeed.store.runs import now_utc

log = logging.getLogger("paperfeed.topics")
FILE = "topics.json"
CHARTS_FILE = "topics-charts.json"
MIN_PAPERS = 20  # fewer papers than this make no topics worth showing
EMBEDDED_SHARE = 0.95  # use the stored vectors when at least this share of the papers has one
VECTORS_EMBEDDINGS = "embeddings"
VECTORS_LSA = "lsa"
VECTOR_NOTES = {
    VECTORS_EMBEDDINGS: "clustered by the papers' MiniLM embeddings",
    VECTORS_LSA: "clustered by TF-IDF + TruncatedSVD (LSA) vectors of titles and abstracts: "
                 "the papers have no embeddings yet (run `paperfeed index build`)",
}


class TooFewPapers(ConfigError):
    """Not enough dated papers in the window to find topics (the worker just waits for more)."""


@dataclass(frozen=True)
class TopicsFile:
    """What topics.json holds: when and how it was built, over which weeks, and the ranked
    topics."""

    built_at: datetime
    vectors: str  # "embeddings" or "lsa"
    since: date
    until: date
    papers: int
    seconds: float
    topics: tuple[Topic, ...]

    @property
    def vectors_note(self) -> str:
        """How the papers were clustered, in words."""
        return VECTOR_NOTES.get(self.vectors, self.vectors)

    def topic(self, topic_id: int) -> Topic | None:
        """One topic by id."""
        return next((t for t in self.topics if t.id == topic_id), None)

    def to_json(self) -> bytes:
        """The file's bytes."""
        return json.dumps(
            {
                "built_at": self.built_at.isoformat(),
                "vectors": self.vectors,
                "since": self.since.isoformat(),
                "until": self.until.isoformat(),
                "papers": self.papers,
                "seconds": self.seconds,
                "topics": [t.as_dict() for t in self.topics],
            },
            ensure_ascii=False,
        ).encode("utf-8")


def topics_path(settings: Settings) -> Path:
    """Where topics.json lives."""
    return settings.data_path / FILE


def load_topics(settings: Settings) -> TopicsFile | None:
    """The saved topics, or None when none were built yet (or the file cannot be read)."""
    path = topics_path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return TopicsFile(
            built_at=datetime.fromisoformat(data["built_at"]), vectors=str(data["vectors"]),
            since=date.fromisoformat(data["since"]), until=date.fromisoformat(data["until"]),
            papers=int(data["papers"]), seconds=float(data["seconds"]),
            topics=tuple(Topic.from_dict(t) for t in data["topics"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return None


def params_of(settings: Settings) -> TopicParams:
    """The clustering parameters from the settings."""
    return TopicParams(clusters=settings.topics_clusters, recent_weeks=settings.topics_recent_weeks,
                       vote_weight=settings.topics_vote_weight)


TOPIC_STAGES = 4  # reading, clustering and naming, charts, saved: the steps progress counts


def build_topics(settings: Settings, store: Store, today: date | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> TopicsFile:
    """Cluster the papers of the last `topics_weeks` weeks (up to the newest paper day) and save
    them."""

    def step(done: int) -> None:
        if progress:
            progress("topics", done, TOPIC_STAGES)

    started = time.monotonic()
    step(0)
    days = [d for d in store.papers.paper_days(limit=60) if today is None or d <= today]
    if not days:
        raise TooFewPapers("no dated papers to find topics in: ingest some papers first")
    until = days[0]
    since = week_start(until) - timedelta(days=7 * (max(1, settings.topics_weeks) - 1))
    facts = store.votes.paper_votes(since=since, until=until)
    if len(facts) < MIN_PAPERS:
        raise TooFewPapers(f"only {len(facts)} papers between {since} and {until}: "
                          f"topics need at least {MIN_PAPERS}")
    ids = np.asarray(sorted(f.paper_id for f in facts), dtype=np.int64)
    index = open_search_index(settings, store)
    with_vec, vecs = index.semantic.vectors_for(ids)
    if len(ids) and len(with_vec) >= EMBEDDED_SHARE * len(ids):
        kind = VECTORS_EMBEDDINGS
        ids = with_vec
    else:
        kind = VECTORS_LSA
    by_id = {f.paper_id: f for f in facts}
    papers = store.papers.get_papers([int(i) for i in ids])
    ids = np.asarray([i for i in ids if int(i) in papers], dtype=np.int64)
    if kind == VECTORS_EMBEDDINGS:
        vecs = vecs[np.isin(with_vec, ids)]
    texts = [
        f"{papers[int(i)].title}. {papers[int(i)].title}. {papers[int(i)].abstract}" for i in ids
    ]
    step(1)
    try:
        if kind == VECTORS_LSA:
            vecs = lsa_vectors(texts)
        topics = rank_topics(
            vecs,
            texts,
            [by_id[int(i)].day for i in ids],
            [by_id[int(i)].votes + by_id[int(i)].external_upvotes for i in ids],
            [int(i) for i in ids],
            [papers[int(i)].categories for i in ids],
            params_of(settings),
            end=until,
        )
    except ValueError as exc:  # e.g. scikit-learn's "empty vocabulary" on a handful of tiny texts
        raise TooFewPapers(f"cannot find topics in these {len(ids)} papers: {exc}") from None
    result = TopicsFile(built_at=now_utc(), vectors=kind, since=since, until=until, papers=len(ids),
                        seconds=round(time.monotonic() - started, 2), topics=tuple(topics))
    step(2)
    # before topics.json: a page that sees the new file finds its charts
    _draw_charts(settings, result)
    write_atomic(topics_path(settings), result.to_json())
    step(TOPIC_STAGES)
    log.info(
        "topics: %d topics over %d papers (%s .. %s, %s) in %.1fs",
        len(topics),
        len(ids),
        since,
        until,
        kind,
        result.seconds,
    )
    return result


def topic_chart_svg(topic: Topic) -> str:
    """One topic's weekly share chart (what its growth figure is of)."""
    return charts.topic_share_chart(
        topic.name,
        topic.weeks,
        topic.weekly_share,
        topic.weekly_papers,
        topic.recent_weeks,
        topic.measure,
        growth_label(topic.growth),
    )


def _draw_charts(settings: Settings, result: TopicsFile) -> None:
    """Draw every topic's chart in the job, so the first view of /topics draws none (topics-
    charts.json)."""
    if not charts.charts_available():
        return
    drawn = {str(t.id): topic_chart_svg(t) for t in result.topics}
    data = {"built_at": result.built_at.isoformat(), "charts": drawn}
    write_atomic(
        settings.data_path / CHARTS_FILE, json.dumps(data, ensure_ascii=False).encode("utf-8")
    )


def load_topic_charts(settings: Settings, built_at: datetime) -> dict[int, str]:
    """The charts the job drew for the topics built at `built_at` (empty when missing or of another
    build)."""
    try:
        data = json.loads((settings.data_path / CHARTS_FILE).read_text(encoding="utf-8"))
        if data.get("built_at") != built_at.isoformat():
            return {}
        return {int(k): str(v) for k, v in data["charts"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("cannot read %s: %s", CHARTS_FILE, exc)
        return {}


def topics_due(settings: Settings, now: datetime | None = None) -> bool:
    """Whether the worker should rebuild topics.json: missing, or older than
    topics_refresh_hours."""
    if settings.topics_refresh_hours <= 0:
        return False
    try:
        mtime = topics_path(settings).stat().st_mtime
    except FileNotFoundError:
        return True
    age = (now or datetime.now(UTC)).timestamp() - mtime
    return age >= settings.topics_refresh_hours * 3600


def topics_extra_installed() -> bool:
    """Whether scikit-learn (the topics extra) can be imported."""
    import importlib.util

    return importlib.util.find_spec("sklearn") is not None
