"""The HNSW graph for large vector sets: grown as vectors arrive, memory-mapped, exact re-
scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paperfeed.index import ann, vectors as V

pytestmark = pytest.mark.skipif(not ann.ann_available(), reason="the HNSW graph needs usearch")


def clustered(rng: np.random.Generator, n: int, dim: int, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around random centres (the shape real embeddings have), Random(42)-style."""
    pick = rng.integers(0, len(centres), n)
    v = centres[pick] + 0.08 * rng.standard_normal((n, dim)).astype(np.float32)
    unit: np.ndarray = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return unit


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(V, "LARGE_THRESHOLD", 2_000)
    monkeypatch.setattr(ann, "TAIL_MAX", 1_000)


def exact_top(idx: V.VectorIndex, q: np.ndarray, k: int) -> list[int]:
    return [p for p, _ in idx.exact_search(q, k)]


def test_graph_grows_with_appends_and_keeps_recall(tmp_path: Path, small_limits: None) -> None:
    rng = np.random.default_rng(42)
    dim = 64
    centres = rng.standard_normal((80, dim)).astype(np.float32)
    idx = V.create_vectors(tmp_path, model="m", dim=dim)
    graphs = []
    for start in range(0, 8_000, 500):  # an embedding job saving batch after batch
        idx.append(np.arange(start, start + 500) + 1, clustered(rng, 500, dim, centres))
        graphs.append((idx.meta.get("ann") or {}).get("graph"))
    assert graphs[2] is None  # below the threshold: no graph, exact search
    built = [g for g in dict.fromkeys(graphs) if g]
    assert len(built) >= 4  # extended several times, not built once at the end
    assert idx.ann_tail() < ann.TAIL_MAX
    assert len(idx.ann_keys) + idx.ann_tail() == len(idx)
    assert len(list(tmp_path.glob("ann-*.usearch"))) == 1  # older generations cleaned up

    idx = V.open_vectors(tmp_path)
    queries = clustered(rng, 200, dim, centres)
    recall = [
        len({p for p, _ in idx.search(q, 10)} & set(exact_top(idx, q, 10))) / 10 for q in queries
    ]
    assert np.mean(recall) >= 0.98
    # the graph is served memory-mapped, not read into memory
    maps = Path("/proc/self/maps")
    if maps.exists():
        assert idx.meta["ann"]["graph"] in maps.read_text()
    # scores are exact dot products, not int8 estimates
    q = queries[0]
    for pid, score in idx.search(q, 10):
        vec = idx.vector(pid)
        assert vec is not None and score == pytest.approx(float(vec @ q), abs=1e-6)


def test_replaced_and_removed_vectors_never_come_back(tmp_path: Path, small_limits: None) -> None:
    rng = np.random.default_rng(42)
    dim = 32
    centres = rng.standard_normal((40, dim)).astype(np.float32)
    idx = V.create_vectors(tmp_path, model="m", dim=dim)
    idx.append(np.arange(1, 4_001), clustered(rng, 4_000, dim, centres))
    assert idx.meta.get("ann")
    q = clustered(rng, 1, dim, centres)[0]
    best = [p for p, _ in idx.search(q, 10)]
    # new vectors for the best hits: far from the query now, though the graph holds the old ones
    idx.append(np.asarray(best[:5]), np.tile(-q, (5, 1)))
    idx.remove(best[5:])
    assert set(best[:5]) <= set(idx.ann_stale.tolist())
    got = idx.search(q, 10)
    assert not {p for p, _ in got} & set(best)
    assert [p for p, _ in got] == exact_top(idx, q, 10)
    # the opposite query finds the replaced vectors (they are in the exact tail)
    assert {p for p, _ in idx.search(-q, 5)} == set(best[:5])
    # filtered search stays inside the filter
    allowed = np.arange(1, 4_001)[::3]
    got_f = idx.search(q, 10, allowed_ids=allowed)
    assert len(got_f) == 10 and {p for p, _ in got_f} <= set(allowed.tolist())
    # forcing a build folds the tail into the graph and clears the stale keys
    assert idx.build_ann(force=True)
    assert idx.ann_tail() == 0 and not len(idx.ann_stale)
    assert [p for p, _ in V.open_vectors(tmp_path).search(q, 10)] == exact_top(idx, q, 10)
    # a new model starts over without a graph
    assert "ann" not in V.create_vectors(tmp_path, model="other", dim=dim).meta
    assert not list(tmp_path.glob("ann-*"))
