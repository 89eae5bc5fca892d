"""Embedding on a Ray cluster: workers run the same ONNX model, the driver writes each batch once.

`embed_on_cluster` connects to a running Ray cluster (`ray start --head` on one machine,
`ray start --address HEAD:6379` on the others; every node needs `paperfeed[semantic,distributed]`
installed). It starts one actor per worker; each actor loads the packaged model on ONNX Runtime
once (the graph is built into a cache directory on its node). The driver - the process running
`paperfeed index embed --cluster ADDRESS` - reads texts from the store, hands batches to the
actors, and writes every vector itself, through the same vector files as a local embedding job,
under the same lock. That is what makes the writes exactly-once:

* workers never write: a batch is written when its result reaches the driver, and a batch id
  already written is never written again (a late duplicate is counted and dropped);
* a batch whose worker died (the task fails with an actor error) is handed to another worker,
  and the dead actor is restarted by Ray (max_restarts=-1) for later batches;
* if the driver itself dies, nothing half-written remains (each append is atomic), and the next
  run embeds only the papers that still have no vector.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import ConfigError
from paperfeed.store.protocols import PaperHolder

if TYPE_CHECKING:  # types only: the job is handed a SearchIndex
    from paperfeed.index.lexical import LexicalIndex
    from paperfeed.index.semantic import SemanticIndex

INSTALL_HINT = (
    "distributed embedding needs the optional extra: pip install 'paperfeed[distributed]'"
)
BATCH = 256  # papers per task: large enough to amortise the round trip, small enough to redo
IN_FLIGHT = 2  # tasks queued per worker, so a worker never waits for the driver
MAX_REDO = 10  # a batch whose workers keep dying is given up on, with an error

Progress = Callable[[str, int, int], None]
FloatArray = npt.NDArray[np.float32]


class _Index(Protocol):
    """What the job needs of a SearchIndex."""

    root: Path
    store: PaperHolder
    lexical: LexicalIndex
    semantic: SemanticIndex

    def _reload_if_changed(self) -> bool: ...


@dataclass
class ClusterReport:
    """What a distributed embedding run did."""

    workers: int
    model: str = ""
    papers: int = 0
    written: int = 0
    batches: int = 0
    redone: int = 0  # batches handed to another worker after theirs died
    duplicates: int = 0  # results of batches already written (dropped)
    skipped_changed: int = 0  # papers whose text changed while they were being embedded
    seconds: float = 0.0
    embed_seconds: float = 0.0  # from the first batch handed out to the last written
    errors: list[str] = field(default_factory=list)
    worker_pids: list[int] = field(default_factory=list)

    @property
    def papers_per_second(self) -> float:
        """Vectors written per second while embedding (worker start-up left out)."""
        return self.written / self.embed_seconds if self.embed_seconds > 0 else 0.0


class EmbedWorker:
    """A Ray actor body: one ONNX embedder, loaded once, embedding batches of texts."""

    def __init__(self, precision: str, max_length: int, device: str, threads: int,
                 cache_dir: str | None) -> None:
        from paperfeed.index.embedder import load_embedder

        cache = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "paperfeed-models"
        self.embedder = load_embedder(cache, device=device, precision=precision,
                                      max_length=max_length, threads=threads)

    def info(self) -> tuple[str, int, int]:
        """Model name, dimension, and this worker's process id."""
        return self.embedder.name, self.embedder.dim, os.getpid()

    def embed(self, batch_id: int, ids: list[int], texts: list[str]) -> tuple[int, list[int], Any]:
        """Vectors of one batch, returned with its id (the driver writes them)."""
        return batch_id, ids, self.embedder.embed(texts)


def ray_available() -> bool:
    """Whether the distributed extra (ray) is installed."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast, naming the address, when nothing listens at a cluster's HOST:PORT."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"cluster address {address!r} is not HOST:PORT (e.g. 10.0.0.5:6379)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None


def _ray() -> ModuleType:
    if not ray_available():
        raise ConfigError(INSTALL_HINT)
    import ray

    return ray


@contextlib.contextmanager
def _vectors_lock(root: Path) -> Iterator[None]:
    # the same lock file SearchIndex.embed and refresh take around vector writes
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".vectors.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def write_batch(index: _Index, ids: Sequence[int], texts: Sequence[str], vecs: FloatArray) -> int:
    """Append one batch's vectors, keeping only papers whose text is still what was embedded."""
    from paperfeed.index.embedder import paper_text

    with _vectors_lock(index.root):
        again = index.store.papers.get_papers(list(ids))
        keep = [j for j, i in enumerate(ids)
                if i in again and paper_text(again[i].title, again[i].abstract) == texts[j]]
        if keep:
            index.semantic.append([ids[j] for j in keep], np.asarray(vecs)[keep])
    return len(keep)


def embed_on_cluster(
    index: _Index,
    address: str,
    *,
    workers: int,
    precision: str = "int8",
    max_length: int = 256,
    device: str = "cpu",
    threads_per_worker: int = 1,
    batch: int = BATCH,
    limit: int | None = None,
    cache_dir: str | None = None,
    progress: Progress | None = None,
    on_written: Callable[[int, ClusterReport], None] | None = None,
) -> ClusterReport:
    """Embed the indexed papers that lack vectors on a Ray cluster; returns what was done."""
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, not {workers}")
    if batch < 1:
        raise ConfigError(f"batch must be at least 1, not {batch}")
    ray = _ray()
    check_reachable(address)
    from ray.exceptions import RayActorError, RayTaskError

    from paperfeed.index.embedder import paper_text

    started = time.monotonic()
    report = ClusterReport(workers=workers)
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING")
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
    try:
        options = {"max_restarts": -1, "max_task_retries": 0, "num_cpus": threads_per_worker}
        if device == "cuda":
            options["num_gpus"] = 1
        actor_cls = ray.remote(**options)(EmbedWorker)
        actors = [actor_cls.remote(precision, max_length, device, threads_per_worker, cache_dir)
                  for _ in range(workers)]
        infos = ray.get([a.info.remote() for a in actors])
        names = {(name, dim) for name, dim, _ in infos}
        if len(names) != 1:
            raise ConfigError(f"workers loaded different models: {sorted(names)}")
        (model, dim), = names
        report.model = model
        report.worker_pids = [pid for _, _, pid in infos]
        index._reload_if_changed()
        with _vectors_lock(index.root):
            index.semantic.ensure_model(model, dim)
        alive = index.lexical.paper_ids[index.lexical.alive]
        todo = np.setdiff1d(alive, index.semantic.ids())
        if limit is not None:
            todo = todo[:limit]
        report.papers = len(todo)
        pending: deque[int] = deque(range(0, len(todo), batch))  # batch id = its start offset
        texts_of: dict[int, tuple[list[int], list[str]]] = {}
        written: set[int] = set()
        redos: dict[int, int] = {}
        running: dict[Any, tuple[int, int]] = {}  # object ref -> (batch id, actor number)
        if progress:
            progress("embedding", 0, report.papers)
        embed_started = time.monotonic()

        def submit(actor_no: int) -> None:
            batch_id = pending.popleft()
            if batch_id not in texts_of:
                chunk = [int(x) for x in todo[batch_id : batch_id + batch]]
                papers = index.store.papers.get_papers(chunk)
                ids = [pid for pid in chunk if pid in papers]
                texts_of[batch_id] = (
                    ids,
                    [paper_text(papers[i].title, papers[i].abstract) for i in ids],
                )
            ids, texts = texts_of[batch_id]
            ref = actors[actor_no].embed.remote(batch_id, ids, texts)
            running[ref] = (batch_id, actor_no)

        for _ in range(IN_FLIGHT):
            for actor_no in range(workers):
                if pending:
                    submit(actor_no)
        done_papers = 0
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            ref = ready[0]
            batch_id, actor_no = running.pop(ref)
            try:
                got_id, ids, vecs = ray.get(ref)
            except (RayActorError, RayTaskError) as exc:
                # the worker died with the batch: hand it out again (it was never written)
                if isinstance(exc, RayTaskError) and not isinstance(exc, RayActorError):
                    report.errors.append(f"batch {batch_id}: {str(exc).splitlines()[0]}")
                    if len(report.errors) > 20:
                        raise ConfigError(f"embedding keeps failing: {report.errors[-1]}") from None
                report.redone += 1
                redos[batch_id] = redos.get(batch_id, 0) + 1
                if redos[batch_id] > MAX_REDO:
                    raise ConfigError(
                        f"batch {batch_id} lost its worker {MAX_REDO} times: {exc}"
                    ) from None
                pending.appendleft(batch_id)
                submit(actor_no)  # the actor restarts; calls queue until it is back
                continue
            if got_id in written:
                report.duplicates += 1
            else:
                _, texts = texts_of.pop(got_id)
                n = write_batch(index, ids, texts, np.asarray(vecs, dtype=np.float32))
                written.add(got_id)
                report.written += n
                report.skipped_changed += len(ids) - n
                report.batches += 1
                done_papers += len(ids)
                if on_written is not None:
                    on_written(got_id, report)
                if progress:
                    progress("embedding", done_papers, report.papers)
            if pending:
                submit(actor_no)
        report.embed_seconds = time.monotonic() - embed_started
        for a in actors:
            ray.kill(a)
    finally:
        ray.shutdown()
    report.seconds = time.monotonic() - started
    return report

