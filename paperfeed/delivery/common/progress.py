"""Progress bars for the long commands (ingest, index build, embedding, digest send, sample build).

One library for all of them: tqdm. Bars go to stderr and are quiet when stderr is not a terminal
(cron, CI, pipes), so logs and JSON output stay clean. The jobs take plain callbacks; these classes
are the CLI's implementations of them.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

LOG_INTERVAL = 5.0  # seconds between two bar updates written into a log file


def progress_bar(
    desc: str, total: int | None = None, unit: str = " papers", always: bool = False
) -> tqdm[Any]:
    """A tqdm bar on stderr, disabled when stderr is not a terminal unless always (a build's
    log)."""
    if always and not on_terminal():
        return tqdm(desc=desc, total=total, unit=unit, file=sys.stderr, disable=False, ncols=100,
                    mininterval=LOG_INTERVAL, ascii=True, leave=True)
    return tqdm(
        desc=desc,
        total=total,
        unit=unit,
        file=sys.stderr,
        disable=None,
        dynamic_ncols=True,
        leave=True,
    )


def on_terminal() -> bool:
    """Whether stderr is a terminal (where bars are drawn)."""
    return sys.stderr.isatty()


class CountProgress:
    """A bar for a job that reports (records seen, seconds elapsed), total unknown: ingest."""

    def __init__(self, desc: str, unit: str = " papers") -> None:
        self._bar = progress_bar(desc, None, unit)

    def __call__(self, seen: int, _elapsed: float) -> None:
        self._bar.update(seen - self._bar.n)

    def close(self) -> None:
        """Finish the bar."""
        self._bar.close()


class StageProgress:
    """Bars for a job that reports (stage, done, total): one bar per stage, e.g. indexing,
    embedding."""

    def __init__(self, unit: str = " papers", always: bool = False) -> None:
        self._unit = unit
        self._always = always
        self._bars: dict[str, tqdm[Any]] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            for other in self._bars.values():  # a new stage starts: the previous ones are done
                other.close()
            bar = self._bars[stage] = progress_bar(stage, total or None, self._unit, self._always)
        if total and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    def close(self) -> None:
        """Finish every bar."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
