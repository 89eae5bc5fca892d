"""The lexical index: bm25s-equal scores, files and atomic swaps, deltas after ingest, stale
text."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import bm25s
import numpy as np
import pytest

import paperfeed.index.search_index as index_mod
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.index import open_search_index
from paperfeed.index.segment import bm25_matrix, load_segment
from paperfeed.index.text import analyse, document_terms
from paperfeed.ranking.search import search_papers
from paperfeed.store import Store
from tests._search_fixtures import corpus


def _ids(index: object, query: str) -> list[int]:
    return [h.paper_id for h in search_papers(index, query, mode="lexical").hits]  # type: ignore[arg-type]


def test_analyser_stems_and_drops_stop_words() -> None:
    assert analyse("The Transformers are running") == ["transform", "run"]
    assert analyse("Schölkopf") == analyse("scholkopf")
    terms = document_terms("Deep nets", "abstract words", ["Kaiming He"])
    # the title counts twice (its weight), authors are stemmed like any word
    assert terms == ["deep", "net", "deep", "net", "abstract", "word", "kaim", "he"]


def test_matrix_equals_bm25s() -> None:
    docs = [document_terms(p.title, p.abstract, p.authors) for p in corpus()]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in d] for d in docs]
    ref = bm25s.BM25()
    ref.index((ids, vocab), show_progress=False)
    flat = np.asarray([t for d in ids for t in d], dtype=np.int32)
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(d) for d in ids])
    data, indices, indptr, _, _ = bm25_matrix(flat, offsets, len(vocab))
    n = len(ref.scores["indptr"])
    assert np.array_equal(indptr[:n], ref.scores["indptr"])
    assert np.array_equal(indices, ref.scores["indices"])
    assert np.allclose(data, ref.scores["data"], atol=1e-6)


def test_build_writes_bm25s_files_and_swaps_atomically(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(corpus())
    index = open_search_index(settings, store)
    index.build(embed=False)
    root = settings.data_path / "index"
    pointer = json.loads((root / "current.json").read_text())
    main_dir = root / pointer["main"]
    assert main_dir.is_dir() and not list(root.glob(".tmp-*"))
    # a plain bm25s load of the segment gives the same scores as paperfeed
    ref = bm25s.BM25.load(str(main_dir), mmap=True, show_progress=False)
    q = analyse("image recognition")
    seg = load_segment(main_dir)
    ours = index.lexical.scores(q)
    theirs = np.zeros(seg.n_docs, dtype=np.float32)
    for t in q:
        i = ref.vocab_dict[t]
        s, e = ref.scores["indptr"][i], ref.scores["indptr"][i + 1]
        theirs[ref.scores["indices"][s:e]] += ref.scores["data"][s:e]
    assert np.allclose(ours, theirs)
    old = pointer["main"]
    index.build(embed=False)
    index.build(embed=False)
    pointer = json.loads((root / "current.json").read_text())
    assert pointer["main"] != old and not (root / old).exists()  # two generations back is cleaned


def test_new_paper_searchable_after_refresh(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(corpus())
    index = open_search_index(settings, store)
    index.build(embed=False)
    assert _ids(index, "zebra") == []
    store.papers.upsert_papers(
        [
            Paper(
                title="Zebra stripes and heat",
                abstract="Why zebras have stripes.",
                arxiv_id="2101.00001",
                published=date(2021, 1, 1),
                source="test",
            )
        ]
    )
    index.refresh()
    new = store.papers.get_paper_by_arxiv("2101.00001")
    assert new is not None and _ids(index, "zebra") == [new.id]
    assert index.lexical.n_delta == 1 and index.status()["papers_indexed"] == 7


def test_updated_paper_loses_old_text(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(corpus())
    index = open_search_index(settings, store)
    index.build(embed=False)
    resnet = store.papers.get_paper_by_arxiv("1512.03385")
    assert resnet is not None and resnet.id in _ids(index, "classification")
    store.papers.upsert_papers(
        [
            Paper(
                title="Deep residual learning for image recognition",
                arxiv_id="1512.03385",
                version=2,
                abstract="A rewritten abstract about skip connections.",
                source="test",
            )
        ]
    )
    index.refresh()
    assert resnet.id not in _ids(index, "classification")  # the old abstract's word is gone
    assert _ids(index, "skip connections") == [resnet.id]
    assert _ids(index, "residual").count(resnet.id) == 1  # one row, not the stale one too


def test_merged_away_paper_disappears(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(
        [
            Paper(
                title="Quokka survey", arxiv_id="2202.00002", abstract="Marsupials.", source="arxiv"
            )
        ]
    )
    store.papers.upsert_papers(
        [Paper(title="Quokkas smile a lot", abstract="Quokkas smile.", source="hf")]
    )
    index = open_search_index(settings, store)
    index.build(embed=False)
    orphan = _ids(index, "smile")
    assert len(orphan) == 1
    # the arXiv record now carries the orphan's title: the store merges the orphan into it
    store.papers.upsert_papers([Paper(title="Quokkas smile a lot", arxiv_id="2202.00002", version=2,
                               abstract="Marsupials grin.", source="arxiv")])
    assert orphan[0] in store.papers.removed_since(None)
    index.refresh()
    survivor = store.papers.get_paper_by_arxiv("2202.00002")
    assert survivor is not None
    assert _ids(index, "quokkas") == [survivor.id]
    assert index.lexical.row_of(orphan[0]) is None


def test_search_never_writes_and_readers_pick_up_a_jobs_swap(
    settings: Settings, store: Store
) -> None:
    store.papers.upsert_papers(corpus())
    reader = open_search_index(settings, store)
    writer = open_search_index(settings, store)
    writer.build(embed=False)
    reader._checked = 0.0
    assert _ids(reader, "diffusion")
    store.papers.upsert_papers(
        [Paper(title="Capybara behaviour", abstract="Capybaras are calm.", source="x")]
    )
    files = sorted(p.name for p in writer.root.iterdir())
    reader._checked = 0.0
    assert _ids(reader, "capybara") == []  # the search path does not refresh ...
    assert sorted(p.name for p in writer.root.iterdir()) == files  # ... nor write anything
    writer.refresh()  # the job (after ingest, in the worker, `paperfeed index refresh`)
    reader._checked = 0.0  # the reader re-reads the pointer at most every CHECK_EVERY seconds
    assert len(_ids(reader, "capybara")) == 1


def test_offline_reload_needs_no_rebuild(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.papers.upsert_papers(corpus())
    open_search_index(settings, store).build(embed=False)

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("must not rebuild")

    monkeypatch.setattr(index_mod.SearchIndex, "_build_lexical_locked", boom)
    again = open_search_index(settings, store)
    assert again.lexical.n_alive == 6 and _ids(again, "transformer")


def test_big_delta_triggers_full_rebuild(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.papers.upsert_papers(corpus()[:2])
    index = open_search_index(settings, store)
    index.build(embed=False)
    monkeypatch.setattr(index_mod, "DELTA_MAX", 1)
    monkeypatch.setattr(index_mod, "DELTA_MAX_FRACTION", 0.0)
    store.papers.upsert_papers(corpus()[2:])
    index.refresh()
    assert index.lexical.n_delta == 0 and index.lexical.n_alive == 6


def test_empty_store_is_cheap_and_searchable(settings: Settings, store: Store) -> None:
    index = open_search_index(settings, store)
    assert index.status()["papers_indexed"] == 0
    res = search_papers(index, "anything")
    assert res.hits == [] and res.total == 0


def test_filters_data_in_segment(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(corpus())
    index = open_search_index(settings, store)
    index.build(embed=False)
    lex = index.lexical
    assert len(lex.rows_in_categories(["cs.CV"])) == 2
    assert (
        len(lex.rows_with_author("Kaiming He")) == 1
        and len(lex.rows_with_author("he kaiming")) == 1
    )
    assert len(lex.rows_with_author("Kaiming Smith")) == 0
    assert lex.day_mask(date(2020, 1, 1), None).sum() == 3


def test_index_dir_is_under_data_dir(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(corpus())
    open_search_index(settings, store).build(embed=False)
    assert (Path(settings.data_dir) / "index" / "current.json").is_file()


def test_delta_carries_over_between_refreshes(settings: Settings, store: Store,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    monkeypatch.setattr(index_mod, "SLACK", timedelta(0))  # only what moved since the last refresh
    store.papers.upsert_papers(corpus())
    index = open_search_index(settings, store)
    index.build(embed=False)
    store.papers.upsert_papers(
        [
            Paper(
                title="Axolotl regeneration",
                abstract="Limbs regrow.",
                arxiv_id="2301.00001",
                source="t",
            )
        ]
    )
    index.refresh()
    store.papers.upsert_papers(
        [
            Paper(
                title="Pangolin scales",
                abstract="Keratin armour.",
                arxiv_id="2301.00002",
                source="t",
            )
        ]
    )
    index.refresh()
    assert len(_ids(index, "axolotl")) == 1 and len(_ids(index, "pangolin")) == 1
    store.papers.upsert_papers(
        [
            Paper(
                title="Axolotl regeneration",
                abstract="Tails regrow instead.",
                arxiv_id="2301.00001",
                version=2,
                source="t",
            )
        ]
    )
    store.papers.upsert_papers(
        [
            Paper(
                title="Attention is all you need",
                abstract="Rewritten: recurrence-free.",
                arxiv_id="1706.03762",
                version=2,
                source="t",
            )
        ]
    )
    index.refresh()
    assert _ids(index, "limbs") == [] and len(_ids(index, "tails")) == 1
    assert len(_ids(index, "pangolin")) == 1 and index.lexical.n_delta == 3
    assert _ids(index, "transformer attention") and len(_ids(index, "recurrence")) == 1
    assert index.lexical.n_alive == 8
