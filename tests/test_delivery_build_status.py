"""A running build's progress: the status file, /about's progress bar and /topics' "being built"."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from paperfeed.core.settings import Settings
from paperfeed.delivery.common.build_status import BuildProgress, read_build_status, status_path
from paperfeed.store import Store
from tests.web_fixtures import make_app


def test_progress_file_is_read_while_running_and_gone_after(
    settings: Settings, store: Store
) -> None:
    settings.data_path.mkdir(parents=True, exist_ok=True)
    assert read_build_status(settings) is None
    progress = BuildProgress(settings, "index build", bars=False)
    progress("embedding", 0, 2220)
    progress("embedding", 555, 2220)  # within a second of the last write: not written yet
    progress("embedding", 2220, 2220)  # the stage's end is always written
    status = read_build_status(settings)
    assert status is not None and (status.job, status.stage, status.done, status.total) == (
        "index build", "embedding", 2220, 2220)
    assert status.text == "index build: embedding 2,220 of 2,220 (100%)"
    progress("topics", 1, 4)  # a new stage is written at once
    with make_app(settings, store) as client:
        about = client.get("/about").text
        assert 'id="build-status"' in about and "index build: topics 1 of 4 (25%)" in about
        assert '<progress max="100" value="25">' in about
        topics = client.get("/topics").text
        assert "Topics are being built" in topics and "paperfeed topics build" not in topics
        progress.close()
        assert not status_path(settings).exists() and read_build_status(settings) is None
        assert 'id="build-status"' not in client.get("/about").text
        assert "Topics are being built" not in client.get("/topics").text


def test_status_of_a_dead_build_is_ignored(settings: Settings) -> None:
    settings.data_path.mkdir(parents=True, exist_ok=True)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    status_path(settings).write_text(
        json.dumps(
            {
                "job": "index build",
                "stage": "embedding",
                "done": 1,
                "total": 9,
                "pid": int(gone.stdout),
                "started_at": 0,
            }
        )
    )
    assert read_build_status(settings) is None
    status_path(settings).write_text("{not json")
    assert read_build_status(settings) is None


def test_bars_go_into_a_log_too(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    settings.data_path.mkdir(parents=True, exist_ok=True)
    progress = BuildProgress(settings, "index build")  # stderr is captured here: not a terminal
    progress("embedding", 0, 40)
    progress("embedding", 40, 40)
    progress.close()
    err = capsys.readouterr().err
    assert "embedding" in err and "40/40" in err
