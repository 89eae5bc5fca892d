"""Shared helpers for the search tests: a tiny corpus and a deterministic fake embedder."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date

import numpy as np

from paperfeed.core.models import Paper

DIM = 16


class FakeEmbedder:
    """Bag-of-words hashed into 16 dimensions, L2-normalised: texts sharing words are near."""

    name = "fake-bow"
    dim = DIM

    def embed(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().replace(".", " ").split():
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                out[i, h % DIM] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        normed: np.ndarray = out / np.maximum(norms, 1e-9)
        return normed

    def embed_query(self, text: str) -> np.ndarray:
        first: np.ndarray = self.embed([text])[0]
        return first


def corpus() -> list[Paper]:
    """Six small papers across categories, authors and days."""
    return [
        Paper(
            title="Attention is all you need",
            abstract="We propose the Transformer, a model based on attention.",
            arxiv_id="1706.03762",
            authors=("Ashish Vaswani", "Noam Shazeer"),
            categories=("cs.CL", "cs.LG"),
            published=date(2017, 6, 12),
            source="test",
        ),
        Paper(
            title="BERT: pre-training of deep bidirectional transformers",
            abstract="Language model pre-training with masked language modeling improves many "
                     "tasks.",
            arxiv_id="1810.04805",
            authors=("Jacob Devlin", "Kenton Lee"),
            categories=("cs.CL",),
            published=date(2018, 10, 11),
            source="test",
        ),
        Paper(
            title="Deep residual learning for image recognition",
            abstract="Residual networks ease the training of very deep networks for image "
                     "classification.",
            arxiv_id="1512.03385",
            authors=("Kaiming He",),
            categories=("cs.CV",),
            published=date(2015, 12, 10),
            source="test",
        ),
        Paper(
            title="Denoising diffusion probabilistic models",
            abstract="High quality image synthesis using diffusion probabilistic models.",
            arxiv_id="2006.11239",
            authors=("Jonathan Ho", "Ajay Jain"),
            categories=("cs.LG", "stat.ML"),
            published=date(2020, 6, 19),
            source="test",
        ),
        Paper(
            title="Language models are few-shot learners",
            abstract="Scaling up language models greatly improves few-shot performance. GPT-3 is "
                     "large.",
            arxiv_id="2005.14165",
            authors=("Tom Brown",),
            categories=("cs.CL",),
            published=date(2020, 5, 28),
            source="test",
        ),
        Paper(
            title="Vision transformers for image recognition at scale",
            abstract="An image is worth 16x16 words: a pure transformer applied to image patches.",
            arxiv_id="2010.11929",
            authors=("Alexey Dosovitskiy",),
            categories=("cs.CV", "cs.LG"),
            published=date(2020, 10, 22),
            source="test",
        ),
    ]
