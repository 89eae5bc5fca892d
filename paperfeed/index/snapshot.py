"""Copies of the index files for backups: taken under the writers' locks, so never half-written."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path

# The lock files SearchIndex writers hold (see paperfeed.index): segments, then vectors.
_LOCKS = (".lock", ".vectors.lock")


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        for name in _LOCKS:
            fh = stack.enter_context(open(root / name, "a+b"))
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            stack.callback(fcntl.flock, fh.fileno(), fcntl.LOCK_UN)
        yield


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _LOCKS or n.startswith((".tmp-", ".current.json."))}


def snapshot_index(root: Path, dest: Path) -> bool:
    """Copy the live index directory `root` to `dest` (waits for a running build); False when
    none."""
    if not (root / "current.json").exists():
        return False
    with _locked(root):
        shutil.copytree(root, dest, ignore=_ignore)
    return True


def replace_index(src: Path, root: Path) -> None:
    """Put a copied index directory in place of `root` (nothing may be serving from it)."""
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(src, root)
