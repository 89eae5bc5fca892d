"""The progress of a running index or topics build, in a small file the web pages read.

The build job (`paperfeed index build`, `paperfeed topics build`) writes `<data_dir>/build-
status.json` as it goes (job, stage, done, total, pid) and removes it when it ends, so /about can
show the progress and /topics can say that topics are being built. A file whose process is gone (a
killed build) is treated as absent.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from paperfeed.core.settings import Settings
from paperfeed.core.util import write_atomic
from paperfeed.delivery.common.progress import StageProgress

STATUS_FILE = "build-status.json"
WRITE_EVERY = 1.0  # seconds between two writes within a stage

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BuildStatus:
    """What a running build is doing."""

    job: str
    stage: str
    done: int
    total: int
    started_at: float

    @property
    def percent(self) -> int | None:
        """Share done, in percent (None when the total is unknown)."""
        return round(100 * self.done / self.total) if self.total else None

    @property
    def text(self) -> str:
        """One line for a page: 'index build: embedding 120 of 2,220 papers (5%)'."""
        if not self.total:
            return f"{self.job}: {self.stage}"
        return f"{self.job}: {self.stage} {self.done:,} of {self.total:,} ({self.percent}%)"


def status_path(settings: Settings) -> Path:
    """Where the running build's status lives."""
    return settings.data_path / STATUS_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def read_build_status(settings: Settings) -> BuildStatus | None:
    """The running build's status, or None when no build runs."""
    try:
        data = json.loads(status_path(settings).read_text(encoding="utf-8"))
        pid = int(data["pid"])
        status = BuildStatus(job=str(data["job"]), stage=str(data["stage"]), done=int(data["done"]),
                             total=int(data["total"]), started_at=float(data["started_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return status if _alive(pid) else None


class BuildProgress:
    """A build's progress callback: tqdm bars on stderr (also into a log file) and the status
    file."""

    def __init__(
        self, settings: Settings, job: str, bars: bool = True, unit: str = " papers"
    ) -> None:
        self._path = status_path(settings)
        self._job = job
        self._started = time.time()
        self._last: tuple[str, float] = ("", 0.0)
        # Drawn into a log too (make run's index-build.log), at most every few seconds there.
        self._bars = StageProgress(unit=unit, always=True) if bars else None
        self("starting", 0, 0)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._bars is not None and stage != "starting":
            self._bars(stage, done, total)
        now = time.monotonic()
        if stage == self._last[0] and now - self._last[1] < WRITE_EVERY and done < total:
            return
        self._last = (stage, now)
        data = {"job": self._job, "stage": stage, "done": done, "total": total, "pid": os.getpid(),
                "started_at": self._started}
        write_atomic(self._path, json.dumps(data).encode("utf-8"))

    def close(self) -> None:
        """The build ended: close the bars and remove the status file."""
        if self._bars is not None:
            self._bars.close()
        self._path.unlink(missing_ok=True)
