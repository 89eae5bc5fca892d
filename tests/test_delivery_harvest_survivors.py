"""The worker's due check (delivery/jobs/harvest.run_sources, issue 22): a harvest stopped part-way
(killed, or out of request budget) resumes on the worker's next tick instead of waiting the full
interval, while a finished one waits.

Replayed from a local server over real listing data, on both backends.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from paperfeed.core.settings import load_settings
from paperfeed.delivery.app import sources as uc
from paperfeed.delivery.jobs.harvest import run_source, run_sources
from paperfeed.sources.http import HttpClient, RateLimiter
from paperfeed.store import Store
from tests.replay_server import Replay, replaying
from tests.test_delivery_harvest import listing_replay


@pytest.fixture
def world() -> Replay:
    """The same real-listing replay as the harvest tests."""
    return listing_replay()


def test_a_killed_harvest_resumes_instead_of_waiting_the_full_interval(
    world: Replay, store: Store, store_url: str, tmp_path: Path
) -> None:
    with replaying(world) as server:
        env = {
            **server.env(),
            "PAPERFEED_DATABASE_URL": store_url,
            "PAPERFEED_DATA_DIR": str(tmp_path),
            "PAPERFEED_SOURCES_INITIAL_DAYS": "1",
            "PAPERFEED_HTTP_RETRIES": "0",
            "PAPERFEED_SOURCES_MAX_REQUESTS": "2",
            "PAPERFEED_SOURCES_INTERVAL_MINUTES": "60",
        }
        settings = load_settings({}, environ=env)
        source = uc.add_source(store, "arxiv-oai", set_spec="cs", name="oai")
        with HttpClient(settings, limiter=RateLimiter()) as http:
            # stops after two pages, mid-listing
            first = run_source(store, settings, source, http=http)
            stopped = store.sources.get_source("oai")
            assert first.pages == 2 and stopped is not None and stopped.cursor.get("token")
            assert stopped.last_run_at is not None
            soon = stopped.last_run_at + timedelta(minutes=1)  # far inside the 60-minute interval
            resumed = run_sources(store, settings, due_only=True, now=soon, http=http)
            assert [r.name for r in resumed] == ["oai"] and resumed[0].pages >= 1
            tokens = [r.query.get("resumptionToken") for r in server.paths("/oai")]
            assert tokens[2] == stopped.cursor["token"]  # it went on from the page it stopped at
    # a harvest that finished waits for the interval
    with replaying(world) as server2:
        settings = load_settings(
            {}, environ={**env, **server2.env(), "PAPERFEED_SOURCES_MAX_REQUESTS": "100"}
        )
        with HttpClient(settings, limiter=RateLimiter()) as http:
            done = run_sources(store, settings, names=["oai"], http=http)
            finished = store.sources.get_source("oai")
            assert (
                done
                and finished is not None
                and not finished.cursor.get("token")
                and not done[0].error
            )
            assert finished.last_run_at is not None
            assert (
                run_sources(
                    store,
                    settings,
                    due_only=True,
                    now=finished.last_run_at + timedelta(minutes=1),
                    http=http,
                )
                == []
            )
