"""Vectors shipped with the bundled sample, so a first run searches by meaning with no index build.

`make sample` embeds the sample's papers once (scripts/make_sample_vectors.py) and writes
paperfeed/data/sample-vectors.npy (int8 rows, each scaled to +-127 by its own largest component) and
sample-vectors.json, the manifest: the vectors' model name, the sha256 of the weights file and the
ONNX graph version they came from, and per row the paper's arXiv id (or null) and the sha256 of its
embedded text. A row is used only when the installed weights hash the same, the graph version and
model name (precision, max length) are the configured ones, and the stored paper's text hashes the
same; every other paper is embedded as usual.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from paperfeed.core.models import Paper
from paperfeed.core.util import write_atomic
from paperfeed.index.onnx_graph import GRAPH_VERSION

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE_FEED = DATA / "sample-feed.jsonl.gz"
SAMPLE_FILES = (DATA / "sample-vectors.npy", DATA / "sample-vectors.json")
FORMAT = 1

FloatArray = npt.NDArray[np.float32]


def text_sha256(title: str, abstract: str) -> str:
    """sha256 (first 16 hex digits) of the text embedded for a paper."""
    from paperfeed.index.embedder import paper_text

    return hashlib.sha256(paper_text(title, abstract).encode("utf-8")).hexdigest()[:16]


def quantise(vectors: FloatArray) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """int8 codes of unit vectors, one scale per row (its largest |component| maps to 127)."""
    vecs = np.asarray(vectors, dtype=np.float32)
    scales = np.maximum(np.abs(vecs).max(axis=1), 1e-12) / 127.0
    codes = np.clip(np.rint(vecs / scales[:, None]), -127, 127).astype(np.int8)
    return codes, scales.astype(np.float32)


def dequantise(codes: npt.NDArray[np.int8], scales: FloatArray) -> FloatArray:
    """Float32 unit vectors back from int8 codes and their row scales."""
    vecs = codes.astype(np.float32) * np.asarray(scales, dtype=np.float32)[:, None]
    vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    out: FloatArray = vecs
    return out


def write_shipped(
    files: tuple[Path, Path],
    *,
    model: str,
    weights_sha256: str,
    papers: Sequence[Paper],
    vectors: FloatArray,
) -> None:
    """Write the int8 vectors of papers and their manifest (what `make sample` ships)."""
    codes, scales = quantise(vectors)
    npy, manifest = files
    buf = io.BytesIO()  # both files atomically: a crash never leaves a half-written sample
    np.save(buf, codes, allow_pickle=False)
    write_atomic(npy, buf.getvalue())
    data: dict[str, Any] = {
        "format": FORMAT,
        "model": model,
        "model_sha256": weights_sha256,
        "graph_version": GRAPH_VERSION,
        "dim": int(codes.shape[1]),
        "count": len(papers),
        "arxiv_ids": [p.arxiv_id for p in papers],
        "text_sha256": [text_sha256(p.title, p.abstract) for p in papers],
        "scales": [float(f"{s:.6g}") for s in scales.tolist()],
    }
    write_atomic(manifest, (json.dumps(data, separators=(",", ":")) + "\n").encode("utf-8"))


@dataclass(frozen=True)
class ShippedVectors:
    """Shipped rows that may be used for the installed model, found by a paper's text hash."""

    model: str
    dim: int
    rows: dict[str, int]  # text sha256 -> row
    arxiv_ids: tuple[str | None, ...]
    codes: npt.NDArray[np.int8]
    scales: FloatArray

    def match(self, papers: Sequence[Paper]) -> tuple[list[int], FloatArray]:
        """Positions in papers that have a shipped vector (same text, same arXiv id) and those
        vectors."""
        hits: list[int] = []
        rows: list[int] = []
        for pos, p in enumerate(papers):
            row = self.rows.get(text_sha256(p.title, p.abstract))
            if row is not None and self.arxiv_ids[row] in (None, p.arxiv_id):
                hits.append(pos)
                rows.append(row)
        idx = np.asarray(rows, dtype=np.int64)
        return hits, dequantise(self.codes[idx], self.scales[idx])


def load_shipped(model: str, files: tuple[Path, Path] = SAMPLE_FILES) -> ShippedVectors | None:
    """The shipped vectors when they are of this model and the installed weights; else None
    (embed)."""
    from paperfeed.index.weights import weights_sha256

    npy, manifest = files
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("shipped vectors ignored: cannot read %s: %s", manifest, exc)
        return None
    if (
        data.get("format") != FORMAT
        or data.get("model") != model
        or data.get("graph_version") != GRAPH_VERSION
    ):
        return None
    installed = weights_sha256()
    if installed is None or data.get("model_sha256") != installed:
        log.info("shipped vectors not used: made with weights sha256 %s, installed %s",
                 data.get("model_sha256"), installed)
        return None
    try:
        codes = np.load(npy, allow_pickle=False)
        hashes = [str(h) for h in data["text_sha256"]]
        scales = np.asarray(data["scales"], dtype=np.float32)
        arxiv = tuple(None if a is None else str(a) for a in data["arxiv_ids"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("shipped vectors ignored: %s", exc)
        return None
    if (
        codes.dtype != np.int8
        or codes.ndim != 2
        or not len(codes) == len(hashes) == len(scales) == len(arxiv)
    ):
        log.warning("shipped vectors ignored: %s does not match its manifest", npy)
        return None
    return ShippedVectors(
        model=model,
        dim=int(codes.shape[1]),
        rows={h: i for i, h in enumerate(hashes)},
        arxiv_ids=arxiv,
        codes=codes,
        scales=scales,
    )
