"""Prometheus metrics (prometheus-client): request counts and latencies, search latency, store
facts.

Request metrics are counted in each process. With several uvicorn workers `paperfeed serve` sets
PROMETHEUS_MULTIPROC_DIR before they start, every worker writes its samples there, and a scrape
(served by whichever worker gets it, or by the separate listener) adds them all up with
MultiProcessCollector. Store facts (papers per source, harvest lag, embedding backlog, digests) are
read from the database at scrape time, so every worker reports the same numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from paperfeed.core.settings import Settings
from paperfeed.delivery.app.health import source_health
from paperfeed.store import Store
from paperfeed.store.ops import OpsRepository
from paperfeed.store.runs import now_utc

SEARCH_ROUTES = frozenset({"/search", "/api/v1/search"})
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("paperfeed_http_requests", "HTTP requests by method, route template and status.",
                   ["method", "route", "status"])
LATENCY = Histogram(
    "paperfeed_http_request_duration_seconds",
    "HTTP request latency by route template.",
    ["method", "route"],
    buckets=_BUCKETS,
)
SEARCH_LATENCY = Histogram(
    "paperfeed_search_duration_seconds",
    "Latency of search requests (pages and API).",
    ["route"],
    buckets=_BUCKETS,
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one finished request."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
    if route in SEARCH_ROUTES:
        SEARCH_LATENCY.labels(route).observe(seconds)


class StoreCollector:
    """Facts read from the database (and the index) when Prometheus scrapes."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        index_status: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.index_status = index_status  # callable -> dict (SearchHolder.status), optional

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges (one database round trip per family)."""
        ops = OpsRepository(self.store.engine)
        now = now_utc()
        papers = GaugeMetricFamily(
            "paperfeed_papers", "Papers stored, by source that contributed them.", labels=["source"]
        )
        for source, n in sorted(ops.papers_per_source().items()):
            papers.add_metric([source], n)
        yield papers
        total = self.store.papers.count_papers()
        yield GaugeMetricFamily("paperfeed_papers_stored", "Papers stored in all.", value=total)
        lag = GaugeMetricFamily(
            "paperfeed_harvest_lag_seconds",
            "Seconds since the last successful ingest of each source.",
            labels=["source"],
        )
        stale = GaugeMetricFamily(
            "paperfeed_source_stale",
            "1 when a scheduled source is stale (see /readyz).",
            labels=["source"],
        )
        for h in source_health(self.settings, self.store, now):
            if h.lag_seconds is not None:
                lag.add_metric([h.source], h.lag_seconds)
            stale.add_metric([h.source], 1.0 if h.stale else 0.0)
        yield lag
        yield stale
        if self.index_status is not None:
            info = self.index_status()
            if info.get("available"):
                indexed = int(info.get("papers_indexed", 0))
                with_vectors = int(info.get("papers_with_vectors", 0))
                yield GaugeMetricFamily(
                    "paperfeed_index_papers", "Papers in the lexical search index.", value=indexed
                )
                yield GaugeMetricFamily(
                    "paperfeed_embedding_backlog",
                    "Papers in the store without a vector yet (semantic search catches up).",
                    value=max(0, total - with_vectors),
                )
        deliveries = GaugeMetricFamily(
            "paperfeed_digest_deliveries",
            "Digest deliveries recorded, by state (sent, failed, retry, ...).",
            labels=["status"],
        )
        counts = self.store.deliveries.delivery_counts()
        for status in sorted({"sent", "failed", *counts}):
            deliveries.add_metric([status], counts.get(status, 0))
        yield deliveries
        yield GaugeMetricFamily("paperfeed_digests_due", "Digests composed and waiting to be sent.",
                                value=ops.due_digests(now))


class _Default:
    """The process's default registry (request metrics, process and platform facts)."""

    def collect(self) -> Iterator[Metric]:
        """Everything the default registry holds."""
        yield from REGISTRY.collect()


def workers_share_metrics() -> bool:
    """Whether this process's metrics are written to the multiprocess directory (set at import)."""
    from prometheus_client import values

    return values.ValueClass is not values.MutexValue


def scrape_registry(
    collector: StoreCollector, multiprocess: bool | None = None
) -> CollectorRegistry:
    """A registry for one scrape: this process's (or all workers') metrics plus the store facts."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess is None:
        multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR")) and workers_share_metrics()
    if multiprocess:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Default())
    registry.register(collector)
    return registry


def exposition(collector: StoreCollector) -> tuple[bytes, str]:
    """The metrics in the Prometheus text format, and its content type."""
    return generate_latest(scrape_registry(collector)), CONTENT_TYPE_LATEST


def parse_address(address: str) -> tuple[str, int]:
    """'HOST:PORT' (or '[v6]:PORT') as a pair, with an error naming the setting."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        from paperfeed.core.errors import ConfigError

        raise ConfigError(
            f"setting metrics_address: {address!r} is not HOST:PORT (e.g. 127.0.0.1:9108)"
        )
    return host.strip("[]") or "127.0.0.1", int(port)


def start_metrics_listener(
    address: str, collector: StoreCollector, multiprocess: bool = False
) -> WSGIServer:
    """Serve /metrics on its own address (metrics_address), in a background thread of this
    process."""
    from prometheus_client import start_http_server

    host, port = parse_address(address)
    server, _thread = start_http_server(
        port, addr=host, registry=scrape_registry(collector, multiprocess)
    )
    return server


def use_multiprocess_dir(workers: int) -> str | None:
    """For several workers: a fresh PROMETHEUS_MULTIPROC_DIR they all write to (set before they
    start)."""
    if workers <= 1:
        return None
    import tempfile

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        for name in os.listdir(given):  # samples of a previous run would be added to this one's
            if name.endswith(".db"):
                os.unlink(os.path.join(given, name))
        return given
    path = tempfile.mkdtemp(prefix="paperfeed-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path
