"""Readiness counts followed sources (#9) as well as worker_sources: a stale followed source is not
ready."""

from __future__ import annotations

from datetime import timedelta

from paperfeed.core.settings import Settings
from paperfeed.delivery.app.health import readiness
from paperfeed.delivery.app.sources import add_source
from paperfeed.store import Store
from paperfeed.store.runs import now_utc


class _NoPapersIndex:
    def status(self) -> dict[str, object]:
        return {"available": False}


def test_a_stale_followed_source_makes_readyz_not_ready(settings: Settings, store: Store) -> None:
    source = add_source(store, "hf-daily")
    fresh = readiness(
        settings, store, _NoPapersIndex(), now=source.created_at + timedelta(minutes=5)
    )
    assert fresh["checks"]["followed_sources"] == {
        "ok": True, "stale": [], "stale_after_hours": settings.sources_stale_hours
    }
    assert fresh["ready"] is True
    later = now_utc() + timedelta(hours=settings.sources_stale_hours + 1)
    stale = readiness(settings, store, _NoPapersIndex(), now=later)
    assert stale["checks"]["followed_sources"]["stale"] == [source.name]
    assert stale["ready"] is False
