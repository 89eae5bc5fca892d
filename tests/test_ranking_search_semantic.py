"""Hybrid search and similar papers with the real packaged embedder (skipped without the extra)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.index import open_search_index
from paperfeed.index.embedder import load_embedder, semantic_available
from paperfeed.ranking.search import search_papers, similar_papers
from paperfeed.store import Store
from tests._search_fixtures import corpus

pytestmark = pytest.mark.skipif(not semantic_available(), reason="semantic extra not installed")


def test_real_embedder_hybrid_offline(settings: Settings, store: Store, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*a: object, **k: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    store.papers.upsert_papers(
        [
            *corpus(),
            Paper(
                title="Soil microbes in alpine meadows",
                abstract="Bacterial communities along an altitude gradient.",
                source="test",
            ),
        ]
    )
    emb = load_embedder(tmp_path / "models", device="cpu")
    index = open_search_index(settings, store, embedder=emb)
    index.build()
    assert index.status()["papers_with_vectors"] == 7
    # no shared word with the attention paper's text, but the meaning is close
    res = search_papers(index, "neural machine translation", mode="semantic", k=3)
    top = index.papers([res.hits[0].paper_id])[res.hits[0].paper_id]
    assert res.mode == "semantic" and top.arxiv_id in {"1706.03762", "1810.04805", "2005.14165"}
    hyb = search_papers(index, "image recognition with deep networks")
    assert hyb.hits[0].lexical and hyb.hits[0].semantic and hyb.hits[0].matched_terms
    soil = store.papers.find_by_title("Soil microbes in alpine meadows")
    assert soil is not None and soil.id is not None
    sim = similar_papers(index, soil.id, k=3)
    assert sim and soil.id not in [h.paper_id for h in sim] and sim[0].semantic is not None
