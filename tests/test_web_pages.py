"""Server-rendered pages: home ordering and day navigation, escaping, paper page, categories, about,
caching."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from paperfeed.store import Store
from tests.web_fixtures import NASTY_TITLE, page_csrf, paper_id, signup


def _titles(html: str) -> list[str]:
    return re.findall(r'<h2 class="card-title"><a href="/papers/\d+">(.*?)</a></h2>', html)


def test_home_shows_newest_day_most_upvoted_first(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    titles = _titles(r.text)
    # 2025-01-06: 40 upvotes, then two with 10 (newer id first).
    assert titles[0] == "Attention Is Still All You Need"
    assert len(titles) == 3 and "Vision Transformers at Scale" not in titles
    assert "Monday, 06 January 2025" in r.text
    assert 'href="/?period=day&amp;day=2025-01-05" rel="prev"' in r.text
    assert "Next day" not in r.text
    # Card contents: authors, category names, links, upvote count.
    # each name links to its author page
    assert "Ada Lovelace, Alan Turing" in re.sub(r"<[^>]+>", "", r.text)
    assert 'href="/authors/Ada%20Lovelace"' in r.text
    assert "Computation and Language" in r.text and 'href="/c/cs.CL"' in r.text
    assert (
        'href="https://arxiv.org/pdf/2501.00001"' in r.text
        and 'href="https://github.com/example/attn"' in r.text
    )
    assert '<span class="count">40</span>' in r.text


def test_previous_day_week_and_month_tabs(client: TestClient) -> None:
    r = client.get("/?day=2025-01-05")
    assert _titles(r.text) == ["Vision Transformers at Scale"]
    assert 'day=2025-01-06" rel="next"' in r.text and 'day=2025-01-03" rel="prev"' in r.text
    week = client.get("/?period=week")
    assert _titles(week.text)[0] == "Vision Transformers at Scale"  # 99 upvotes
    assert len(_titles(week.text)) == 5 and "from 2024-12-31 to 2025-01-06" in week.text
    assert 'aria-current="page" class="active">Week' in week.text
    assert client.get("/?period=month").status_code == 200
    assert client.get("/?period=year").status_code == 400
    bad = client.get("/?day=yesterday")
    assert bad.status_code == 400 and "not a date" in bad.text


def test_titles_and_abstracts_are_escaped(client: TestClient, seeded: Store) -> None:
    for path in ("/?period=week", f"/papers/{paper_id(seeded, '2501.00003')}"):
        html = client.get(path).text
        assert "<script>alert" not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; $\\alpha&lt;\\beta$" in html
    assert NASTY_TITLE  # the raw title really had markup in it


def test_paper_page(client: TestClient, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00001")
    r = client.get(f"/papers/{pid}")
    assert r.status_code == 200
    html = r.text
    assert "We revisit attention for sequence models." in html
    assert (
        "Ada Lovelace, Alan Turing" in re.sub(r"<[^>]+>", "", html) and "Machine Learning" in html
    )
    assert "2501.00001v2" in html and "https://arxiv.org/abs/2501.00001v2" in html
    assert "Not in any collection yet." in html and "Log in</a> to upvote" in html
    assert client.get("/papers/999999").status_code == 404
    assert client.get("/papers/abc").status_code == 404  # a friendly page, not a validation message
    r = client.get("/arxiv/https://arxiv.org/abs/2501.00001v2", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{pid}"
    assert client.get("/arxiv/2599.99999").status_code == 404


def test_categories_and_category_page(client: TestClient) -> None:
    r = client.get("/categories")
    assert "Computer Vision and Pattern Recognition" in r.text and 'href="/c/cs.CV"' in r.text
    r = client.get("/c/cs.LG?period=month")
    assert r.status_code == 200 and "Machine Learning" in r.text
    assert "Graph Neural Networks for Chemistry" in r.text  # cs.LG as a secondary category counts
    assert "Vision Transformers" not in r.text
    assert client.get("/c/not.acat").status_code == 404


def test_trending_and_about(client: TestClient) -> None:
    r = client.get("/trending")
    titles = _titles(r.text)
    assert titles[0] == "Attention Is Still All You Need"  # 40 fresh beats 99 a day older
    about = client.get("/about").text
    assert "score = (votes + 1.0 × HF upvotes) / (age_hours + 2.0) ^ 1.8" in about
    assert 'id="papers-count">5<' in about and "Last update" in about
    assert "No source is followed here" in about  # said plainly, for readers
    assert 'id="index-status"' in about


def test_not_found_page_and_security_headers(client: TestClient) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "Not found" in r.text
    h = client.get("/").headers
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert "default-src 'self'" in h["content-security-policy"]


def test_static_assets_have_cache_headers(client: TestClient) -> None:
    html = client.get("/").text
    css = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', html)
    assert css
    r = client.get(css.group(1))
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert client.get("/static/app.js").headers["cache-control"] == "public, max-age=3600"


def test_cached_home_changes_after_a_vote(client: TestClient, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00002")
    anon = client.get("/").text
    assert anon.count('<span class="count">10</span>') == 2
    assert client.get("/").headers["cache-control"].startswith("public")
    signup(client, "voter")
    token = page_csrf(client)
    r = client.post(
        f"/papers/{pid}/upvote", data={"csrf_token": token, "next": "/"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    html = client.get("/").text
    assert '<span class="count">11</span>' in html and 'aria-pressed="true"' in html
    assert client.get("/").headers["cache-control"] == "private, no-store"
    client.post("/logout", data={"csrf_token": token})
    # the anonymous cache moved on too
    assert '<span class="count">11</span>' in client.get("/").text


def test_upvote_form_with_json_accept_and_next_is_local(client: TestClient, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00001")
    signup(client, "jsuser")
    token = page_csrf(client)
    r = client.post(
        f"/papers/{pid}/upvote", data={"csrf_token": token}, headers={"accept": "application/json"}
    )
    assert r.json() == {"paper_id": pid, "upvotes": 41, "voted": True}
    r = client.post(
        f"/papers/{pid}/upvote", data={"csrf_token": token}, headers={"accept": "application/json"}
    )
    assert r.json()["upvotes"] == 41  # a second vote changes nothing
    r = client.post(f"/papers/{pid}/unvote", data={"csrf_token": token, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.headers["location"] == f"/papers/{pid}"


def test_cards_and_paper_page_show_hugging_face_facts_and_math(
    client: TestClient, seeded: Store
) -> None:
    from datetime import date

    from paperfeed.core.models import Paper

    seeded.papers.upsert_papers(
        [
            Paper(
                title="Sparse $\\mathcal{O}(n)$ attention",
                abstract="We study Schrödinger bridges in $x^2$ time.",
                arxiv_id="2501.09999",
                authors=("Grace Hopper",),
                categories=("cs.LG",),
                featured_on=date(2025, 1, 6),
                published=date(2025, 1, 6),
                external_upvotes=3,
                source="hf-daily",
                github_stars=12345,
                organization="nvidia",
                organization_name="NVIDIA",
                project_page="https://research.nvidia.com/labs/sparse",
                ai_summary="A one-line summary by a model.",
            )
        ]
    )
    home = client.get("/").text
    card = home[home.index('<a href="/papers/', home.index("Sparse")):][:4000]
    assert (
        "12,345" in card
        and "NVIDIA" in card
        and 'href="https://research.nvidia.com/labs/sparse"' in card
    )
    title = card.split("</h2>")[0]
    assert "<math" in title and "$" not in title  # TeX as MathML, no dollar signs
    page = client.get("/papers/2501.09999").text
    assert ">Organisation</dt>" in page and "12,345" in page
    assert "AI summary" in page and "A one-line summary by a model." in page
    abstract = page[page.index("<h2>Abstract</h2>"):][:600]
    # never as the abstract
    assert "Schrödinger" in abstract and "A one-line summary" not in abstract
