"""Code links from the text in the API and on pages; the landing-day and trending notices."""

from __future__ import annotations

from datetime import date

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.store import Store
from tests.web_fixtures import make_app


def test_text_links_reach_the_api_and_pages_and_notices_show(
    settings: Settings, store: Store
) -> None:
    store.papers.upsert_papers(
        [
            Paper(
                title="Paper with code in its abstract",
                arxiv_id="2602.00001",
                featured_on=date(2026, 2, 27),
                external_upvotes=7,
                abstract="Code: https://github.com/lab/tool. Demo: "
                         "https://huggingface.co/spaces/lab/demo",
            ),
            Paper(title="An undated listing paper", abstract="Nothing dated here."),
        ]
    )
    with make_app(settings, store) as client:
        pid = store.papers.get_paper_by_arxiv("2602.00001").id  # type: ignore[union-attr]
        data = client.get(f"/api/v1/papers/{pid}").json()
        assert data["links"]["code"] == "https://github.com/lab/tool"
        assert data["links"]["project"] == "https://huggingface.co/spaces/lab/demo"
        listing = client.get("/api/v1/papers").json()
        assert listing["day"] == "2026-02-27" and "latest day with papers" in listing["notice"]
        assert [p["title"] for p in listing["papers"]] == ["Paper with code in its abstract"]
        assert "newest papers: 27 Feb 2026" in client.get("/api/v1/trending").json()["notice"]
        home = client.get("/").text
        assert 'href="https://github.com/lab/tool"' in home and "7 upvotes" in home
        undated = store.papers.find_by_title("An undated listing paper")
        assert undated is not None and undated.day is None
        page = client.get(f"/papers/{undated.id}").text
        assert ">undated</span>" in page
