"""Small helpers every layer may use: batching and the one atomic file write."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
CHUNK = 500  # rows per batch: under SQLite's bound-parameter limit, small enough for PostgreSQL


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


@contextlib.contextmanager
def atomic_file(path: Path, *, before_replace: Callable[[], None] | None = None,
                file_mode: int = 0o644) -> Iterator[Path]:
    """A temporary path beside `path`; when the block succeeds it is synced and renamed onto `path`.

    Readers see the old file or the new one, never half of one; a failed block leaves nothing
    behind. `before_replace` runs after the data is on disk and before the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode)  # mkstemp makes 0600 files; readers may run as other users
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(
    path: Path, data: bytes, *, before_replace: Callable[[], None] | None = None
) -> None:
    """Write `data` to `path` atomically (see atomic_file)."""
    with atomic_file(path, before_replace=before_replace) as tmp:
        tmp.write_bytes(data)
