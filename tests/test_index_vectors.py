"""Vector directory: exact search, append/resume, remove, atomic saves, the large-collection
path."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from paperfeed.core.errors import BadRequest, ConfigError
from paperfeed.index import vectors as V


def unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    out: np.ndarray = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def brute(ids: np.ndarray, mat: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    scores = mat @ q
    order = np.lexsort((ids, -scores))
    return [int(ids[i]) for i in order[:k]]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_exact_search_matches_brute_force(tmp_path: Path, rng: np.random.Generator) -> None:
    ids = rng.choice(10**6, size=1500, replace=False).astype(np.int64)
    mat = unit(rng, 1500, 32)
    idx = V.create_vectors(tmp_path / "v", model="m", dim=32)
    idx.append(ids, mat)
    idx = V.open_vectors(tmp_path / "v")
    for q in unit(rng, 5, 32):
        got = idx.search(q, 10)
        assert [pid for pid, _ in got] == brute(ids, mat, q, 10)
        assert all(a[1] >= b[1] for a, b in itertools.pairwise(got))
        assert got[0][1] == pytest.approx(float(np.max(mat @ q)), abs=1e-5)
    allowed = ids[::7]
    q = unit(rng, 1, 32)[0]
    got = idx.search(q, 5, allowed_ids=allowed)
    sel = np.isin(ids, allowed)
    assert [pid for pid, _ in got] == brute(ids[sel], mat[sel], q, 5)
    assert idx.search(q, 5, allowed_ids=np.array([-1, -2], dtype=np.int64)) == []
    assert len(idx.search(q, 10**6)) == 1500


def test_similar_leaves_the_paper_out(tmp_path: Path, rng: np.random.Generator) -> None:
    mat = unit(rng, 50, 16)
    idx = V.create_vectors(tmp_path, model="m", dim=16)
    idx.append(np.arange(50), mat)
    got = idx.similar(3, 4)
    assert len(got) == 4 and 3 not in [p for p, _ in got]
    assert [p for p, _ in got] == [p for p in brute(np.arange(50), mat, mat[3], 5) if p != 3][:4]
    assert idx.similar(999, 4) == []


def test_append_in_chunks_resumes_and_merges(tmp_path: Path, rng: np.random.Generator) -> None:
    ids = np.arange(1, 1001, dtype=np.int64)
    mat = unit(rng, 1000, 8)
    d = tmp_path / "v"
    V.create_vectors(d, model="m", dim=8)
    # a job that embeds 100 at a time and is "killed" after 430 papers
    for start in range(0, 430, 100):
        idx = V.open_vectors(d)
        todo = idx.missing(ids)[:100]
        todo = todo[todo <= 430] if start == 400 else todo
        rows = todo - 1
        idx.append(todo, mat[rows])
    idx = V.open_vectors(d)
    assert len(idx) == 430
    todo = idx.missing(ids)
    assert todo[0] == 431 and len(todo) == 570
    for start in range(0, len(todo), 100):
        chunk = todo[start : start + 100]
        idx.append(chunk, mat[chunk - 1])
    idx = V.open_vectors(d)
    assert len(idx) == 1000 and not len(idx.missing(ids))
    # geometric merging keeps few segments
    assert len(json.loads((d / "meta.json").read_text())["segments"]) <= 4
    rows = idx.rows_of(ids)
    np.testing.assert_array_equal(idx.vectors[rows], mat)
    assert idx.count == json.loads((d / "meta.json").read_text())["count"] == 1000


def test_append_replaces_existing_ids(tmp_path: Path, rng: np.random.Generator) -> None:
    idx = V.create_vectors(tmp_path, model="m", dim=4)
    idx.append([1, 2, 3], unit(rng, 3, 4))
    new = unit(rng, 1, 4)
    idx.append([2], new)
    idx = V.open_vectors(tmp_path)
    assert sorted(idx.ids.tolist()) == [1, 2, 3]
    np.testing.assert_array_equal(idx.vector(2), new[0])


def test_remove_then_compact(tmp_path: Path, rng: np.random.Generator) -> None:
    mat = unit(rng, 200, 8)
    idx = V.create_vectors(tmp_path, model="m", dim=8)
    idx.append(np.arange(200), mat)
    assert idx.remove([5, 6, 7, 10**9]) == 3
    assert idx.remove([5]) == 0
    idx = V.open_vectors(tmp_path)
    assert len(idx) == 197 and idx.vector(5) is None
    assert 5 not in [p for p, _ in idx.search(mat[5], 10)]
    idx.remove(np.arange(100, 200))  # over MAX_DEAD_FRACTION: rewritten without dead rows
    idx = V.open_vectors(tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert len(idx) == 97 and all(s["dead"] is None for s in meta["segments"])
    named = {f"{s['name']}.{x}.npy" for s in meta["segments"] for x in ("ids", "vectors")}
    assert {p.name for p in tmp_path.glob("*.npy")} == named  # stale files were deleted
    np.testing.assert_array_equal(idx.vector(42), mat[42])


def test_a_failed_save_leaves_the_old_index(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    mat = unit(rng, 20, 8)
    idx = V.create_vectors(tmp_path, model="m", dim=8)
    idx.append(np.arange(10), mat[:10])
    reader = V.open_vectors(tmp_path)

    def crash(path: Path, data: dict[str, object]) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(V, "_save_json", crash)
    with pytest.raises(OSError):
        idx.append(np.arange(10, 20), mat[10:])
    with pytest.raises(OSError):
        V.open_vectors(tmp_path).remove([1, 2])
    monkeypatch.undo()
    after = V.open_vectors(tmp_path)
    assert sorted(after.ids.tolist()) == list(range(10))
    # a reader that opened before a successful write keeps a consistent old view
    after.append(np.arange(10, 20), mat[10:])
    after.compact()
    assert len(reader) == 10
    np.testing.assert_array_equal(reader.vectors[reader.rows_of(np.arange(10))], mat[:10])
    assert len(V.open_vectors(tmp_path)) == 20
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_input_and_missing_directory(tmp_path: Path, rng: np.random.Generator) -> None:
    with pytest.raises(ConfigError):
        V.open_vectors(tmp_path / "nothing")
    idx = V.create_vectors(tmp_path, model="m", dim=8)
    assert idx.search(unit(rng, 1, 8)[0], 5) == []
    with pytest.raises(BadRequest):
        idx.append([1, 2], unit(rng, 3, 8))
    with pytest.raises(BadRequest):
        idx.append([1, 1], unit(rng, 2, 8))
    with pytest.raises(BadRequest):
        idx.search(np.ones(4, dtype=np.float32), 3)
    # create_vectors on an existing directory starts over, for a new model
    idx.append([1], unit(rng, 1, 8))
    again = V.create_vectors(tmp_path, model="other", dim=4)
    assert len(again) == 0 and V.open_vectors(tmp_path).model == "other"


def test_large_path_recall(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not V.large_available():
        pytest.skip("the int8 scan needs the optional usearch package")
    n, dim = 30_000, 384
    mat = unit(np.random.default_rng(42), n, dim)
    ids = np.arange(n, dtype=np.int64) * 3
    idx = V.create_vectors(tmp_path, model="m", dim=dim)
    idx.append(ids, mat)
    monkeypatch.setattr(V, "LARGE_THRESHOLD", 1000)
    idx = V.open_vectors(tmp_path)
    queries = unit(rng, 50, dim)
    recall = []
    for q in queries:
        got = [p for p, _ in idx.search(q, 10)]
        recall.append(len(set(got) & set(brute(ids, mat, q, 10))) / 10)
    assert np.mean(recall) >= 0.95
    assert idx.int8_file().is_file()
    # filtered search keeps to the allowed ids, whichever way it is answered
    for allowed in (ids[::2], ids[::50]):
        got = [p for p, _ in idx.search(queries[0], 10, allowed_ids=allowed)]
        assert set(got) <= set(allowed.tolist()) and len(got) == 10
    # a write makes the codes stale: they are rebuilt under the new generation
    idx.remove([0])
    assert not list(tmp_path.glob("int8-*"))
    assert 0 not in [p for p, _ in idx.search(mat[0], 10)]
