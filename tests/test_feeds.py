"""Atom feeds parse with feedparser without bozo, carry paper text as text (never HTML), and follow
writes."""

from __future__ import annotations

import feedparser
from starlette.testclient import TestClient

from paperfeed.core.models import Paper
from paperfeed.store import Store
from tests.web_fixtures import NASTY_TITLE, page_csrf, paper_id, signup


def _parse(client: TestClient, path: str) -> feedparser.FeedParserDict:
    r = client.get(path)
    assert r.status_code == 200, path
    assert r.headers["content-type"].startswith("application/atom+xml")
    assert "max-age" in r.headers["cache-control"]
    feed = feedparser.parse(r.content)
    assert not feed.bozo, (path, feed.get("bozo_exception"))
    assert feed.version == "atom10"
    return feed


def test_daily_feed(client: TestClient) -> None:
    feed = _parse(client, "/feeds/daily.xml")
    assert "2025-01-06" in feed.feed.title
    titles = [e.title for e in feed.entries]
    assert (
        titles[0] == "Attention Is Still All You Need"
        and NASTY_TITLE in titles
        and len(titles) == 3
    )
    entry = feed.entries[0]
    assert entry.link.startswith("http://127.0.0.1:8000/papers/") and entry.id == entry.link
    assert "Ada Lovelace" in entry.summary and entry.published_parsed[:3] == (2025, 1, 6)
    assert {t.term for t in entry.tags} == {"cs.CL", "cs.LG"}


def test_trending_category_and_search_feeds(client: TestClient) -> None:
    assert (
        _parse(client, "/feeds/trending.xml").entries[0].title == "Attention Is Still All You Need"
    )
    cat = _parse(client, "/feeds/c/cs.CV.xml")
    assert [e.title for e in cat.entries] == ["Vision Transformers at Scale"]
    assert "Computer Vision" in cat.feed.title
    assert client.get("/feeds/c/zz.ZZ.xml").status_code == 404
    search = _parse(client, "/feeds/search.xml?q=transformers")
    assert "transformers" in search.feed.title  # entries depend on the search index
    _parse(client, "/feeds/search.xml?q=" + "%3Cb%3E%26")


def test_feed_survives_control_characters_and_follows_votes(
    client: TestClient, seeded: Store
) -> None:
    seeded.papers.upsert_papers(
        [
            Paper(
                title="Bad \x0b control \x1f chars",
                abstract="form\x0cfeed",
                arxiv_id="2501.00009",
                featured_on=seeded.papers.paper_days()[0],
                external_upvotes=1000,
                source="hf-daily",
            )
        ]
    )
    feed = _parse(client, "/feeds/daily.xml")
    assert feed.entries[0].title == "Bad  control  chars"
    pid = paper_id(seeded, "2501.00002")
    signup(client, "ada")
    client.post(f"/papers/{pid}/upvote", data={"csrf_token": page_csrf(client)})
    entry = next(
        e for e in _parse(client, "/feeds/daily.xml").entries if e.title.startswith("Diffusion")
    )
    assert "Upvotes: 11" in entry.summary
