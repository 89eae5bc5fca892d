"""Search page, API and similar papers over the real search index (paperfeed.index +
ranking.search)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from paperfeed.store import Store
from tests.web_fixtures import paper_id


def test_search_page_finds_and_filters(client: TestClient) -> None:
    r = client.get("/search", params={"q": "transformers"})
    assert r.status_code == 200
    marked = re.findall(r'<h2 class="card-title"><a href="/papers/\d+">(.*?)</a></h2>', r.text)
    assert "Vision <mark>Transformers</mark> at Scale" in marked  # the matched word is marked
    titles = [re.sub(r"</?mark>", "", t) for t in marked]
    assert "Vision Transformers at Scale" in titles
    assert any("Transformers" in t and "&lt;script&gt;" in t for t in titles)  # escaped
    assert '<p class="why">matched: <mark>transformers</mark></p>' in r.text  # why it matched
    assert 'value="transformers"' in r.text
    r = client.get("/search", params={"q": "transformers", "category": "cs.CV"})
    titles = [
        re.sub(r"</?mark>", "", t)
        for t in re.findall(r'<h2 class="card-title"><a href="/papers/\d+">(.*?)</a></h2>', r.text)
    ]
    assert titles == ["Vision Transformers at Scale"]
    r = client.get("/search", params={"q": "protein author:franklin"})
    assert "Diffusion Models for Protein Design" in r.text
    assert client.get("/search", params={"q": "x", "since": "nope"}).status_code == 400
    assert client.get("/search").status_code == 200  # empty form


def test_search_api_paging_and_sorting(client: TestClient) -> None:
    data = client.get(
        "/api/v1/search", params={"q": "transformers", "mode": "lexical", "limit": 1}
    ).json()
    assert data["total"] >= 2 and len(data["papers"]) == 1 and data["papers"][0]["score"] > 0
    page2 = client.get(
        "/api/v1/search", params={"q": "transformers", "mode": "lexical", "limit": 1, "page": 2}
    ).json()
    assert page2["papers"][0]["id"] != data["papers"][0]["id"]
    assert data["all_words"] == data["total"] and data["some_words"] == 0
    assert data["papers"][0]["matched_terms"] == ["transformers"]
    by_date = client.get("/api/v1/search", params={"q": "transformers", "sort": "date"}).json()[
        "papers"
    ]
    days = [p["day"] for p in by_date]
    assert days == sorted(days, reverse=True)
    r = client.get(
        "/api/v1/search", params={"q": "x", "since": "2025-02-01", "until": "2025-01-01"}
    )
    assert r.status_code == 400 and r.json()["status"] == 400
    assert client.get("/api/v1/search", params={"sort": "upvotes"}).status_code == 400


def test_similar_papers(client: TestClient, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00004")
    r = client.get(f"/api/v1/papers/{pid}/similar", params={"k": 3})
    assert r.status_code == 200
    ids = [p["id"] for p in r.json()]
    assert pid not in ids
    assert client.get("/api/v1/papers/999999/similar").status_code == 404
    assert client.get(f"/papers/{pid}").status_code == 200


def test_about_shows_index_status(client: TestClient) -> None:
    client.get("/search", params={"q": "transformers"})
    html = client.get("/about").text
    assert re.search(r'id="index-status">by words', html), html[html.find("index-status"):][:300]
    assert "index_dir" not in html and "/index" not in html  # internals are for administrators
