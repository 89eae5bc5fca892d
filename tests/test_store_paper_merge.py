"""Merge rules, one test per rule, each failing when its comparison is changed (issue 20): which
record wins which field, and which merges are news (lifecycle events).

On both backends.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from paperfeed.core.models import Paper
from paperfeed.store import Store
from paperfeed.store.alert_schema import paper_events
from paperfeed.store.paper_merge import lifecycle_events, overrides

ID = "2501.00001"


def _arxiv(version: int | None, **fields: Any) -> Paper:
    return Paper(
        **{"title": "A title", "arxiv_id": ID, "version": version, "source": "arxiv-oai", **fields}
    )


def _hf(upvotes: int, **fields: Any) -> Paper:
    return Paper(
        **{
            "title": "A title",
            "arxiv_id": ID,
            "source": "hf-daily",
            "external_upvotes": upvotes,
            **fields,
        }
    )


def _events(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return [(k, v) for k, v in conn.execute(select(paper_events.c.kind, paper_events.c.key))]


def test_overrides_the_comparison() -> None:
    assert overrides(2, _arxiv(2))  # the same version: a correction (>=, not >)
    assert overrides(2, _arxiv(3))
    assert not overrides(3, _arxiv(2))  # an older version never wins
    assert overrides(None, _arxiv(None)) and not overrides(2, _arxiv(None))
    assert not overrides(None, Paper(title="No id"))


def test_a_correction_of_the_same_version_is_applied(store: Store) -> None:
    store.papers.upsert_papers([_arxiv(2, abstract="Typo'd abstract.", journal_ref="J. 1")])
    counts = store.papers.upsert_papers(
        [_arxiv(2, title="A title, corrected", abstract="Fixed abstract.")]
    )
    paper = store.papers.get_paper_by_arxiv(ID)
    assert counts.updated == 1 and paper is not None
    assert (paper.title, paper.abstract, paper.version) == (
        "A title, corrected",
        "Fixed abstract.",
        2,
    )
    assert paper.journal_ref == "J. 1"  # a field the correction does not carry stays
    assert _events(store) == []  # the same version is no news


def test_an_older_version_does_not_override(store: Store) -> None:
    store.papers.upsert_papers([_arxiv(3, abstract="Version three.")])
    store.papers.upsert_papers([_arxiv(2, abstract="Version two.")])
    paper = store.papers.get_paper_by_arxiv(ID)
    assert paper is not None and paper.abstract == "Version three." and paper.version == 3
    assert paper.versions == (2, 3) and _events(store) == []


def test_a_version_alert_only_when_the_number_rises(store: Store) -> None:
    store.papers.upsert_papers([_arxiv(1, abstract="One.")])
    store.papers.upsert_papers([_arxiv(2, abstract="Two.")])
    assert _events(store) == [("new_version", "2")]
    assert lifecycle_events({"version": 2}, {"version": 2}) == []  # > not >=
    assert lifecycle_events({"version": 2}, {"version": 3}) == [("new_version", "3")]
    assert lifecycle_events({"version": None}, {"version": 1}) == []


def test_an_upvote_change_is_no_version_alert(store: Store) -> None:
    store.papers.upsert_papers([_hf(5, github_stars=10)])
    store.papers.upsert_papers(
        [_hf(7, github_stars=12)]
    )  # Hugging Face's refresh: upvotes and stars moved
    store.papers.upsert_papers([_arxiv(1, abstract="Real abstract.")])
    store.papers.upsert_papers([_hf(9, github_stars=15, project_page="https://p.github.io")])
    assert _events(store) == []
    paper = store.papers.get_paper_by_arxiv(ID)
    assert paper is not None and paper.external_upvotes == 9 and paper.version == 1
    assert (
        paper.github_stars == 15 and paper.project_page == "https://p.github.io"
    )  # refreshed with upvotes
    assert paper.project_url == "https://p.github.io"  # the source's own page is the project link


def test_the_real_abstract_wins_over_an_empty_one(store: Store) -> None:
    store.papers.upsert_papers([_hf(5, abstract="", ai_summary="One AI line.")])
    store.papers.upsert_papers([_arxiv(1, abstract="The real abstract.")])
    store.papers.upsert_papers([_hf(6, abstract="", ai_summary="One AI line, revised.")])
    paper = store.papers.get_paper_by_arxiv(ID)
    assert paper is not None and paper.abstract == "The real abstract."
    assert paper.ai_summary == "One AI line, revised."


def test_every_doi_kept_and_replaced_by_a_newer_record(store: Store) -> None:
    store.papers.upsert_papers([_arxiv(1, doi="10.1/a", dois=("10.1/a", "10.1/erratum"))])
    paper = store.papers.get_paper_by_arxiv(ID)
    assert paper is not None and paper.dois == ("10.1/a", "10.1/erratum") and paper.doi == "10.1/a"
    store.papers.upsert_papers([_hf(3)])  # a record without DOIs leaves them
    store.papers.upsert_papers([_arxiv(2, doi="10.1/b", dois=("10.1/b",))])
    paper = store.papers.get_paper_by_arxiv(ID)
    assert paper is not None and paper.dois == ("10.1/b",)
    # an older version's DOI does not replace them
    store.papers.upsert_papers([_arxiv(1, doi="10.1/old")])
    assert store.papers.get_paper_by_arxiv(ID).dois == ("10.1/b",)  # type: ignore[union-attr]


def test_withdrawn_follows_the_newest_arxiv_record(store: Store) -> None:
    store.papers.upsert_papers([_arxiv(2, withdrawn=True)])
    store.papers.upsert_papers([_hf(4)])  # Hugging Face knows nothing of it: stays withdrawn
    assert store.papers.get_paper_by_arxiv(ID).withdrawn  # type: ignore[union-attr]
    store.papers.upsert_papers([_arxiv(3)])  # a new version stands again
    assert not store.papers.get_paper_by_arxiv(ID).withdrawn  # type: ignore[union-attr]
