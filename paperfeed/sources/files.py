"""Opening local input files: gzip is recognised by its magic bytes, not by the file name."""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from paperfeed.core.errors import BadRequest

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    """Whether the file starts with gzip's magic bytes."""
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


@contextmanager
def _readable(path: Path, where: list[int]) -> Iterator[None]:
    """Turn a broken gzip stream into one BadRequest line instead of a traceback."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        after = f" after line {where[0]}" if where[0] else ""
        raise BadRequest(f"{path}: compressed data is cut off or corrupt{after} ({exc})") from None


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed on the fly when it is gzip."""
    if is_gzip(path):
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]  # a GzipFile is a binary IO
    return path.open("rb")


def peek(path: Path, size: int = 65536) -> bytes:
    """Up to `size` leading bytes of the (decompressed) content; a cut gzip gives what it has."""
    with open_binary(path) as fh:
        chunks: list[bytes] = []
        got = 0
        try:
            while got < size:
                chunk = fh.read(size - got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
        except (EOFError, OSError, gzip.BadGzipFile):
            pass  # a truncated or broken gzip: detection works on what could be read
        return b"".join(chunks)


def read_bytes(path: Path) -> bytes:
    """The whole (decompressed) content."""
    with _readable(path, [0]), open_binary(path) as fh:
        return fh.read()


def iter_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number from 1, line without its newline), streaming, UTF-8 with a BOM tolerated."""
    where = [0]
    with (
        _readable(path, where),
        open_binary(path) as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None) as text,
    ):
        for number, line in enumerate(text, start=1):
            where[0] = number
            yield number, line.rstrip("\n")


def iter_byte_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, raw line), streaming; json.loads takes bytes, so JSONL skips a decode
    pass."""
    where = [0]
    with _readable(path, where), open_binary(path) as fh:
        for number, line in enumerate(fh, start=1):
            where[0] = number
            yield number, line


def decode(data: bytes) -> str:
    """Bytes as UTF-8 text, a BOM dropped, undecodable bytes replaced rather than fatal."""
    return data.decode("utf-8-sig", errors="replace")
