"""Is this deployment healthy? Source freshness and readiness, for /readyz, /metrics and the CLI.

`source_health` is the one place that decides whether a source is stale. It reads the ingest runs
for worker_sources; readiness also asks the followed sources' own health (#9).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from paperfeed.core.settings import Settings
from paperfeed.delivery.app.sources import health_of
from paperfeed.store import Store
from paperfeed.store.ops import OpsRepository
from paperfeed.store.runs import now_utc


@dataclass(frozen=True)
class SourceHealth:
    """One source: when it last succeeded, its last error, how far behind it is, whether stale."""

    source: str
    scheduled: bool  # named in worker_sources (so it is expected to stay fresh)
    last_success: datetime | None
    last_error: str | None
    lag_seconds: float | None
    stale: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "source": self.source,
            "scheduled": self.scheduled,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_error": self.last_error,
            "lag_seconds": round(self.lag_seconds, 1) if self.lag_seconds is not None else None,
            "stale": self.stale,
        }


def scheduled_sources(settings: Settings) -> list[str]:
    """The worker_sources setting as a list."""
    return [s.strip() for s in settings.worker_sources.split(",") if s.strip()]


def source_health(
    settings: Settings, store: Store, now: datetime | None = None
) -> list[SourceHealth]:
    """Every source with ingest runs, plus every scheduled one; scheduled ones can be stale."""
    now = now or now_utc()
    runs = OpsRepository(store.engine).runs_by_source()
    scheduled = scheduled_sources(settings)
    limit = timedelta(hours=settings.ready_stale_hours) if settings.ready_stale_hours > 0 else None
    out = []
    for source in sorted(set(runs) | set(scheduled)):
        r = runs.get(source)
        success = r.last_success if r else None
        error = (
            r.last_error
            if r and r.last_failure and (success is None or r.last_failure > success)
            else None
        )
        lag = (now - success).total_seconds() if success else None
        is_scheduled = source in scheduled
        stale = bool(
            is_scheduled and limit is not None and (success is None or now - success > limit)
        )
        out.append(SourceHealth(source, is_scheduled, success, error, lag, stale))
    return out


class IndexProbe(Protocol):
    """What readiness needs to know about the search index (SearchHolder in the web app)."""

    def status(self) -> dict[str, Any]: ...


def readiness(
    settings: Settings, store: Store, index: IndexProbe, now: datetime | None = None
) -> dict[str, Any]:
    """Database reachable, index loaded (when there are papers), scheduled sources not stale."""
    checks: dict[str, Any] = {}
    try:
        OpsRepository(store.engine).ping()
        papers = store.papers.count_papers()
        checks["database"] = {"ok": True, "backend": store.backend, "papers": papers}
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means not ready
        checks["database"] = {
            "ok": False,
            "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
        }
        return {"ready": False, "checks": checks}
    info = index.status()
    indexed = int(info.get("papers_indexed", 0)) if info.get("available") else 0
    loaded = indexed > 0
    checks["index"] = {"ok": loaded or papers == 0, "loaded": loaded, "papers_indexed": indexed}
    if not loaded and papers:
        checks["index"]["error"] = info.get("error") or "not built: run `paperfeed index build`"
    health = source_health(settings, store, now)
    stale = [h.source for h in health if h.stale]
    checks["sources"] = {
        "ok": not stale,
        "stale": stale,
        "scheduled": len(scheduled_sources(settings)),
        "stale_after_hours": settings.ready_stale_hours,
    }
    # Followed sources (#9) count too; store.list_sources, not the use case, so readiness never
    # writes.
    followed = [
        h.source.name
        for h in (health_of(s, settings, now) for s in store.sources.list_sources())
        if h.stale
    ]
    checks["followed_sources"] = {"ok": not followed, "stale": followed,
                                  "stale_after_hours": settings.sources_stale_hours}
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}
