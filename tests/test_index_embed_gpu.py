"""The GPU path (embed_device=cuda): same vectors as on CPU; skipped, with the reason, without a
GPU."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from paperfeed.index.semantic import embedder_available


def _cuda() -> bool:
    if not embedder_available():
        return False
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


@pytest.mark.skipif(not _cuda(), reason="no GPU here: onnxruntime has no CUDAExecutionProvider "
                    "(CPU-only machine); the GPU throughput is measured where one exists")
def test_cuda_embeddings_equal_cpu_ones(tmp_path: Path) -> None:
    from paperfeed.index.embedder import load_embedder

    gpu = load_embedder(tmp_path, device="cuda", precision="fp32")
    cpu = load_embedder(tmp_path, device="cpu", precision="fp32")
    assert gpu.providers[0] == "CUDAExecutionProvider"
    texts = [f"Paper {i}: sparse attention for long documents, variant {i}." for i in range(256)]
    started = time.perf_counter()
    vg = gpu.embed(texts, batch_size=64)
    seconds = time.perf_counter() - started
    vc = cpu.embed(texts[:16])
    assert np.allclose(vg[:16], vc, atol=2e-3)
    print(f"cuda: {len(texts) / seconds:.0f} texts/s")  # reported by -s; not a timed assertion
