"""The store's paper semantics, run on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import date

from paperfeed.core.models import IngestCounts, Paper
from paperfeed.store import Store


def _p(**kw: object) -> Paper:
    base: dict[str, object] = {
        "title": "A Study of Things",
        "abstract": "We study things.",
        "source": "jsonl",
    }
    base.update(kw)
    return Paper(**base)  # type: ignore[arg-type]


def test_insert_then_same_input_changes_nothing(store: Store) -> None:
    batch = [
        _p(
            arxiv_id="2501.00001",
            title="First",
            authors=("Ann", "Bo"),
            categories=("cs.CL", "cs.AI"),
        ),
        _p(arxiv_id="2501.00002", title="Second", published=date(2025, 1, 2)),
        _p(title="Only a title"),
    ]
    assert store.papers.upsert_papers(batch) == IngestCounts(new=3)
    assert store.papers.upsert_papers(batch) == IngestCounts(unchanged=3)
    assert store.papers.count_papers() == 3
    first = store.papers.get_paper_by_arxiv("2501.00001")
    assert first is not None
    assert first.authors == ("Ann", "Bo")  # order kept
    assert first.categories == ("cs.CL", "cs.AI")  # primary first
    assert first.primary_category == "cs.CL"
    assert store.check() == []


def test_newer_version_updates_and_keeps_history(store: Store) -> None:
    store.papers.upsert_papers([_p(arxiv_id="2501.00001", version=1, abstract="old text")])
    counts = store.papers.upsert_papers([_p(arxiv_id="2501.00001", version=2, abstract="new text")])
    assert counts == IngestCounts(updated=1)
    paper = store.papers.get_paper_by_arxiv("2501.00001")
    assert paper is not None
    assert (paper.version, paper.abstract, paper.versions) == (2, "new text", (1, 2))
    # An older version arriving late does not overwrite the newer text.
    store.papers.upsert_papers([_p(arxiv_id="2501.00001", version=1, abstract="old text")])
    paper = store.papers.get_paper_by_arxiv("2501.00001")
    assert paper is not None and paper.abstract == "new text" and paper.version == 2


def test_title_only_paper_gets_arxiv_id_later(store: Store) -> None:
    store.papers.upsert_papers(
        [_p(title="Attention Is All You Need", abstract="", source="hf-page")]
    )
    counts = store.papers.upsert_papers(
        [_p(arxiv_id="1706.03762", title="Attention is all you need!", abstract="The dominant ...")]
    )
    assert counts.new == 0 and counts.updated == 1
    assert store.papers.count_papers() == 1
    paper = store.papers.get_paper_by_arxiv("1706.03762")
    assert paper is not None
    assert paper.sources == ("hf-page", "jsonl")
    assert paper.abstract == "The dominant ..."


def test_title_only_record_merges_into_existing_arxiv_paper(store: Store) -> None:
    store.papers.upsert_papers([_p(arxiv_id="1706.03762", title="Attention Is All You Need")])
    counts = store.papers.upsert_papers(
        [_p(title="attention is all you need", abstract="x", source="hf-page")]
    )
    assert counts == IngestCounts(unchanged=1)
    assert store.papers.count_papers() == 1


def test_duplicates_inside_one_batch_are_merged(store: Store) -> None:
    counts = store.papers.upsert_papers(
        [_p(title="Same"), _p(title="SAME."), _p(arxiv_id="2501.1", title="x")]
    )
    assert counts.new == 2 and store.papers.count_papers() == 2


def test_orphan_is_absorbed_when_arxiv_paper_is_renamed(store: Store) -> None:
    # An arXiv paper first seen under another title, and a listing-page entry under the final one.
    store.papers.upsert_papers([_p(arxiv_id="2502.00001", version=1, title="Draft title")])
    store.papers.upsert_papers(
        [_p(title="Final Title", abstract="from a listing page", source="hf-page")]
    )
    assert store.papers.count_papers() == 2
    orphan = store.papers.find_by_title("Final Title")
    assert orphan is not None and orphan.arxiv_id is None
    store.papers.upsert_papers([_p(arxiv_id="2502.00001", version=2, title="Final title")])
    assert store.papers.count_papers() == 1
    assert store.papers.removed_since(None) == [orphan.id]
    merged = store.papers.get_paper_by_arxiv("2502.00001")
    assert merged is not None and "hf-page" in merged.sources
    assert store.check() == []


def test_external_upvotes_and_featured_day(store: Store) -> None:
    store.papers.upsert_papers(
        [_p(arxiv_id="2402.1", featured_on=date(2024, 2, 3), external_upvotes=5, source="hf-daily")]
    )
    store.papers.upsert_papers(
        [_p(arxiv_id="2402.1", featured_on=date(2024, 2, 5), external_upvotes=9, source="hf-daily")]
    )
    paper = store.papers.get_paper_by_arxiv("2402.1")
    assert paper is not None
    assert paper.featured_on == date(2024, 2, 3) and paper.external_upvotes == 9
    assert paper.day == date(2024, 2, 3)


def test_list_filters_and_days(store: Store) -> None:
    store.papers.upsert_papers(
        [
            _p(arxiv_id="1", title="a", published=date(2025, 1, 1), categories=("cs.CL",)),
            _p(arxiv_id="2", title="b", published=date(2025, 1, 2), categories=("cs.CV", "cs.CL")),
            _p(
                arxiv_id="3",
                title="c",
                published=date(2025, 1, 3),
                categories=("math.AG",),
                external_upvotes=4,
            ),
        ]
    )
    assert [p.title for p in store.papers.list_papers()] == ["c", "b", "a"]
    assert [p.title for p in store.papers.list_papers(category="cs.CL")] == ["b", "a"]
    assert [
        p.title for p in store.papers.list_papers(since=date(2025, 1, 2), until=date(2025, 1, 2))
    ] == ["b"]
    assert store.papers.list_papers(order="upvotes")[0].title == "c"
    assert store.papers.paper_days() == [date(2025, 1, 3), date(2025, 1, 2), date(2025, 1, 1)]
    assert [p.title for p in store.papers.iter_papers(batch=2)] == ["a", "b", "c"]


def test_ingest_runs_are_recorded(store: Store) -> None:
    run = store.runs.start_run("file.jsonl")
    assert store.runs.last_successful_run() is None
    store.runs.finish_run(run, IngestCounts(new=3, rejected=1))
    failed = store.runs.start_run("other.jsonl")
    store.runs.finish_run(failed, IngestCounts(), error="boom")
    last = store.runs.last_successful_run()
    assert last is not None and last.counts.new == 3 and last.source == "file.jsonl"
    assert [r.status for r in store.runs.recent_runs()] == ["failed", "ok"]


def test_unicode_and_markup_survive(store: Store) -> None:
    title = "Ünïcode <b>&amp; LaTeX $\\alpha$ — 日本語"
    store.papers.upsert_papers([_p(arxiv_id="2503.99999", title=title, authors=("Zoë Ça",))])
    paper = store.papers.get_paper_by_arxiv("2503.99999")
    assert paper is not None and paper.title == title and paper.authors == ("Zoë Ça",)


def test_index_papers_carry_what_the_index_reads(store: Store) -> None:
    store.papers.upsert_papers(
        [
            _p(
                title="Kernel Methods",
                arxiv_id="2401.00001",
                authors=("Léon Bottou", "Ada Lovelace"),
                categories=("cs.LG", "stat.ML"),
                published=date(2024, 1, 2),
                abs_url="https://arxiv.org/abs/2401.00001",
            ),
            _p(
                title="Featured Work",
                abstract="Code at https://github.com/a/b",
                featured_on=date(2024, 3, 1),
            ),
            _p(title="Undated", abstract="No day."),
        ]
    )

    def fields(p: Paper) -> tuple[object, ...]:
        return p.id, p.title, p.abstract, p.authors, p.categories, p.day

    full = list(store.papers.iter_papers())
    assert [fields(p) for p in store.papers.iter_index_papers()] == [fields(p) for p in full]
    assert [fields(p) for p in store.papers.iter_index_papers(batch=1)] == [fields(p) for p in full]
    later = store.papers.last_change()
    assert later is not None and list(store.papers.iter_index_papers(updated_since=later)) == []
