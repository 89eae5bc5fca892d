"""Progress bars: tqdm on a terminal, nothing at all otherwise."""

from __future__ import annotations

import pytest

from paperfeed.delivery.app.indexing import stderr_index_progress
from paperfeed.delivery.app.ingest import stderr_progress
from paperfeed.delivery.common import progress as P


def test_quiet_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert stderr_progress() is None and stderr_index_progress() is None
    bars = P.StageProgress()
    bars("indexing", 5, 10)
    bars("embedding", 3, 0)
    bars.close()
    count = P.CountProgress("ingesting")
    count(100, 1.0)
    count.close()
    assert capsys.readouterr().err == ""


def test_bars_draw_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(P, "on_terminal", lambda: True)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    bars = P.StageProgress()
    bars("embedding", 50, 100)
    bars("embedding", 100, 100)
    bars.close()
    err = capsys.readouterr().err
    assert "embedding" in err and "100/100" in err
