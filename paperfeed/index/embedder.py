"""Dense paper embeddings at run time: the Embedder protocol and the ONNX Runtime embedder.

The weights are located and read by paperfeed.index.weights, the BERT graph is written by
paperfeed.index.onnx_graph and cached (and quantised) by paperfeed.index.quantise, so inference
needs neither torch nor transformers.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from paperfeed.core.errors import ConfigError
from paperfeed.index.quantise import PRECISIONS, export_onnx
from paperfeed.index.weights import (
    INSTALL_HINT,
    MODEL_NAME,
    MODEL_PACKAGE,
    model_dir,
    verified_model_dir,
)

if TYPE_CHECKING:  # tokenizers is part of the semantic extra, imported on first use
    from tokenizers import Tokenizer

MAX_LENGTH = 256  # the model's own max_seq_length; 128 loses ~0.02 nDCG@10 on SciFact
_REQUIRED_MODULES = ("onnxruntime", "onnx", "tokenizers", MODEL_PACKAGE)
_SPACES = re.compile(r"\s+")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """Model identifier stored with the vectors (vectors of different names never mix)."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed texts: float32 array of shape (len(texts), dim), rows of unit length."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query: float32 array of shape (dim,), unit length."""
        ...


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper: title and abstract with whitespace collapsed."""
    # arXiv abstracts keep hard line breaks; collapsing them changes no tokens but keeps
    # the text identical whichever source the paper came from.
    title = _SPACES.sub(" ", title).strip()
    abstract = _SPACES.sub(" ", abstract).strip()
    if not abstract:
        return title
    if not title:
        return abstract
    sep = " " if title[-1] in ".?!:" else ". "
    return f"{title}{sep}{abstract}"


def _missing_modules() -> list[str]:
    return [m for m in _REQUIRED_MODULES if importlib.util.find_spec(m) is None]


def semantic_available() -> bool:
    """Whether the semantic extra (runtime, tokenizer and packaged weights) is installed."""
    if _missing_modules():
        return False
    try:
        model_dir()
    except ConfigError:
        return False
    return True


def _require() -> None:
    missing = _missing_modules()
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}; {INSTALL_HINT}")


# --- runtime ---------------------------------------------------------------------------------


def _cpu_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device in ("auto", "cuda"):
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if device == "cuda":
            raise ConfigError("device 'cuda' asked for, but onnxruntime has no CUDA provider here")
        return ["CPUExecutionProvider"]
    raise ConfigError(f"device {device!r} is not one of auto, cpu, cuda")


class _Session(Protocol):
    """What the embedder uses of an onnxruntime InferenceSession (onnxruntime ships no types)."""

    def get_providers(self) -> list[str]:
        """Execution providers in use, best first."""
        ...

    def run(self, output_names: list[str], input_feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run the graph on one batch."""
        ...


class OnnxEmbedder:
    """An Embedder running a BERT ONNX graph with batches sorted by token length."""

    def __init__(self, session: _Session, tokenizer: Tokenizer, name: str, dim: int) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._name = name
        self._dim = dim

    @property
    def name(self) -> str:
        """Model identifier stored with the vectors."""
        return self._name

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def providers(self) -> list[str]:
        """The ONNX Runtime execution providers in use, best first."""
        return list(self._session.get_providers())

    def _run(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        out = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        result: np.ndarray = np.asarray(out, dtype=np.float32)
        return result

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed texts: float32 array of shape (len(texts), dim), rows of unit length."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        if not texts:
            return out
        rows = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        # Longest first, so each batch pads to nearly its own length and the biggest
        # allocation happens once, up front.
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._run([rows[i] for i in chunk])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query: float32 array of shape (dim,), unit length."""
        vec: np.ndarray = self.embed([text], batch_size=1)[0]
        return vec


def load_embedder(
    cache_dir: Path,
    device: str = "auto",
    *,
    precision: str = "fp32",
    max_length: int = MAX_LENGTH,
    threads: int | None = None,
) -> OnnxEmbedder:
    """Load the packaged model on ONNX Runtime, building its graph into cache_dir on first use.

    device is 'auto' (CUDA when onnxruntime has it, else CPU), 'cpu' or 'cuda'. No network is
    used: weights and tokenizer are read from the installed package.
    """
    _require()
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if not 8 <= max_length <= 512:
        raise ConfigError(f"max_length {max_length} is outside 8..512")
    providers = _providers(device)
    path = export_onnx(Path(cache_dir), precision)

    import onnxruntime as ort
    from tokenizers import Tokenizer

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # One inference at a time uses every core; a second pool would only fight it.
    opts.intra_op_num_threads = threads or _cpu_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=opts, providers=providers)

    tokenizer = Tokenizer.from_file(str(verified_model_dir() / "tokenizer.json"))
    tokenizer.no_padding()  # we pad per batch, to the batch's own longest text
    tokenizer.enable_truncation(max_length=max_length)
    dim = int(session.get_outputs()[0].shape[-1])
    return OnnxEmbedder(session, tokenizer, embedder_name(precision, max_length), dim)


def embedder_name(precision: str = "fp32", max_length: int = MAX_LENGTH) -> str:
    """The name load_embedder gives its vectors, known without loading the model."""
    name = MODEL_NAME if precision == "fp32" else f"{MODEL_NAME}-{precision}"
    if max_length != MAX_LENGTH:
        name += f"-len{max_length}"
    return name
