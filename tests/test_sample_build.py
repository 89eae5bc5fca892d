"""`make sample` re-derives the bundled sample byte for byte from the shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, shared_file

BUNDLED = ROOT / "paperfeed" / "data" / "sample-feed.jsonl.gz"


@pytest.mark.slow
def test_make_sample_reproduces_the_bundled_file(tmp_path: Path) -> None:
    shared = shared_file("hf-daily").parent
    shared_file("hf-pages")
    shared_file("arxiv-74k.jsonl.gz")
    out = tmp_path / "sample.jsonl.gz"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_sample.py"), str(shared), str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "undated" in done.stdout
    assert out.read_bytes() == BUNDLED.read_bytes(), (
        "the bundled sample is stale: run `make sample`"
    )
    assert BUNDLED.stat().st_size < 3_000_000
