"""search_papers and similar_papers: filters, sorting, fusion, why-it-matched, bad values."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.index import SearchIndex, open_search_index
from paperfeed.ranking import fusion
from paperfeed.ranking.categories import category_name, resolve_category
from paperfeed.ranking.search import (
    SearchFilters,
    SearchRequest,
    run_search,
    search_papers,
    similar_papers,
)
from paperfeed.store import Store
from tests._search_fixtures import FakeEmbedder, corpus


@pytest.fixture
def index(settings: Settings, store: Store) -> SearchIndex:
    store.papers.upsert_papers(corpus())
    idx = open_search_index(settings, store, embedder=FakeEmbedder())
    idx.build()
    return idx


def _arxiv(index: SearchIndex, hits: list) -> list[str | None]:  # type: ignore[type-arg]
    papers = index.papers([h.paper_id for h in hits])
    return [papers[h.paper_id].arxiv_id for h in hits]


def test_lexical_hits_say_why(index: SearchIndex) -> None:
    res = search_papers(index, "transformer attention", mode="lexical")
    assert _arxiv(index, res.hits)[0] == "1706.03762"
    top = res.hits[0]
    assert (
        top.lexical
        and top.semantic is None
        and set(top.matched_terms) == {"transformer", "attention"}
    )
    assert res.total == 3 and res.notice is None


def test_hybrid_carries_both_scores(index: SearchIndex) -> None:
    assert index.status()["papers_with_vectors"] == 6
    res = search_papers(index, "image recognition")
    assert res.mode == "hybrid"
    assert all(h.semantic is not None for h in res.hits)
    assert any(h.lexical is not None for h in res.hits)
    rrf = search_papers(index, "image recognition", fusion_method="rrf")
    assert {h.paper_id for h in rrf.hits} == {h.paper_id for h in res.hits}
    sem = search_papers(index, "image recognition", mode="semantic", k=3)
    assert len(sem.hits) == 3 and all(h.lexical is None or h.lexical > 0 for h in sem.hits)


def test_filters(index: SearchIndex) -> None:
    # ViT names "image" twice in its title, ResNet once: ViT first, in both modes
    assert _arxiv(index, search_papers(index, "image", category="cs.CV").hits) == [
        "2010.11929",
        "1512.03385",
    ]
    assert _arxiv(index, search_papers(index, "image", category="cs.CV", mode="lexical").hits) == [
        "2010.11929", "1512.03385"]
    assert search_papers(index, "image", category="cs", mode="lexical").total == 3  # archive
    assert search_papers(index, "image", category="stat", mode="lexical").total == 1
    # a name
    assert search_papers(index, "", category="Computer Vision and Pattern Recognition").total == 2
    assert _arxiv(index, search_papers(index, "", author="Devlin").hits) == ["1810.04805"]
    res = search_papers(
        index, "models", since=date(2020, 1, 1), until=date(2020, 6, 30), mode="lexical"
    )
    assert set(_arxiv(index, res.hits)) == {"2005.14165", "2006.11239"}
    res = search_papers(index, "models author:brown year:2020")  # hybrid keeps the filters too
    assert _arxiv(index, res.hits) == ["2005.14165"]
    assert search_papers(index, "image cat:cs.CV -residual", mode="lexical").total == 1


def test_phrase_and_exclusion(index: SearchIndex) -> None:
    assert _arxiv(index, search_papers(index, '"image recognition"', mode="lexical").hits) == [
        "2010.11929", "1512.03385"]  # both titles hold the phrase; ViT says "image" twice
    assert search_papers(index, '"image recognition"').total == 2  # hybrid keeps the phrase too
    # both words present, but not next to each other: no phrase match
    assert search_papers(index, '"recognition image"').total == 0
    assert search_papers(index, '"deep bidirectional" -"masked language"').total == 0


def test_sort_by_date_and_paging(index: SearchIndex) -> None:
    res = search_papers(index, "image", sort="date", mode="lexical")
    days = [
        d for h in res.hits if (d := index.papers([h.paper_id])[h.paper_id].published) is not None
    ]
    assert len(days) == len(res.hits)
    assert days == sorted(days, reverse=True)
    page2 = search_papers(index, "image", sort="date", mode="lexical", k=1, offset=1)
    assert page2.hits[0].paper_id == res.hits[1].paper_id and page2.total == res.total
    everything = search_papers(index, "")
    assert everything.total == 6 and _arxiv(index, everything.hits)[0] == "2010.11929"


def test_request_form_is_the_keyword_form(index: SearchIndex) -> None:
    for mode in ("lexical", "hybrid", "semantic"):
        req = SearchRequest(
            "image", k=2, sort="date", mode=mode, filters=SearchFilters(category="cs")
        )
        want = search_papers(index, "image", k=2, sort="date", mode=mode, category="cs")
        assert run_search(index, req) == want and want.hits
    with pytest.raises(BadRequest, match="k must be"):
        SearchRequest("x", k=0).check()
    with pytest.raises(BadRequest, match="since 2024-02-01 is after"):
        SearchRequest(
            "x", filters=SearchFilters(since=date(2024, 2, 1), until=date(2024, 1, 1))
        ).check()


def test_bad_syntax_notice_not_error(index: SearchIndex) -> None:
    res = search_papers(index, 'image "recognition')
    assert res.notice and "quote" in res.notice and res.hits
    res = search_papers(index, "image cat:nope")
    assert res.notice and "unknown category" in res.notice


def test_bad_values_raise_bad_request(index: SearchIndex) -> None:
    with pytest.raises(BadRequest, match="relevance, date"):
        search_papers(index, "x", sort="stars")
    with pytest.raises(BadRequest, match="hybrid, lexical, semantic"):
        search_papers(index, "x", mode="magic")
    with pytest.raises(BadRequest, match="unknown category"):
        search_papers(index, "x", category="nope.XX")
    with pytest.raises(BadRequest):
        search_papers(index, "x", k=0)


def test_semantic_unavailable_falls_back(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(corpus())
    idx = open_search_index(settings, store)
    idx.build(embed=False)
    res = search_papers(idx, "image", mode="semantic")
    assert res.mode == "lexical" and res.notice and "semantic" in res.notice and res.hits


def test_similar_by_vector_excludes_self_and_duplicates(index: SearchIndex, store: Store) -> None:
    store.papers.upsert_papers(
        [Paper(title="Attention is all you need!", abstract="A duplicate listing.", source="hf")]
    )  # same normalised title, stored as another paper?
    index.refresh()
    att = store.papers.get_paper_by_arxiv("1706.03762")
    assert att is not None and att.id is not None
    hits = similar_papers(index, att.id, k=5)
    assert hits and att.id not in [h.paper_id for h in hits]
    titles = [index.papers([h.paper_id])[h.paper_id].title_key for h in hits]
    assert att.title_key not in titles and len(titles) == len(set(titles))
    assert all(h.semantic is not None for h in hits)


def test_similar_lexical_when_no_vector(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(corpus())
    idx = open_search_index(settings, store)
    idx.build(embed=False)
    vit = store.papers.get_paper_by_arxiv("2010.11929")
    assert vit is not None and vit.id is not None
    hits = similar_papers(idx, vit.id, k=3)
    assert hits and vit.id not in [h.paper_id for h in hits]
    assert hits[0].lexical is not None and hits[0].semantic is None and hits[0].matched_terms
    with pytest.raises(NotFound):
        similar_papers(idx, 9999)


def test_updated_paper_vector_is_dropped_then_reembedded(index: SearchIndex, store: Store) -> None:
    resnet = store.papers.get_paper_by_arxiv("1512.03385")
    assert resnet is not None and resnet.id is not None
    store.papers.upsert_papers(
        [
            Paper(
                title="Deep residual learning for image recognition",
                arxiv_id="1512.03385",
                version=2,
                abstract="Completely new words.",
                source="test",
            )
        ]
    )
    index.refresh()
    assert index.semantic.vector(resnet.id) is None  # stale vector gone
    assert index.embed() == 1 and index.semantic.vector(resnet.id) is not None
    index.refresh()
    assert index.semantic.vector(resnet.id) is not None  # not dropped again


def test_fusion_functions() -> None:
    lex = np.array([3.0, 0.0, 1.0])
    sem = np.array([0.5, 0.9, np.nan])
    assert np.allclose(fusion.convex(lex, sem, 0.5), [0.5 * 1 + 0.5 * 0, 0.5, 0.5 * (1 / 3)])
    r = fusion.rrf(np.array([3.0, np.nan, 1.0]), sem, k=60)
    assert np.allclose(r, [1 / 61 + 1 / 62, 1 / 61, 1 / 62])
    assert np.all(fusion.minmax(np.array([np.nan, np.nan])) == 0)


def test_categories_map_ships_in_package() -> None:
    assert category_name("cs.CL") == "Computation and Language"
    assert resolve_category("CS.cl") == ("cs.CL",)
    assert "cs.LG" in resolve_category("cs")
    assert resolve_category("nonsense") == ()


def test_best_rows_is_the_exact_top_set_on_skewed_and_tied_scores() -> None:
    """best_rows picks the same set as a full argpartition: heavy ties, skew, few high scores."""
    from paperfeed.index.lexical import best_rows

    rng = np.random.default_rng(42)
    n = 200_000
    cases = [
        rng.random(n, dtype=np.float32),  # uniform
        rng.exponential(1.0, n).astype(np.float32),  # skewed
        np.round(rng.random(n) * 20).astype(np.float32),  # heavy ties
        np.where(rng.random(n) < 0.001, 5.0, 0.5).astype(np.float32),  # a few high scores
    ]
    for scores in cases:
        rows = np.flatnonzero(scores > 0.0).astype(np.int64)
        for size in (10, 1000, 7000):
            got = best_rows(rows, scores, size)
            assert len(got) == size and len(np.unique(got)) == size
            want = rows[np.argpartition(-scores[rows], size - 1)[:size]]
            # the same scores (with ties, which rows of the last score are taken is arbitrary)
            assert np.array_equal(np.sort(scores[got]), np.sort(scores[want]))
    small = np.arange(5, dtype=np.int64)
    assert np.array_equal(best_rows(small, np.ones(5, np.float32), 10), small)


@pytest.mark.parametrize("compiled", [True, False])
def test_papers_with_every_word_come_first_and_are_counted_apart(
    settings: Settings, store: Store, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyword query ranks papers holding all its words first, says how many, and what matched."""
    from paperfeed.index import kernels

    monkeypatch.setattr(kernels, "enabled", compiled)
    store.papers.upsert_papers(
        [
            # many "graph"s, no "pooling": the highest BM25 score, but not every word
            Paper(
                title="Graph graph graph",
                abstract="Graph networks on graph data, graph after graph.",
                arxiv_id="2401.00001",
                source="test",
            ),
            Paper(
                title="Pooling for sets",
                abstract="A graph appears once next to pooling.",
                arxiv_id="2401.00002",
                source="test",
            ),
            Paper(
                title="Nothing in common",
                abstract="Weather forecasts.",
                arxiv_id="2401.00003",
                source="test",
            ),
        ]
    )
    idx = open_search_index(settings, store)
    idx.build(embed=False)
    res = search_papers(idx, "Graph Pooling", mode="lexical")
    assert _arxiv(idx, res.hits) == ["2401.00002", "2401.00001"]
    assert (res.total, res.all_words, res.some_words) == (2, 1, 1)
    assert [h.matched_terms for h in res.hits] == [("graph", "pooling"), ("graph",)]
    # the page only (k=1) still counts every match
    one = search_papers(idx, "graph pooling", mode="lexical", k=1)
    assert _arxiv(idx, one.hits) == ["2401.00002"] and (one.all_words, one.some_words) == (1, 1)
    # a long query (more than ALL_FIRST_MAX_TERMS terms) is ranked by BM25 alone
    long = search_papers(idx, "graph pooling networks data trees", mode="lexical")
    assert _arxiv(idx, long.hits)[0] == "2401.00001" and long.all_words == 0
    # no words: no word counts
    assert search_papers(idx, "", author="nobody").all_words is None
