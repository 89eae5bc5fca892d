"""The bulk-load job: the arXiv metadata snapshot (Kaggle JSON Lines, 2.7M papers) as a resumable
stream.

The file (plain or gzip) is read line by line and merged into the store one transaction per
batch. After each committed batch a checkpoint - the byte offset just past the batch's last
line, in the decompressed stream, and the running counts - replaces the previous one atomically
(`<data_dir>/bulk-load/<file>.json`). A run killed at any point (`kill -9` included) resumes from
the last checkpoint: a batch committed but not yet checkpointed is merged again, which changes
nothing (merging a paper is idempotent), so the store ends the same as after one clean run.
The checkpoint names the file by size, modification time and a hash of its first 64 KiB; a
different file under the same name starts over.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from paperfeed.core.errors import BadRequest, RecordError
from paperfeed.core.models import IngestCounts, Paper
from paperfeed.core.settings import Settings
from paperfeed.core.util import write_atomic
from paperfeed.sources.bulk import SOURCE_JSONL, parse_json_record
from paperfeed.sources.files import is_gzip
from paperfeed.store import Store

MAX_ERRORS_KEPT = 1000
SKIP_CHUNK = 1 << 20


@dataclass
class BulkReport:
    """What a (possibly resumed) bulk load did, counted over all its runs."""

    path: str
    counts: IngestCounts = field(default_factory=IngestCounts)
    lines: int = 0
    offset: int = 0
    resumed_from_line: int = 0
    done: bool = False
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line: new, updated, unchanged, rejected, and where it resumed."""
        c = self.counts
        resumed = f", resumed at line {self.resumed_from_line:,}" if self.resumed_from_line else ""
        return (f"{c.new:,} new, {c.updated:,} updated, {c.unchanged:,} unchanged, "
                f"{c.rejected:,} rejected; {self.lines:,} lines{resumed} in {self.seconds:.1f}s")


def file_identity(path: Path) -> dict[str, Any]:
    """Size, mtime and a hash of the first 64 KiB: enough to tell a different file."""
    st = path.stat()
    with path.open("rb") as fh:
        head = hashlib.sha256(fh.read(65536)).hexdigest()[:16]
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "head": head}


def checkpoint_path(settings: Settings, path: Path) -> Path:
    """Where the checkpoint of a file's load lives."""
    key = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:12]
    return settings.data_path / "bulk-load" / f"{path.name}.{key}.json"


def _save_checkpoint(where: Path, data: dict[str, Any]) -> None:
    write_atomic(where, json.dumps(data).encode("utf-8"))


def _read_checkpoint(where: Path, ident: dict[str, Any]) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise BadRequest(
            f"checkpoint {where} is unreadable ({exc}); rerun with --restart"
        ) from None
    return data if data.get("file") == ident else None


def _lines_from(raw: IO[bytes], gz: bool, offset: int) -> Iterator[bytes]:
    """The lines after `offset` decompressed bytes (skipped without parsing)."""
    stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
    if offset:
        if gz:
            left = offset
            while left > 0:
                got = stream.read(min(SKIP_CHUNK, left))
                if not got:
                    raise BadRequest(
                        f"{raw.name}: shorter than its checkpoint; rerun with --restart"
                    )
                left -= len(got)
        else:
            raw.seek(offset)
    yield from stream


class _Bar:
    """A tqdm bar over the file's bytes (compressed bytes for gzip), with papers and ETA."""

    def __init__(self, raw: IO[bytes], total: int, start: int, enabled: bool | None) -> None:
        from tqdm import tqdm

        self.raw = raw
        self.bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024,
                        desc="loading", disable=None if enabled is None else not enabled,
                        file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
        self.last = start

    def update(self, papers: int) -> None:
        pos = self.raw.tell()
        self.bar.update(max(0, pos - self.last))
        self.last = pos
        self.bar.set_postfix_str(f"{papers:,} papers", refresh=False)

    def close(self) -> None:
        self.bar.close()


def load_snapshot(
    store: Store,
    settings: Settings,
    path: Path,
    *,
    batch_size: int | None = None,
    restart: bool = False,
    progress: bool | None = None,
) -> BulkReport:
    """Stream an arXiv metadata snapshot into the store, resuming from its checkpoint if any."""
    if not path.is_file():
        raise BadRequest(f"no such file: {path}")
    size = batch_size or settings.ingest_batch_size
    if size < 1:
        raise BadRequest(f"batch size must be at least 1, not {size}")
    ident = file_identity(path)
    where = checkpoint_path(settings, path)
    state = None if restart else _read_checkpoint(where, ident)
    report = BulkReport(str(path))
    if state:
        report.counts = IngestCounts(**state["counts"])
        report.lines, report.offset = int(state["lines"]), int(state["offset"])
        report.resumed_from_line = report.lines
        report.done = bool(state.get("done"))
        report.seconds = float(state.get("seconds", 0.0))
        if report.done:
            return report
    started = time.monotonic()
    before = report.seconds
    run_id = store.runs.start_run(f"bulk-load {path}")
    run_counts = IngestCounts()
    gz = is_gzip(path)

    def commit(batch: list[Paper], rejected: int, offset: int, lines: int, done: bool) -> None:
        nonlocal run_counts
        counts = store.papers.upsert_papers(batch) if batch else IngestCounts()
        counts = counts + IngestCounts(rejected=rejected)
        run_counts = run_counts + counts
        report.counts = report.counts + counts
        report.offset, report.lines, report.done = offset, lines, done
        report.seconds = before + time.monotonic() - started
        _save_checkpoint(where, {"file": ident, "offset": offset, "lines": lines, "done": done,
                                 "counts": asdict(report.counts), "seconds": report.seconds})

    try:
        with path.open("rb") as raw:
            bar = _Bar(raw, ident["size"], 0, progress)
            try:
                offset, lines = report.offset, report.lines
                batch: list[Paper] = []
                rejected = 0
                for line in _lines_from(raw, gz, offset):
                    offset += len(line)
                    lines += 1
                    item = parse_json_record(line, f"{path}:{lines}", SOURCE_JSONL)
                    if isinstance(item, RecordError):
                        rejected += 1
                        if len(report.errors) < MAX_ERRORS_KEPT:
                            report.errors.append(str(item))
                    elif item is not None:
                        batch.append(item)
                    if len(batch) >= size:
                        commit(batch, rejected, offset, lines, False)
                        batch, rejected = [], 0
                        bar.update(
                            report.counts.new + report.counts.updated + report.counts.unchanged
                        )
                commit(batch, rejected, offset, lines, True)
                bar.update(report.counts.new + report.counts.updated + report.counts.unchanged)
            finally:
                bar.close()
    except BaseException as exc:
        store.runs.finish_run(run_id, run_counts, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    store.runs.finish_run(run_id, run_counts)
    return report
