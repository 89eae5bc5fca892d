"""Browser tests fail, not skip, in CI when Chromium is missing (issue 22 item 8): tests/conftest.py
turns such a skip into a failure when CI or PAPERFEED_REQUIRE_BROWSER is set.

Run in a child pytest over a test that skips the way the browser tests do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import pytest
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(True, reason="no /usr/bin/chromium (apt-get install chromium)"),
]

def test_in_chromium() -> None:
    pass
"""


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    probe = tmp_path / "test_probe_browser.py"
    probe.write_text(PROBE)
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "PAPERFEED_REQUIRE_BROWSER")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            str(probe),
        ],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("flag", ["CI", "PAPERFEED_REQUIRE_BROWSER"])
def test_browser_tests_fail_in_ci_when_chromium_is_missing(tmp_path: Path, flag: str) -> None:
    done = _run(tmp_path, **{flag: "1"})
    # fails at setup
    assert done.returncode == 1 and "1 error" in done.stdout, done.stdout + done.stderr
    assert "install Chromium" in done.stdout


def test_browser_tests_skip_outside_ci(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 0 and "1 skipped" in done.stdout, done.stdout + done.stderr
