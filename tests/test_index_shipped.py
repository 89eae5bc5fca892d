"""Vectors shipped with the bundled sample: used at its ingest with no model loaded, refused when
stale."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.indexing import refresh_index_after_ingest
from paperfeed.delivery.app.ingest import ingest_targets, is_sample
from paperfeed.index import open_search_index, shipped as S
from paperfeed.index.embedder import OnnxEmbedder, load_embedder, paper_text, semantic_available
from paperfeed.ranking.search import search_papers
from paperfeed.sources import read_records
from paperfeed.store import Store

needs_model = pytest.mark.skipif(not semantic_available(), reason="semantic extra not installed")


def sample_papers(n: int) -> list[Paper]:
    out: list[Paper] = []
    for rec in read_records(S.SAMPLE_FEED):
        if isinstance(rec, Paper) and rec.arxiv_id and rec.abstract:
            out.append(rec)
        if len(out) == n:
            break
    return out


@pytest.fixture(scope="module")
def emb(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    """The real embedder at the default settings (int8, 256 tokens), as the sample was embedded."""
    defaults = Settings()
    return load_embedder(
        tmp_path_factory.mktemp("models"),
        "cpu",
        precision=defaults.embed_precision,
        max_length=defaults.embed_max_length,
    )


def test_int8_rows_round_trip_close() -> None:
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((50, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    codes, scales = S.quantise(vecs)
    assert codes.dtype == np.int8 and int(np.abs(codes).max()) == 127
    back = S.dequantise(codes, scales)
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-5)
    assert float((back * vecs).sum(axis=1).min()) > 0.999


def test_bundled_manifest_covers_the_sample_and_is_small() -> None:
    manifest = json.loads(S.SAMPLE_FILES[1].read_text(encoding="utf-8"))
    papers = [p for p in read_records(S.SAMPLE_FEED) if isinstance(p, Paper)]
    assert manifest["count"] == len(papers) == len(manifest["text_sha256"])
    assert manifest["text_sha256"] == [S.text_sha256(p.title, p.abstract) for p in papers]
    assert manifest["arxiv_ids"] == [p.arxiv_id for p in papers]
    codes = np.load(S.SAMPLE_FILES[0])
    assert codes.dtype == np.int8 and codes.shape == (len(papers), manifest["dim"])
    assert sum(f.stat().st_size for f in S.SAMPLE_FILES) < 1_200_000
    assert is_sample(str(S.SAMPLE_FEED)) and not is_sample("other.jsonl")


def test_a_copy_of_the_sample_counts_as_the_sample(tmp_path: Path) -> None:
    copy = tmp_path / "feed.jsonl.gz"
    shutil.copy(S.SAMPLE_FEED, copy)
    assert is_sample(str(copy))
    copy.write_bytes(copy.read_bytes()[:-1] + b"x")
    assert not is_sample(str(copy)) and not is_sample("https://example.org/sample-feed.jsonl.gz")


@needs_model
def test_sample_ingest_searches_by_meaning_without_embedding(settings: Settings, store: Store,
                                                            emb: OnnxEmbedder) -> None:
    ingest_targets(store, settings, [str(S.SAMPLE_FEED)])
    index = refresh_index_after_ingest(settings, store, sample=True)
    assert index.last_embed["embedded"] == 0 and index.last_embed["shipped"] > 0
    assert index._embedder is None, "the model was loaded at the sample's ingest"
    status = index.status()
    assert status["papers_with_vectors"] == index.last_embed["shipped"]
    assert status["papers_with_vectors"] >= 0.95 * status["papers_indexed"]
    # Similar papers come from the shipped vectors alone.
    first = int(index.semantic.ids()[0])
    assert index.semantic.search(index.semantic.vector(first), 5)[0][0] == first  # type: ignore[arg-type]
    # A search by meaning answers from them; only the query is embedded.
    reader = open_search_index(settings, store, embedder=emb)
    hits = search_papers(
        reader, "speech recognition with large language models", mode="semantic", k=5
    )
    assert hits.hits, "no semantic results from the shipped vectors"
    assert hits.mode == "semantic" and not hits.notice  # not the lexical fallback
    index.embed(shipped_only=True)  # nothing left to give
    assert index.last_embed == {"shipped": 0, "embedded": 0}


def _stale_copy(tmp_path: Path, **changes: object) -> tuple[Path, Path]:
    npy, manifest = (tmp_path / "v.npy", tmp_path / "v.json")
    shutil.copy(S.SAMPLE_FILES[0], npy)
    data = json.loads(S.SAMPLE_FILES[1].read_text(encoding="utf-8"))
    data.update(changes)
    manifest.write_text(json.dumps(data), encoding="utf-8")
    return npy, manifest


@needs_model
def test_shipped_rows_are_used_only_for_the_same_model_and_text(
    settings: Settings, store: Store, emb: OnnxEmbedder, tmp_path: Path
) -> None:
    papers = sample_papers(3)
    store.papers.upsert_papers(
        [*papers[:2], replace(papers[2], abstract=papers[2].abstract + " Revised.")]
    )
    index = open_search_index(settings, store)
    index.refresh()
    index._embedder = emb  # the real model, loaded once for the module
    assert index.embed() == 3
    assert index.last_embed == {"shipped": 2, "embedded": 1}  # the changed text was embedded
    ids = [store.papers.get_paper_by_arxiv(p.arxiv_id or "").id for p in papers]  # type: ignore[union-attr]
    fresh = emb.embed([paper_text(p.title, p.abstract) for p in papers[:2]])
    got = np.stack([index.semantic.vector(int(i or 0)) for i in ids[:2]])  # type: ignore[misc]
    # the shipped rows are this model's vectors
    assert float((fresh * got).sum(axis=1).min()) > 0.995

    # A manifest made with other weights is refused: everything is embedded again.
    wrong = _stale_copy(tmp_path, model_sha256="0" * 64)
    assert S.load_shipped(emb.name, wrong) is None
    # other settings, other vectors
    assert S.load_shipped(emb.name + "-len128", S.SAMPLE_FILES) is None
    other = open_search_index(replace(settings, data_dir=str(tmp_path / "other")), store)
    other.refresh()
    other._embedder = emb
    other.shipped_files = wrong
    assert other.embed(shipped_only=True) == 0
    assert other.embed() == 3 and other.last_embed == {"shipped": 0, "embedded": 3}
