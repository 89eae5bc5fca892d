"""Embedding on a local Ray cluster (127.0.0.1, 2 CPUs): a killed worker's batch is redone, none
twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from paperfeed.core.errors import ConfigError
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.index import distributed as D, open_search_index
from paperfeed.index.semantic import embedder_available
from paperfeed.store import Store

pytestmark = [
    pytest.mark.skipif(not D.ray_available(), reason="ray (paperfeed[distributed]) not installed"),
    pytest.mark.skipif(not embedder_available(), reason="semantic extra not installed"),
    # ray's own modules warn about deprecated APIs of their dependencies on import
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

# A one-node cluster on loopback: without this Ray swaps 127.0.0.1 for the machine's own address.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
MAX_LENGTH = 64  # short texts keep the test fast; the model and the code path are the real ones


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A Ray head on 127.0.0.1 with 2 CPUs, started here and stopped by killing its process
    group."""
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's unix sockets live here
    ray_bin = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    proc = subprocess.Popen(
        [ray_bin, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
         "--num-cpus=2", "--num-gpus=0", "--object-store-memory=100000000",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ray head did not start (exit {proc.poll()})")
            time.sleep(0.5)
        time.sleep(2)  # the raylet registers with the GCS just after the port opens
        yield address
    finally:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        import shutil

        shutil.rmtree(temp, ignore_errors=True)


def _papers(n: int) -> list[Paper]:
    words = ["attention", "graph", "diffusion", "protein", "retrieval", "robot", "quantum",
             "language", "vision", "causal", "sparse", "kernel"]
    out = []
    for i in range(n):
        a, b, c = words[i % 12], words[(i * 5 + 1) % 12], words[(i * 7 + 3) % 12]
        out.append(Paper(title=f"{a.title()} {b} for {c} number {i}",
                         abstract=f"We study {a} and {b} methods; {c} results on benchmark {i}.",
                         arxiv_id=f"2401.{10000 + i:05d}", authors=(f"Author {i % 17}",),
                         categories=("cs.LG",), source="test"))
    return out


def test_exactly_once_with_a_worker_killed_mid_run(
    ray_cluster: str, settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.papers.upsert_papers(_papers(240))
    index = open_search_index(settings, store)
    index.build(embed=False)
    cache = str(settings.data_path / "models")
    from paperfeed.index.embedder import load_embedder, paper_text
    from paperfeed.index.quantise import export_onnx

    export_onnx(Path(cache), "fp32")  # built once here, loaded by both workers

    writes: Counter[int] = Counter()
    real_write = D.write_batch

    def counting_write(idx: object, ids: list[int], texts: list[str], vecs: np.ndarray) -> int:
        writes.update(ids)
        return real_write(idx, ids, texts, vecs)  # type: ignore[arg-type]

    monkeypatch.setattr(D, "write_batch", counting_write)
    killed: list[int] = []

    def kill_one(batch_id: int, report: D.ClusterReport) -> None:
        if not killed and report.batches == 1:
            pid = report.worker_pids[0]
            os.kill(pid, signal.SIGKILL)  # the worker dies with its queued batches
            killed.append(pid)

    report = D.embed_on_cluster(index, ray_cluster, workers=2, precision="fp32",
                                max_length=MAX_LENGTH, batch=16, cache_dir=cache,
                                on_written=kill_one)
    assert killed
    assert report.redone >= 1  # the killed worker's batches were handed out again
    assert report.papers == 240 and report.written == 240 and report.duplicates == 0
    assert report.batches == 15
    assert set(writes.values()) == {1} and len(writes) == 240  # every paper written exactly once
    index.semantic.reload()
    assert index.semantic.count() == 240
    # the vectors are the model's: equal to embedding the same texts here
    local = load_embedder(Path(cache), device="cpu", precision="fp32", max_length=MAX_LENGTH)
    papers = store.papers.get_papers([int(i) for i in index.semantic.ids()[:5]])
    for pid, p in papers.items():
        vec = index.semantic.vector(pid)
        ref = local.embed([paper_text(p.title, p.abstract)])[0]
        assert vec is not None and float(vec @ ref) > 0.999
    assert index.semantic.model_name() == local.name

    # a second run finds nothing left to do: it resumes, it does not redo
    again = D.embed_on_cluster(index, ray_cluster, workers=1, precision="fp32",
                               max_length=MAX_LENGTH, batch=16, cache_dir=cache)
    assert again.papers == 0 and again.written == 0


def test_bad_cluster_address_and_arguments(settings: Settings, store: Store) -> None:
    index = open_search_index(settings, store)
    with pytest.raises(ConfigError, match="workers must be at least 1"):
        D.embed_on_cluster(index, "127.0.0.1:1", workers=0)
    with pytest.raises(ConfigError, match="cannot reach the Ray cluster"):
        D.embed_on_cluster(index, f"127.0.0.1:{_free_port()}", workers=1)
    with pytest.raises(ConfigError, match="is not HOST:PORT"):
        D.embed_on_cluster(index, "nowhere", workers=1)
