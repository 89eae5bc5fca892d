"""Followed sources on the web: /api/v1/sources and /admin/sources for administrators only, the
public /status page (HTML and JSON), and the new paper fields on the paper page, API and BibTeX."""

from __future__ import annotations

from datetime import date

from starlette.testclient import TestClient

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.store import Store
from tests.web_fixtures import csrf_from, make_app, page_csrf, signup


def _admin(client: TestClient, store: Store, name: str = "root") -> str:
    signup(client, name)
    store.users.set_admin(name)
    return page_csrf(client)


def test_sources_api_is_for_administrators_only(client: TestClient, seeded: Store) -> None:
    assert client.get("/api/v1/sources").status_code == 401
    signup(client, "plain")
    assert client.get("/api/v1/sources").status_code == 403
    seeded.users.set_admin("plain")
    token = page_csrf(client)
    headers = {"X-CSRF-Token": token}
    made = client.post(
        "/api/v1/sources", json={"kind": "arxiv", "categories": ["cs.CL", "cs.LG"]}, headers=headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "arxiv-cs.CL_cs.LG"
    assert made.json()["params"] == {"categories": ["cs.CL", "cs.LG"]}
    bad = client.post("/api/v1/sources", json={"kind": "rss"}, headers=headers)
    assert bad.status_code == 400 and "arxiv, arxiv-oai, hf-daily" in bad.json()["message"]
    twice = client.post(
        "/api/v1/sources", json={"kind": "arxiv", "categories": ["cs.CL", "cs.LG"]}, headers=headers
    )
    assert twice.status_code == 409
    assert [s["name"] for s in client.get("/api/v1/sources").json()] == ["arxiv-cs.CL_cs.LG"]
    assert client.get("/api/v1/sources/arxiv-cs.CL_cs.LG").json()["cursor"] == {}
    assert client.delete("/api/v1/sources/arxiv-cs.CL_cs.LG", headers=headers).status_code == 204
    assert client.get("/api/v1/sources/arxiv-cs.CL_cs.LG").status_code == 404


def test_admin_page_adds_and_removes(client: TestClient, seeded: Store) -> None:
    # to the login page
    assert client.get("/admin/sources", follow_redirects=False).status_code == 303
    signup(client, "bob")
    assert client.get("/admin/sources").status_code == 403
    token = _admin(client, seeded, "root")
    page = client.get("/admin/sources")
    assert page.status_code == 200 and "Follow a source" in page.text
    done = client.post(
        "/admin/sources", data={"kind": "arxiv-oai", "set_spec": "cs", "csrf_token": token}
    )
    assert done.status_code == 200 and "arxiv-oai-cs" in done.text
    refused = client.post(
        "/admin/sources", data={"kind": "arxiv-oai", "categories": "cs.CL", "csrf_token": token}
    )
    assert refused.status_code == 400 and "--set" in refused.text
    gone = client.post(
        "/admin/sources/arxiv-oai-cs/remove", data={"csrf_token": csrf_from(done.text)}
    )
    assert gone.status_code == 200 and seeded.sources.get_source("arxiv-oai-cs") is None


def test_status_page_and_json(settings: Settings, seeded: Store) -> None:
    seeded.sources.add_source("hf-daily", "hf-daily", {})
    with make_app(settings, seeded) as c:
        ok = c.get("/status.json")
        assert ok.status_code == 200 and ok.json()["ok"] is True
        assert (
            ok.json()["sources"][0]["name"] == "hf-daily"
            and "cursor" not in ok.json()["sources"][0]
        )
        assert "hf-daily" in c.get("/status").text
    with make_app(
        settings.__class__(**{**settings.__dict__, "sources_stale_hours": 0.0}), seeded
    ) as c:
        stale = c.get("/api/v1/status")
        assert stale.status_code == 503 and stale.json()["sources"][0]["stale"] is True
        assert c.get("/status").status_code == 503


def test_paper_fields_on_page_api_and_bibtex(settings: Settings, seeded: Store) -> None:
    seeded.papers.upsert_papers(
        [
            Paper(
                title="Framework for maximum likelihood analysis",
                arxiv_id="1305.0014",
                version=2,
                authors=("S. Gardner", "B. Plaster"),
                affiliations=(("U. Kentucky",), ()),
                published=date(2013, 4, 30),
                updated=date(2013, 6, 28),
                doi="10.1103/PhysRevC.87.065504",
                journal_ref="Phys. Rev. C 87, 065504 (2013)",
                license="http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
                announced_on=date(2013, 5, 1),
                source="arxiv-oai",
            ),
            Paper(
                title="A withdrawn result",
                arxiv_id="1412.0001",
                comment="This paper has been withdrawn by the author",
                withdrawn=True,
                published=date(2025, 1, 6),
                source="arxiv-oai",
            ),
        ]
    )
    paper = seeded.papers.get_paper_by_arxiv("1305.0014")
    gone = seeded.papers.get_paper_by_arxiv("1412.0001")
    assert paper is not None and gone is not None and gone.withdrawn
    with make_app(settings, seeded) as c:
        data = c.get(f"/api/v1/papers/{paper.id}").json()
        assert data["doi"] == "10.1103/PhysRevC.87.065504" and data["journal_ref"].startswith(
            "Phys. Rev. C"
        )
        assert data["license"].endswith("/1.0/") and data["affiliations"] == [["U. Kentucky"], []]
        assert (
            data["announced_on"] == "2013-05-01"
            and data["updated"] == "2013-06-28"
            and data["withdrawn"] is False
        )
        page = c.get(f"/papers/{paper.id}").text
        assert (
            "10.1103/PhysRevC.87.065504" in page
            and "U. Kentucky" in page
            and "Phys. Rev. C 87" in page
        )
        listed = c.get("/api/v1/papers", params={"day": "2025-01-06"}).json()
        assert gone.id not in [p["id"] for p in listed["papers"]]  # withdrawn: out of the listings
        assert c.get(f"/api/v1/papers/{gone.id}").json()["withdrawn"] is True  # but kept
    from paperfeed.delivery.app.papers import bibtex

    bib = bibtex([paper, gone])
    assert (
        "doi = {10.1103/PhysRevC.87.065504}" in bib
        and "journal = {Phys. Rev. C 87, 065504 (2013)}" in bib
    )
    assert "Withdrawn by the authors" in bib
