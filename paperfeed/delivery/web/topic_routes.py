"""Emerging topics pages (/topics, /topics/<id>) and the SVG chart endpoints (/charts/...)."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from paperfeed.core.errors import NotFound
from paperfeed.core.ids import MAX_ID
from paperfeed.delivery.app import papers
from paperfeed.delivery.app.topics import (
    TopicsFile,
    load_topic_charts,
    load_topics,
    topic_chart_svg as draw_topic_chart,
    topics_extra_installed,
    topics_path,
)
from paperfeed.delivery.common import charts, upvote_charts
from paperfeed.delivery.common.build_status import read_build_status
from paperfeed.delivery.web import services as sv
from paperfeed.delivery.web.categories import is_category
from paperfeed.delivery.web.deps import page_user, render
from paperfeed.delivery.web.state import WebState, get_state
from paperfeed.ranking.topics import EXTRA_HINT, Topic, growth_text

router = APIRouter(include_in_schema=False)
DbId = Annotated[int, Path(ge=1, le=MAX_ID)]
TOPIC_PAPERS = 50
CHART_DAYS = 90


def file_stamp(state: WebState) -> float:
    """The topics file's modification time (0 when absent): part of every topics cache key."""
    try:
        return topics_path(state.settings).stat().st_mtime
    except FileNotFoundError:
        return 0.0


def current_topics(state: WebState) -> TopicsFile | None:
    """topics.json as last built (re-read when the file changes)."""
    found: TopicsFile | None = state.cached(("topics-file", file_stamp(state)),
                                            lambda: load_topics(state.settings))
    return found


@functools.lru_cache(maxsize=256)
def _drawn_here(topic: Topic, drawable: bool) -> str:
    return draw_topic_chart(topic)  # `drawable` keys the cache: a note otherwise


def topic_chart(state: WebState, tf: TopicsFile, topic: Topic) -> str:
    """The topic's weekly share chart: drawn by the topics job (topics-charts.json), else once per
    process."""
    drawn: dict[int, str] = state.cached(("topic-charts", file_stamp(state)),
                                         lambda: load_topic_charts(state.settings, tf.built_at))
    return drawn.get(topic.id) or _drawn_here(topic, charts.charts_available())


def paper_chart(state: WebState, paper_id: int) -> str:
    """Upvotes over time of one paper for its page: drawn by the jobs, never while the page
    waits."""
    found: str = state.cached(
        ("chart-paper", paper_id),
        lambda: upvote_charts.chart_html(state.store, state.settings, paper_id),
    )
    return found


def category_chart(state: WebState, code: str) -> str:
    """Papers per day in a category over its last CHART_DAYS days of papers."""

    def compute() -> str:
        return charts.papers_per_day_chart(
            code, state.store.votes.papers_per_day(code, None), CHART_DAYS
        )

    svg: str = state.cached(("chart-category", code), compute)
    return svg


def _svg(body: str) -> Response:
    if not body.startswith("<svg"):
        raise NotFound(
            charts.EXTRA_NOTE if not charts.charts_available() else "nothing to chart yet"
        )
    return Response(body, media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/topics", response_class=HTMLResponse)
def topics_page(request: Request) -> HTMLResponse:
    """Emerging topics: clusters of the last weeks' papers, fastest growing first, with charts."""
    state = get_state(request)

    def context() -> dict[str, Any]:
        tf = current_topics(state)
        rows = [(t, growth_text(t), topic_chart(state, tf, t)) for t in tf.topics] if tf else []
        missing = None if topics_extra_installed() else EXTRA_HINT
        return {
            "title": "Emerging topics",
            "tf": tf,
            "rows": rows,
            "missing": missing,
            "building": building,
        }

    # topics follow the index build: both mean "being built"
    building = read_build_status(state.settings)
    key = ("topics", file_stamp(state), building.text if building else None)
    return render(request, "topics.html", context, cache_key=key)


@router.get("/topics/{topic_id}", response_class=HTMLResponse)
def topic_page(request: Request, topic_id: DbId) -> HTMLResponse:
    """One topic: its terms, growth, papers per week and its papers (best first)."""
    state = get_state(request)
    user = page_user(request)
    tf = current_topics(state)
    topic = tf.topic(topic_id) if tf else None
    if tf is None or topic is None:
        raise NotFound(f"no topic {topic_id} (topics are rebuilt daily; see /topics)")

    def context() -> dict[str, Any]:
        assert topic is not None
        cards = sv.make_cards(
            state, list(topic.paper_ids[:TOPIC_PAPERS]), None, user.id if user else None
        )
        return {"title": topic.name, "tf": tf, "topic": topic, "growth": growth_text(topic),
                "chart": topic_chart(state, tf, topic), "cards": cards}

    return render(request, "topic.html", context, cache_key=("topic", file_stamp(state), topic_id))


@router.get("/charts/topics/{topic_id}.svg")
def topic_chart_svg(request: Request, topic_id: DbId) -> Response:
    """A topic's weekly share (what its growth is of) as an SVG image."""
    state = get_state(request)
    tf = current_topics(state)
    topic = tf.topic(topic_id) if tf else None
    if topic is None:
        raise NotFound(f"no topic {topic_id}")
    assert tf is not None
    return _svg(topic_chart(state, tf, topic))


@router.get("/charts/papers/{paper_id}/upvotes.svg")
def paper_chart_svg(request: Request, paper_id: DbId) -> Response:
    """A paper's upvotes over time as an SVG image."""
    state = get_state(request)
    papers.get_paper(state.store, paper_id)  # NotFound naming the id
    svg: str = state.cached(("chart-paper-svg", paper_id),
                            lambda: upvote_charts.chart_svg(state.store, state.settings, paper_id))
    return _svg(svg)


@router.get("/charts/c/{code}.svg")
def category_chart_svg(request: Request, code: str) -> Response:
    """Papers per day in a category as an SVG image."""
    if not is_category(code):
        raise NotFound(f"no arXiv category {code!r}")
    return _svg(category_chart(get_state(request), code))

