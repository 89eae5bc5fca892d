"""What one digest run did, and who holds a claim (host, pid, start time): dead holders are taken
over."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# (stage, done, total or 0 when unknown): progress bars
StepProgress = Callable[[str, int, int], None]


@dataclass
class DigestReport:
    """What one run did, with timings."""

    composed: int = 0
    empty: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    unconfirmed: int = 0
    skipped: int = 0
    recovered: dict[str, int] = field(default_factory=dict)
    pool_papers: int = 0
    compose_seconds: float = 0.0
    render_seconds: float = 0.0
    send_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    # weekly lab digests (delivery/app/labs.py)
    groups: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}

    @property
    def summary(self) -> str:
        """One line."""
        line = (
            f"{self.composed} composed ({self.empty} empty), {self.sent} sent, {self.retry} to "
            "retry, "
            f"{self.failed} failed, {self.unconfirmed} unconfirmed, {self.skipped} skipped"
        )
        if any(self.groups.get(k) for k in ("sent", "failed", "retry")):
            line += (
                f"; lab digests: {self.groups.get('sent', 0)} sent, "
                f"{self.groups.get('failed', 0)} failed, "
                f"{self.groups.get('retry', 0)} to retry"
            )
        return line


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def holder_id() -> str:
    """This process as a claim holder: host, pid and process start time (pids get reused)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def holder_is_dead(
    holder: str, claimed_at: datetime | None, lease_seconds: float, now: datetime
) -> bool:
    """Whether a claim's holder is gone: a dead process on this host, or a claim older than the
    lease."""
    host, _, rest = holder.partition(":")
    pid_text, _, started = rest.partition(":")
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid() and started == _start_time(pid):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        else:
            if started != "0" and _start_time(pid) not in (started, "0"):
                return True  # the pid now belongs to another process
            return bool(started != "0" and _is_zombie(pid))
    return claimed_at is None or now - claimed_at > timedelta(seconds=lease_seconds)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
