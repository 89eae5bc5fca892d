"""The topics pages, the topics feed and the SVG charts (paper, category, profile) on both
backends."""

from __future__ import annotations

import json
import re

import feedparser
import pytest
from starlette.testclient import TestClient

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app.topics import build_topics
from paperfeed.delivery.common import charts
from paperfeed.delivery.web import topic_routes
from paperfeed.store import Store
from tests._topics_fixtures import GROWING, THEMES, planted
from tests.web_fixtures import make_app, page_csrf, signup

SVG = re.compile(r'<svg\b[^>]*role="img"[^>]*aria-label="[^"]+"[^>]*>\s*<title>[^<]+</title>')


def _site(settings: Settings, store: Store) -> tuple[Settings, TestClient]:
    settings = with_overrides(settings, topics_clusters=4, topics_weeks=8)
    store.papers.upsert_papers(planted().papers)
    build_topics(settings, store)
    return settings, make_app(settings, store)


def test_topics_page_topic_page_and_feed(settings: Settings, store: Store) -> None:
    settings, client = _site(settings, store)
    with client:
        page = client.get("/topics")
        assert page.status_code == 200
        assert 'href="/topics" aria-current="page"' in page.text  # in the nav
        assert len(SVG.findall(page.text)) == 4  # one accessible chart per topic
        assert "style=" not in page.text.split("<main", 1)[1]  # the CSP forbids inline styles
        assert "TF-IDF" in page.text  # says how it clustered (no embeddings here)
        first = re.search(r'<a href="/topics/1">([^<]+)</a>', page.text)
        assert first is not None
        # the label says which measure, and the chart beside it shows that measure with the same
        # figure
        label = re.search(
            r'<small class="growth">(\+\d+% share of papers, weighted by upvotes)</small>',
            page.text,
        )
        assert label, page.text[:3000]
        chart = SVG.search(page.text.split('id="topic-1"', 1)[1])
        assert (
            chart
            and label.group(1) in chart.group(0)
            and "Share of papers, weighted by upvotes, week by week" in chart.group(0)
        )
        assert set(first.group(1).replace(",", " ").split()) <= set(THEMES[GROWING][0])
        one = client.get("/topics/1")
        assert one.status_code == 200 and SVG.search(one.text)
        assert re.search(
            r'id="per-week">Papers per week, oldest first[^<]*: (\d+, ){7}\d+\.</p>', one.text
        )
        assert one.text.count('class="card"') == 50  # its papers as listing cards, best first
        assert "cs.CV" in one.text
        assert client.get("/topics/99").status_code == 404
        svg = client.get("/charts/topics/1.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert (
            svg.text.startswith("<svg")
            and "Share of papers, weighted by upvotes, week by week" in svg.text
        )
        feed = feedparser.parse(client.get("/feeds/topics.xml").content)
        assert not feed.bozo, feed.bozo_exception
        assert len(feed.entries) == 4
        assert feed.entries[0].title.startswith(first.group(1))
        assert feed.entries[0].link.endswith("/topics/1")
        assert "papers" in feed.entries[0].summary


def test_topics_page_before_any_build(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(planted().papers[:5])
    with make_app(settings, store) as client:
        page = client.get("/topics")
        assert page.status_code == 200 and "paperfeed topics build" in page.text
        assert client.get("/topics/1").status_code == 404
        assert feedparser.parse(client.get("/feeds/topics.xml").content).entries == []


def test_charts_on_paper_category_and_profile_pages(settings: Settings, store: Store) -> None:
    settings, client = _site(settings, store)
    paper = store.papers.get_paper_by_arxiv("2601.00004")  # 3 Hugging Face upvotes when ingested
    assert paper is not None and paper.id is not None and paper.external_upvotes == 3
    with client:
        before = client.get(f"/papers/{paper.id}").text
        # one point in time: no chart
        assert "1 reading: 0 paperfeed upvotes; 3 on Hugging Face" in before
        assert not SVG.search(before.split('id="upvotes-h"', 1)[1])
        signup(client, "reader")
        token = page_csrf(client)
        assert "Upvote or collect papers" in client.get("/profile").text
        client.post(f"/papers/{paper.id}/upvote", data={"csrf_token": token})
        page = client.get(f"/papers/{paper.id}")
        assert "Upvotes over time" in page.text
        # not drawn yet (a vote since the last job): the page does not wait, it links the image
        img = re.search(
            r'<img class="chart" src="(/charts/papers/\d+/upvotes\.svg\?v=\w+)" alt="([^"]+)"',
            page.text,
        )
        assert img and "1 paperfeed upvotes; 3 on Hugging Face" in img.group(2)
        svg = client.get(img.group(1))
        assert svg.status_code == 200 and svg.text.startswith("<svg")
        assert "1 paperfeed upvotes; 3 on Hugging Face" in svg.text
        profile = client.get("/profile").text
        match = SVG.search(profile.split('id="reading"', 1)[1])
        assert match and "Your reading by category" in match.group(0)
        assert f"{paper.primary_category} (1 upvoted" in match.group(0)
        cat = client.get("/c/cs.CV")
        assert SVG.search(cat.text) and "Papers per day in cs.CV" in cat.text
        assert client.get("/charts/c/cs.CV.svg").text.startswith("<svg")
        assert client.get("/charts/c/xx.YY.svg").status_code == 404


def test_pages_say_which_extra_is_missing(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charts, "charts_available", lambda: False)
    monkeypatch.setattr(topic_routes, "topics_extra_installed", lambda: False)
    settings, client = _site(settings, store)
    with client:
        page = client.get("/topics").text
        assert "pip install &#39;paperfeed[topics]&#39;" in page
        assert "<svg" not in page.split("<main", 1)[1]
        assert "Charts need the topics extra" in client.get("/c/cs.CV").text
        assert client.get("/charts/topics/1.svg").status_code == 404


def test_the_topics_job_draws_the_charts_so_a_first_view_draws_none(
        settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, client = _site(settings, store)
    drawn = json.loads((settings.data_path / "topics-charts.json").read_text(encoding="utf-8"))
    assert len(drawn["charts"]) == 4 and all(v.startswith("<svg") for v in drawn["charts"].values())

    def no_drawing(*args: object, **kwargs: object) -> str:
        raise AssertionError("a page view drew a topic chart")

    monkeypatch.setattr(charts, "topic_share_chart", no_drawing)
    with client:
        page = client.get("/topics")
        assert page.status_code == 200 and len(SVG.findall(page.text)) == 4
        assert SVG.search(client.get("/topics/2").text)
