"""The REST API: listings, papers, trending, votes, collections, submit, auth and JSON errors."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.store import Store
from tests.web_fixtures import (
    FakeArxiv,
    make_app,
    page_csrf,
    paper_id,
    signup,
)


def _token(client: TestClient, username: str) -> dict[str, str]:
    """Sign up in a fresh session and return Bearer headers for a new API token."""
    c = TestClient(client.app)
    signup(c, username)
    html = c.post(
        "/profile/tokens", data={"name": "t", "scope": "write", "csrf_token": page_csrf(c)}
    ).text
    token = html.split('id="new-token">', 1)[1].split("<", 1)[0]
    return {"Authorization": f"Bearer {token}"}


def test_list_papers_by_day_week_month(client: TestClient) -> None:
    r = client.get("/api/v1/papers")
    data = r.json()
    assert r.status_code == 200 and data["day"] == "2025-01-06" and data["prev_day"] == "2025-01-05"
    assert [p["arxiv_id"] for p in data["papers"]] == ["2501.00001", "2501.00003", "2501.00002"]
    first = data["papers"][0]
    assert first["upvotes"] == 40 and first["categories"][0] == {
        "code": "cs.CL",
        "name": "Computation and Language",
    }
    assert first["links"]["pdf"] == "https://arxiv.org/pdf/2501.00001"
    week = client.get("/api/v1/papers", params={"period": "week", "limit": 2}).json()
    assert (
        week["total"] == 5
        and len(week["papers"]) == 2
        and week["papers"][0]["arxiv_id"] == "2501.00004"
    )
    page2 = client.get("/api/v1/papers", params={"period": "week", "limit": 2, "page": 2}).json()
    assert [p["arxiv_id"] for p in page2["papers"]] == ["2501.00003", "2501.00002"]
    cat = client.get("/api/v1/papers", params={"period": "month", "category": "cs.CV"}).json()
    assert [p["arxiv_id"] for p in cat["papers"]] == ["2501.00004"]


def test_json_errors(client: TestClient) -> None:
    for path, status in (
        ("/api/v1/papers?day=not-a-day", 400),
        ("/api/v1/papers?limit=0", 400),
        ("/api/v1/papers?period=year", 400),
        ("/api/v1/papers?category=xx.YY", 400),
        ("/api/v1/papers/999999", 404),
        ("/api/v1/papers/0", 400),
        ("/api/v1/papers/99999999999999999999", 400),
        ("/api/v1/nothing", 404),
        ("/api/v1/papers?q=%00", 400),
    ):
        r = client.get(path)
        assert r.status_code == status, path
        body = r.json()
        assert body["status"] == status and isinstance(body["message"], str) and body["message"], (
            path
        )
    r = client.post("/api/v1/papers/1/upvote")
    assert r.status_code == 401 and r.json()["status"] == 401
    r = client.delete("/api/v1/papers")
    assert r.status_code == 405 and r.json()["status"] == 405


def test_get_paper_trending_categories(client: TestClient, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00001")
    p = client.get(f"/api/v1/papers/{pid}").json()
    assert p["abstract"] == "We revisit attention for sequence models." and p["versions"] == [2]
    t = client.get("/api/v1/trending").json()
    assert t["params"]["gravity"] == 1.8 and "score" in t["formula"]
    assert (
        t["papers"][0]["arxiv_id"] == "2501.00001"
        and t["papers"][0]["score"] > t["papers"][1]["score"]
    )
    cats = client.get("/api/v1/categories").json()
    assert {"code": "cs.CL", "name": "Computation and Language"} in cats
    assert (
        client.get("/api/v1/trending", params={"category": "cs.CV"}).json()["papers"][0]["arxiv_id"]
        == "2501.00004"
    )


def test_upvote_with_token_and_session(client: TestClient, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00002")
    auth = _token(client, "ada")
    r = client.post(f"/api/v1/papers/{pid}/upvote", headers=auth)
    assert r.json() == {"paper_id": pid, "upvotes": 11, "voted": True, "changed": True}
    r = client.post(f"/api/v1/papers/{pid}/upvote", headers=auth)  # double vote
    assert r.json() == {"paper_id": pid, "upvotes": 11, "voted": True, "changed": False}
    assert client.get("/api/v1/papers").json()["papers"][1]["upvotes"] == 11  # cache invalidated
    r = client.post(f"/api/v1/papers/{pid}/upvote", headers={"Authorization": "Bearer pf_wrong"})
    assert r.status_code == 401
    r = client.post(f"/api/v1/papers/{pid}/upvote", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    # A browser session needs the CSRF header on API writes.
    signup(client, "bob")
    assert client.post(f"/api/v1/papers/{pid}/upvote").status_code == 403
    r = client.post(f"/api/v1/papers/{pid}/upvote", headers={"X-CSRF-Token": page_csrf(client)})
    assert r.status_code == 200 and r.json()["upvotes"] == 12
    r = client.delete(f"/api/v1/papers/{pid}/upvote", headers=auth)
    assert r.json()["upvotes"] == 11 and r.json()["changed"] is True
    assert client.post("/api/v1/papers/999999/upvote", headers=auth).status_code == 404


def test_collections_api_and_ownership(client: TestClient, seeded: Store) -> None:
    ada, bob = _token(client, "ada"), _token(client, "bob")
    p1, p2 = paper_id(seeded, "2501.00001"), paper_id(seeded, "2501.00003")
    r = client.post(
        "/api/v1/collections", headers=ada, json={"name": "  Reading  ", "description": "x"}
    )
    assert r.status_code == 201
    cid = r.json()["id"]
    assert r.json()["name"] == "Reading" and r.json()["is_public"] is False
    assert (
        client.put(f"/api/v1/collections/{cid}/papers/{p1}", headers=ada).json()["paper_count"] == 1
    )
    assert (
        client.put(f"/api/v1/collections/{cid}/papers/{p1}", headers=ada).json()["paper_count"] == 1
    )
    client.put(f"/api/v1/collections/{cid}/papers/{p2}", headers=ada)
    # Bob sees nothing and changes nothing.
    assert client.get(f"/api/v1/collections/{cid}", headers=bob).status_code == 404
    assert client.get(f"/api/v1/collections/{cid}").status_code == 404
    assert (
        client.patch(f"/api/v1/collections/{cid}", headers=bob, json={"name": "bob's"}).status_code
        == 404
    )
    assert client.put(f"/api/v1/collections/{cid}/papers/{p2}", headers=bob).status_code == 404
    assert client.delete(f"/api/v1/collections/{cid}/papers/{p1}", headers=bob).status_code == 404
    assert client.delete(f"/api/v1/collections/{cid}", headers=bob).status_code == 404
    assert client.get("/api/v1/collections", headers=bob).json() == []
    # Ada publishes it; then anyone can read and export it.
    r = client.patch(f"/api/v1/collections/{cid}", headers=ada, json={"is_public": True})
    assert r.json()["is_public"] is True and r.json()["name"] == "Reading"
    full = client.get(f"/api/v1/collections/{cid}").json()
    assert [p["arxiv_id"] for p in full["papers"]] == ["2501.00003", "2501.00001"]
    bib = client.get(f"/api/v1/collections/{cid}/export").text
    assert (
        bib.count("@misc{") == 2
        and "eprint = {2501.00001}" in bib
        and "archivePrefix = {arXiv}" in bib
    )
    assert bib.count("{") == bib.count("}")  # LaTeX/markup in the title cannot unbalance it
    exported = json.loads(client.get(f"/api/v1/collections/{cid}/export?format=json").text)
    assert exported["name"] == "Reading" and exported["papers"][1]["abstract"].startswith(
        "We revisit"
    )
    assert client.post("/api/v1/collections", headers=ada, json={"name": ""}).status_code == 400
    assert client.post("/api/v1/collections", headers=ada, json={"name": "   "}).status_code == 400
    assert (
        client.post("/api/v1/collections", headers=ada, json={"name": "a\x00b"}).status_code == 400
    )
    assert (
        client.delete(f"/api/v1/collections/{cid}/papers/{p1}", headers=ada).json()["paper_count"]
        == 1
    )
    assert client.delete(f"/api/v1/collections/{cid}", headers=ada).status_code == 204
    assert client.get(f"/api/v1/collections/{cid}").status_code == 404


def test_collection_pages_and_exports(client: TestClient, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00003")
    signup(client, "ada")
    token = page_csrf(client)
    r = client.post("/collections", data={"name": "Nasty", "csrf_token": token, "is_public": "1",
                                          "paper_id": str(pid)}, follow_redirects=False)
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/collections/{cid}").text
    assert "&lt;script&gt;" in page and "export.bib" in page
    anon = TestClient(client.app)
    bib = anon.get(f"/collections/{cid}/export.bib")
    assert bib.status_code == 200 and "attachment" in bib.headers["content-disposition"]
    assert "title = {scriptalert('x')/script" not in bib.text and "@misc{2501.00003," in bib.text
    assert json.loads(anon.get(f"/collections/{cid}/export.json").text)["papers"][0]["id"] == pid
    assert "Nasty" in anon.get(f"/papers/{pid}").text and "Nasty" in anon.get("/u/ada").text


def test_submit_validation_duplicates_and_queue(settings: Settings, seeded: Store) -> None:
    with make_app(
        settings, seeded, arxiv_api_url="http://127.0.0.1:9/api/query", arxiv_delay=0.0
    ) as c:
        auth = _token(c, "ada")
        r = c.post("/api/v1/submissions", headers=auth, json={"ref": "not an id"})
        assert r.status_code == 400 and "arXiv id" in r.json()["message"]
        r = c.post(
            "/api/v1/submissions", headers=auth, json={"ref": "https://arxiv.org/abs/2501.00001v1"}
        )
        assert r.status_code == 200 and r.json()["status"] == "exists"
        r = c.post("/api/v1/submissions", headers=auth, json={"ref": "arXiv:2503.99999"})
        assert r.status_code == 202 and r.json()["status"] == "queued"
        r = c.post("/api/v1/submissions", headers=auth, json={"ref": "2503.99999"})
        assert r.status_code == 202 and "already queued" in r.json()["message"]
        assert [s.arxiv_id for s in seeded.submissions.list_submissions(status="queued")] == [
            "2503.99999"
        ]
        assert c.post("/api/v1/submissions", json={"ref": "2503.99999"}).status_code == 401


def test_submit_queues_and_the_worker_fetches_from_arxiv(
    settings: Settings, seeded: Store, fake_arxiv: FakeArxiv
) -> None:
    from paperfeed.delivery.app.submissions import process_submissions
    from paperfeed.index import open_search_index
    from paperfeed.ranking.search import search_papers

    with make_app(settings, seeded, arxiv_api_url=fake_arxiv.url, arxiv_delay=0.0) as c:
        auth = _token(c, "ada")
        r = c.post(
            "/api/v1/submissions",
            headers=auth,
            json={"ref": "https://arxiv.org/pdf/2503.11731v1.pdf"},
        )
        # a request never fetches from arXiv (#21 F3): queued for the worker
        assert r.status_code == 202, r.text
        body = r.json()
        assert (
            body["status"] == "queued"
            and body["arxiv_id"] == "2503.11731"
            and body["paper_id"] is None
        )
        assert fake_arxiv.requests == []
        r = c.post("/api/v1/submissions", headers=auth, json={"ref": "2503.00404"})
        assert r.status_code == 202
        web = c.app.state.web  # type: ignore[attr-defined]
        counts = process_submissions(web.settings, web.store)
        assert counts == {"done": 1, "failed": 1, "queued": 0}
        done = {s.arxiv_id: s for s in seeded.submissions.list_submissions()}
        assert done["2503.00404"].status == "failed" and "no paper" in (
            done["2503.00404"].error or ""
        )
        pid = done["2503.11731"].paper_id
        assert pid is not None
        paper = c.get(f"/api/v1/papers/{pid}").json()
        assert (
            paper["title"] == "Submitted Paper on Tokenizers"
            and paper["authors"][0] == "Sub Mitter"
        )
        again = c.post("/api/v1/submissions", headers=auth, json={"ref": "2503.11731"}).json()
        assert again["status"] == "exists" and again["paper_id"] == pid
    # the submission went through the ingest path: a run record and an index refresh
    run = seeded.runs.recent_runs(1)[0]
    assert run.source == "submission:2503.11731" and run.status == "ok" and run.counts.new == 1
    hits = search_papers(
        open_search_index(settings, seeded), "tokenizers submitted", mode="lexical"
    ).hits
    assert pid in [h.paper_id for h in hits]
    # Queued while arXiv was unreachable: still queued, then fetched once arXiv answers.
    seeded.submissions.add_submission(None, "2503.22222", "queued")
    offline = with_overrides(
        settings, arxiv_api_url="http://127.0.0.1:9/api/query", arxiv_delay=0.0, http_retries=0
    )
    assert process_submissions(offline, seeded) == {"done": 0, "failed": 0, "queued": 1}
    with make_app(settings, seeded, arxiv_api_url=fake_arxiv.url, arxiv_delay=0.0) as c:
        web = c.app.state.web  # type: ignore[attr-defined]
        counts = process_submissions(web.settings, web.store)
    assert counts == {"done": 1, "failed": 0, "queued": 0}
    assert seeded.papers.get_paper_by_arxiv("2503.22222") is not None


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/papers",
        "/api/v1/papers/{paper_id}",
        "/api/v1/search",
        "/api/v1/trending",
        "/api/v1/categories",
        "/api/v1/papers/{paper_id}/upvote",
        "/api/v1/submissions",
        "/api/v1/collections",
        "/api/v1/papers/{paper_id}/similar",
    ):
        assert path in paths, path
    assert not any(p.startswith(("/papers", "/login")) for p in paths)
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200
