"""What `paperfeed serve` sets up around uvicorn: the separate metrics listener, multiprocess
metrics."""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from paperfeed.core.settings import Settings
from paperfeed.delivery.common.context import open_context
from paperfeed.delivery.web.metrics import (
    StoreCollector,
    start_metrics_listener,
    use_multiprocess_dir,
)
from paperfeed.delivery.web.state import SearchHolder, WebState


def serve_metrics(state: WebState | None, settings: Settings, workers: int) -> WSGIServer | None:
    """Start the metrics_address listener when the setting asks for one; the server or None."""
    if not settings.metrics_address:
        return None
    if state is not None:
        collector = StoreCollector(settings, state.store, state.search.status)
    else:  # the supervisor process of several workers reads the store with its own connection
        ctx = open_context(settings)
        collector = StoreCollector(settings, ctx.store, SearchHolder(settings, ctx.store).status)
    return start_metrics_listener(settings.metrics_address, collector, multiprocess=workers > 1)


__all__ = ["serve_metrics", "use_multiprocess_dir"]
