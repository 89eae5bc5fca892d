"""Atom feeds (feedgen): the daily papers, trending, one category, one search query, emerging
topics."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from feedgen.feed import FeedGenerator

from paperfeed.core.errors import NotFound
from paperfeed.delivery.web import services as sv
from paperfeed.delivery.web.categories import category_name, is_category
from paperfeed.delivery.web.state import WebState, get_state
from paperfeed.delivery.web.topic_routes import current_topics, file_stamp
from paperfeed.ranking.topics import growth_text

router = APIRouter(prefix="/feeds", include_in_schema=False)
FEED_SIZE = 50
# Characters XML 1.0 forbids; arXiv text sometimes carries them and lxml refuses them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub("", text)


def render_feed(
    state: WebState, title: str, path: str, description: str, cards: Sequence[sv.Card]
) -> bytes:
    """An Atom 1.0 document for a list of papers.

    Paper text goes out as Atom *text* constructs (title, summary, author names), never as HTML: a
    reader shows `<img onerror=...>` in an abstract as the characters it is, and cannot run it. (RSS
    2.0 has no way to say "plain text": readers treat every description as HTML.)
    """
    base = state.settings.base_url.rstrip("/")
    fg = FeedGenerator()
    fg.id(base + path)
    fg.title(_x(title))
    fg.link(href=base + path, rel="alternate")
    fg.subtitle(_x(description))
    fg.language("en")
    fg.generator("paperfeed")
    stamp = None
    for card in reversed(cards):  # feedgen prepends entries: add in reverse to keep our order
        p = card.paper
        entry = fg.add_entry()
        url = f"{base}/papers/{p.id}"
        entry.id(url)
        entry.title(_x(p.title))
        entry.link(href=url, rel="alternate")
        for name in p.authors[:20]:
            if _x(name).strip():
                entry.author({"name": _x(name)})
        more = " et al." if len(p.authors) > 20 else ""
        entry.summary(
            _x(f"{', '.join(p.authors[:20])}{more}\n\n{p.abstract}\n\nUpvotes: {card.upvotes}"),
            type="text",
        )
        for code in p.categories:
            entry.category(term=_x(code), scheme="https://arxiv.org/category_taxonomy")
        when = (
            datetime.combine(p.day, time(0), tzinfo=UTC)
            if p.day
            else (p.first_seen_at or datetime.now(UTC))
        )
        entry.published(when)
        entry.updated(when)
        stamp = max(stamp, when) if stamp else when
    fg.updated(stamp or datetime.now(UTC))
    body: bytes = fg.atom_str(pretty=False)
    return body


def _respond(state: WebState, body: bytes) -> Response:
    return Response(
        body, media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": f"public, max-age={int(state.settings.web_cache_seconds)}"},
    )


@router.get("/daily.xml")
def daily_feed(request: Request) -> Response:
    """The newest day's papers, most upvoted first."""
    state = get_state(request)

    def compute() -> bytes:
        lst = sv.listing(state, None, "day", page_size=FEED_SIZE)
        day = lst.day.isoformat() if lst.day else "no papers yet"
        return render_feed(
            state,
            f"paperfeed: papers of {day}",
            "/",
            "The day's papers, most upvoted first.",
            lst.cards,
        )

    return _respond(state, state.cached(("feed-daily",), compute))


@router.get("/trending.xml")
def trending_feed(request: Request) -> Response:
    """Trending papers."""
    state = get_state(request)

    def compute() -> bytes:
        cards = sv.trending(state, limit=FEED_SIZE)
        return render_feed(
            state, "paperfeed: trending papers", "/trending", "Upvotes with time decay.", cards
        )

    return _respond(state, state.cached(("feed-trending",), compute))


@router.get("/c/{code}.xml")
def category_feed(request: Request, code: str) -> Response:
    """The newest papers of one category (the last week), most upvoted first."""
    if not is_category(code):
        raise NotFound(f"no arXiv category {code!r}")
    state = get_state(request)

    def compute() -> bytes:
        lst = sv.listing(state, None, "week", category=code, page_size=FEED_SIZE)
        return render_feed(state, f"paperfeed: {code} {category_name(code)}", f"/c/{code}",
                           f"This week's papers in {category_name(code)}.", lst.cards)

    return _respond(state, state.cached(("feed-cat", code), compute))


@router.get("/search.xml")
def search_feed(request: Request, q: str = Query("", max_length=500), category: str | None = None,
                author: str | None = None) -> Response:
    """The newest papers matching a search query."""
    state = get_state(request)

    def compute() -> bytes:
        result = sv.search(state, q, page_size=FEED_SIZE, sort="date", category=category or None,
                           author=author or None)
        return render_feed(
            state,
            f"paperfeed: search {q}",
            "/search?" + urlencode({"q": q}),
            f"Newest papers matching {q!r}.",
            result.cards,
        )

    return _respond(state, state.cached(("feed-search", q, category, author), compute))


@router.get("/topics.xml")
def topics_feed(request: Request) -> Response:
    """Emerging topics, fastest growing first: one entry per topic, updated with each build."""
    state = get_state(request)

    def compute() -> bytes:
        tf = current_topics(state)
        base = state.settings.base_url.rstrip("/")
        fg = FeedGenerator()
        fg.id(base + "/topics")
        fg.title("paperfeed: emerging topics")
        fg.link(href=base + "/topics", rel="alternate")
        fg.subtitle(
            "Clusters of the last weeks' papers whose share of papers and votes grows fastest."
        )
        fg.language("en")
        fg.generator("paperfeed")
        built = tf.built_at if tf else datetime.now(UTC)
        for t in reversed(tf.topics[:FEED_SIZE] if tf else ()):  # feedgen prepends entries
            entry = fg.add_entry()
            url = f"{base}/topics/{t.id}"
            # the id names the build: topic ids are ranks, renumbered by every build
            entry.id(f"{url}#{built:%Y%m%dT%H%M%S}")
            entry.title(_x(f"{t.name} ({growth_text(t)})"))
            entry.link(href=url, rel="alternate")
            cats = ", ".join(code for code, _ in t.categories[:5])
            entry.summary(_x(f"{t.papers} papers, {t.votes} upvotes; terms: {', '.join(t.terms)}"
                             + (f"; categories: {cats}" if cats else "")), type="text")
            entry.published(built)
            entry.updated(built)
        fg.updated(built)
        body: bytes = fg.atom_str(pretty=False)
        return body

    return _respond(state, state.cached(("feed-topics", file_stamp(state)), compute))
