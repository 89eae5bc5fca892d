"""File helpers of the vector directory: chunked .npy writes and removal of unnamed files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.core.util import atomic_file

META = "meta.json"


def _save_npy_chunks(path: Path, shape: tuple[int, int], chunks: Iterator[np.ndarray]) -> None:
    """Write a float32 .npy of `shape` from row chunks, through a temporary name (bounded
    memory)."""
    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                  "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(f, header)
        written = 0
        for chunk in chunks:
            f.write(np.ascontiguousarray(chunk, dtype="<f4").tobytes())
            written += len(chunk)
        if written != shape[0]:
            raise AssertionError(f"wrote {written} rows, expected {shape[0]}")


def _cleanup(directory: Path, meta: dict[str, Any]) -> None:
    """Delete files no longer named by meta.json (readers holding memory maps keep their data)."""
    keep = {META}
    for seg in meta.get("segments", []):
        keep.update({f"{seg['name']}.ids.npy", f"{seg['name']}.vectors.npy"})
        if seg.get("dead"):
            keep.add(seg["dead"])
    gen = int(meta.get("next", 0))
    keep.update({f"int8-{gen:06d}.npy", f"int8-{gen:06d}.json"})
    entry = meta.get("ann") or {}
    keep.update(str(entry[k]) for k in ("graph", "keys", "stale") if entry.get(k))
    for child in directory.iterdir():
        if child.name in keep or child.name.startswith("."):
            continue  # dot files are other writers' temporaries
        if child.is_file() and child.suffix in (".npy", ".json", ".usearch"):
            child.unlink(missing_ok=True)
