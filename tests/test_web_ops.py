"""/healthz, /readyz and /metrics (parsed with prometheus_client's parser), request ids, JSON log
lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from paperfeed.core.models import IngestCounts
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app.health import readiness, source_health
from paperfeed.delivery.common.logs import configure_logging
from paperfeed.delivery.web.metrics import StoreCollector, start_metrics_listener
from paperfeed.delivery.web.security import new_api_token, token_hash
from paperfeed.index import open_search_index
from paperfeed.store import Store, open_store
from paperfeed.store.runs import now_utc
from tests.web_fixtures import SAMPLE, make_app


def _token(store: Store, username: str, admin: bool) -> str:
    user = store.users.create_user(username, f"{username}@example.org", "hash")
    if admin:
        store.users.set_admin(username)
    token = new_api_token()
    store.users.create_token(user.id, "metrics", token_hash(token))
    return token


@pytest.fixture
def json_log(settings: Settings) -> Iterator[io.StringIO]:
    """paperfeed's JSON log at info level, written to a buffer for the test to read."""
    buffer = io.StringIO()
    handler = configure_logging(
        with_overrides(settings, log_format="json", log_level="info"), stream=buffer
    )
    yield buffer
    logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)


def test_healthz_and_readyz_on_an_empty_site(settings: Settings, store: Store) -> None:
    client = make_app(settings, store)
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["database"]["ok"] is True


def test_readyz_needs_the_index_and_fresh_scheduled_sources(
    settings: Settings, store: Store
) -> None:
    store.papers.upsert_papers(SAMPLE)
    feed = "https://export.arxiv.org/api/query?search_query=cat:cs.CL"
    # not make_app: it refreshes the index as an ingest would, and this site has none yet
    from starlette.testclient import TestClient

    from paperfeed.delivery.common.context import AppContext
    from paperfeed.delivery.web.app import create_app

    bare = create_app(
        AppContext(with_overrides(settings, worker_sources=feed, ready_stale_hours=24.0), store)
    )
    anon = TestClient(bare).get("/readyz")
    # anyone sees which checks fail, not the back end, counts, errors or names (#21)
    assert anon.status_code == 503 and anon.json()["checks"]["index"] == {"ok": False}
    assert "backend" not in anon.text and feed not in anon.text
    admin = {"Authorization": f"Bearer {_token(store, 'root', admin=True)}"}
    r = TestClient(bare).get("/readyz", headers=admin)
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["index"]["ok"] is False and "index build" in checks["index"]["error"]
    assert checks["sources"]["stale"] == [feed]  # scheduled, never ingested
    open_search_index(settings, store).build(embed=False)
    store.runs.finish_run(store.runs.start_run(feed), IngestCounts(new=3))
    client = make_app(settings, store, worker_sources=feed, ready_stale_hours=24.0)
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    # The staleness rule, one function: a day and a half later the same run is too old.
    later = now_utc() + timedelta(hours=36)
    s = with_overrides(settings, worker_sources=feed, ready_stale_hours=24.0)
    [h] = [h for h in source_health(s, store, later) if h.source == feed]
    assert h.stale and h.lag_seconds is not None and h.lag_seconds > 35 * 3600
    assert not [
        x for x in source_health(with_overrides(s, ready_stale_hours=0.0), store, later) if x.stale
    ]


def test_readyz_reports_an_unreachable_database(settings: Settings) -> None:
    class NoIndex:
        def status(self) -> dict[str, object]:
            return {"available": False, "error": "not built"}

    dead = open_store("postgresql://postgres@127.0.0.1:1/nothing", migrate=False)
    try:
        result = readiness(settings, dead, NoIndex())
    finally:
        dead.close()
    assert result["ready"] is False and result["checks"]["database"]["ok"] is False


def test_metrics_are_for_admins_and_parse(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(SAMPLE)
    store.runs.finish_run(store.runs.start_run("sample.jsonl"), IngestCounts(new=5))
    open_search_index(settings, store).build(embed=False)
    admin = _token(store, "root", admin=True)
    plain = _token(store, "someone", admin=False)
    client = make_app(settings, store)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {plain}"}).status_code == 403
    paper_id = SAMPLE and store.papers.list_papers(limit=1)[0].id
    for path in (
        "/",
        "/search?q=attention",
        "/api/v1/search?q=protein",
        f"/api/v1/papers/{paper_id}",
        "/nowhere",
    ):
        client.get(path)
    r = client.get("/metrics", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    for name in (
        "paperfeed_http_requests",
        "paperfeed_http_request_duration_seconds",
        "paperfeed_search_duration_seconds",
        "paperfeed_papers",
        "paperfeed_harvest_lag_seconds",
        "paperfeed_embedding_backlog",
        "paperfeed_digest_deliveries",
        "paperfeed_digests_due",
    ):
        assert name in families, name
    routes = {s.labels["route"] for s in families["paperfeed_http_requests"].samples}
    assert {"/", "/search", "/api/v1/search", "/api/v1/papers/{paper_id}", "<unmatched>"} <= routes
    # templates, not paths
    assert not [r for r in routes if r.startswith("/api/v1/papers/") and "{" not in r]
    search = {s.labels["route"] for s in families["paperfeed_search_duration_seconds"].samples}
    assert {"/search", "/api/v1/search"} <= search
    papers = {s.labels["source"]: s.value for s in families["paperfeed_papers"].samples}
    assert papers == {"hf-daily": 4.0, "arxiv-api": 1.0}
    lag = {s.labels["source"]: s.value for s in families["paperfeed_harvest_lag_seconds"].samples}
    assert 0 <= lag["sample.jsonl"] < 600
    assert families["paperfeed_embedding_backlog"].samples[0].value == 5.0  # no vectors built
    statuses = {
        s.labels["status"]: s.value for s in families["paperfeed_digest_deliveries"].samples
    }
    assert statuses["sent"] == 0 and statuses["failed"] == 0
    assert families["paperfeed_digests_due"].samples[0].value == 0


def test_metrics_on_a_separate_address(settings: Settings, store: Store) -> None:
    client = make_app(settings, store, metrics_address="127.0.0.1:0")
    admin = _token(store, "root", admin=True)
    assert client.get("/metrics", headers={"Authorization": f"Bearer {admin}"}).status_code == 404
    server = start_metrics_listener("127.0.0.1:0", StoreCollector(settings, store))
    try:
        r = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10)
        names = {f.name for f in text_string_to_metric_families(r.text)}
        assert {
            "paperfeed_papers_stored",
            "paperfeed_digests_due",
            "paperfeed_http_requests",
        } <= names
    finally:
        server.shutdown()
        server.server_close()


def test_request_id_is_echoed_and_on_every_log_line(
    settings: Settings, store: Store, json_log: io.StringIO
) -> None:
    client = make_app(settings, store)

    def noisy() -> dict[str, str]:  # a sync handler: runs in a worker thread, logs from there
        logging.getLogger("paperfeed.web").warning("handler says hello")
        return {"ok": "yes"}

    client.app.add_api_route("/test-noisy", noisy)  # type: ignore[attr-defined]
    r = client.get("/test-noisy", headers={"X-Request-ID": "req-42"})
    assert r.headers["x-request-id"] == "req-42"
    client.get("/search?q=transformers")
    bad = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert (
        bad.headers["x-request-id"] != "bad id\nwith newline"
        and len(bad.headers["x-request-id"]) == 32
    )
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [line for line in lines if line["request_id"] == "req-42"]
    # the handler's own warning (logged in a worker thread) and the access line both carry it
    assert {"paperfeed.web", "paperfeed.access"} <= {line["logger"] for line in mine}, lines
    access = next(line for line in mine if line["logger"] == "paperfeed.access")
    assert (
        access["route"] == "/test-noisy"
        and access["status"] == 200
        and access["path"] == "/test-noisy"
    )
    assert all(
        line["request_id"] for line in lines if line["logger"].startswith("paperfeed.access")
    )


def test_an_unhandled_error_keeps_its_request_id(
    settings: Settings, store: Store, json_log: io.StringIO
) -> None:
    from starlette.testclient import TestClient

    app = make_app(settings, store).app

    def broken() -> None:
        raise RuntimeError("kaput")

    app.add_api_route("/test-broken", broken)  # type: ignore[attr-defined]
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/test-broken", headers={"X-Request-ID": "err-9"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "err-9"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    error = next(line for line in lines if line["level"] == "error")
    assert error["request_id"] == "err-9" and "RuntimeError: kaput" in error["exception"]
    access = next(line for line in lines if line["logger"] == "paperfeed.access")
    assert access["request_id"] == "err-9" and access["status"] == 500
