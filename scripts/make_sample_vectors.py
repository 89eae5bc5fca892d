"""Embed the bundled sample's papers once, so a first run needs no index build (`make sample`).

Usage: python scripts/make_sample_vectors.py paperfeed/data/sample-feed.jsonl.gz

Reads the sample with paperfeed's own reader, embeds each paper's text with the packaged model (the
default settings: int8, 256 tokens) and writes paperfeed/data/sample-vectors.npy (int8) and sample-
vectors.json (model, weights sha256, graph version, arXiv id and text sha256 per row).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from tqdm import tqdm

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.index.embedder import load_embedder, paper_text
from paperfeed.index.shipped import SAMPLE_FILES, write_shipped
from paperfeed.index.weights import weights_sha256
from paperfeed.sources import read_records

BATCH = 64


def main() -> None:
    """Embed the sample and write its vectors and manifest."""
    sample = Path(sys.argv[1])
    papers = [p for p in read_records(sample) if isinstance(p, Paper)]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as cache:
        defaults = Settings()
        emb = load_embedder(Path(cache), "cpu", precision=defaults.embed_precision,
                            max_length=defaults.embed_max_length)
        out = np.zeros((len(papers), emb.dim), dtype=np.float32)
        with tqdm(
            total=len(papers), desc="embedding the sample", unit=" papers", disable=None
        ) as bar:
            for start in range(0, len(papers), BATCH):
                chunk = papers[start : start + BATCH]
                out[start : start + len(chunk)] = emb.embed(
                    [paper_text(p.title, p.abstract) for p in chunk]
                )
                bar.update(len(chunk))
    sha = weights_sha256()
    assert sha is not None
    write_shipped(SAMPLE_FILES, model=emb.name, weights_sha256=sha, papers=papers, vectors=out)
    size = sum(f.stat().st_size for f in SAMPLE_FILES)
    print(
        f"{len(papers)} vectors ({emb.name}, {emb.dim}-dim int8) written in "
        f"{time.monotonic() - started:.0f}s "
        f"to {SAMPLE_FILES[0].name} and {SAMPLE_FILES[1].name} ({size / 1e6:.2f} MB)"
    )


if __name__ == "__main__":
    main()
