"""Followed sources day after day against the replaying server, with the worker as a real process:

five announcement days, a weekend, a worker killed with kill -9 mid-harvest and restarted, a ten-day
outage and its catch-up, Hugging Face upvotes that change between reads. After each day: exact
papers per day, no duplicates, no gaps, the cursor where it should be, the Daily page and trending.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from paperfeed.core.settings import load_settings
from paperfeed.delivery.common.context import AppContext
from paperfeed.delivery.web.app import create_app
from paperfeed.store import Store, open_store
from tests.conftest import ROOT, shared_file
from tests.replay_server import Replay, ReplayServer, load_arxiv, load_hf, replaying

MON = date(2025, 3, 24)  # Mon 24 .. Fri 28 March 2025: five announcement days, then a weekend


def _env(server: ReplayServer, data_dir: Path, store_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(server.env())
    env.update(
        {
            "PAPERFEED_DATA_DIR": str(data_dir),
            "PAPERFEED_DATABASE_URL": store_url,
            "PAPERFEED_WORKER_EMBED_BATCH": "0",
            "PAPERFEED_SOURCES_INTERVAL_MINUTES": "0",
            "PAPERFEED_SOURCES_INITIAL_DAYS": "1",
            "PAPERFEED_MAILER": "console",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


def _paperfeed(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = _paperfeed(env, "worker", "--once")
    assert done.returncode == 0, done.stderr
    return done


def _client(store: Store, data_dir: Path, store_url: str) -> TestClient:
    settings = load_settings({"data_dir": str(data_dir), "database_url": store_url}, environ={})
    return TestClient(create_app(AppContext(settings, store)))


@pytest.fixture
def world() -> Replay:
    """cs.CL papers announced 24 March - 18 April 2025, from the real listing crawl."""
    path = shared_file("arxiv-74k.jsonl.gz")
    return Replay(
        arxiv=load_arxiv(path, MON, date(2025, 4, 18), primary="cs.CL"), today=MON, oai_page_size=10
    )


def _by_day(store: Store, source: str) -> dict[date, int]:
    return dict(store.sources.source_counts_by_day(source))


def _check_day(store: Store, world: Replay, source: str, name: str, client: TestClient) -> None:
    """Exact counts per day, no duplicates, the cursor, the Daily page on the newest day with
    papers."""
    expected = world.per_day()
    assert _by_day(store, source) == expected
    assert store.papers.count_papers() == sum(expected.values())
    assert store.check() == []  # no arXiv id stored twice, every paper has its source and version
    newest = max(expected)
    src = store.sources.get_source(name)
    assert src is not None and src.last_error is None and src.newest_day == newest
    daily = client.get("/api/v1/papers").json()  # the Daily page's data: the newest day with papers
    assert daily["day"] == newest.isoformat() and daily["total"] == expected[newest]
    home = client.get("/")
    assert home.status_code == 200 and daily["papers"][0]["title"].split("&")[0][:30] in home.text
    trending = client.get("/api/v1/trending", params={"limit": 100}).json()["papers"]
    # no upvotes on arXiv: the freshest lead
    assert trending and trending[0]["day"] == newest.isoformat()
    assert len({p["id"] for p in trending}) == len(trending)


def test_oai_day_after_day_kill_and_outage(world: Replay, store_url: str, tmp_path: Path) -> None:
    with replaying(world) as server:
        env = _env(server, tmp_path / "data", store_url)
        added = _paperfeed(env, "sources", "add", "arxiv-oai", "--set", "cs")
        assert added.returncode == 0, added.stderr
        store = open_store(store_url)
        client = _client(store, tmp_path / "data", store_url)
        try:
            # Five announcement days in a row, then the weekend: nothing new, the cursor stays on
            # Friday.
            for day in [MON + timedelta(days=i) for i in range(7)]:
                world.today = day
                _worker(_env(server, tmp_path / "data", store_url))
                _check_day(store, world, "arxiv-oai", "arxiv-oai-cs", client)
                last_announced = max(world.per_day())
                assert store.sources.get_source("arxiv-oai-cs").cursor == {  # type: ignore[union-attr]
                    "from": last_announced.isoformat()
                }
            # Tuesday 1 April: the worker is killed with kill -9 mid-harvest, then restarted.
            world.today = date(2025, 4, 1)
            world.delay = 0.25
            before = len(server.paths("/oai"))
            proc = subprocess.Popen(
                [sys.executable, "-m", "paperfeed", "worker", "--once"],
                cwd=ROOT,
                env=_env(server, tmp_path / "data", store_url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(server.paths("/oai")) < before + 4:
                time.sleep(0.05)
            time.sleep(0.1)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            world.delay = 0.0
            mid = store.sources.get_source("arxiv-oai-cs")
            # stopped between pages: a token to go on
            assert mid is not None and mid.cursor.get("token"), mid
            brought = store.papers.count_papers()
            assert brought < sum(world.per_day().values())  # really stopped mid-harvest
            resumed_at = len(server.paths("/oai"))
            _worker(_env(server, tmp_path / "data", store_url))
            first = server.paths("/oai")[resumed_at]
            # went on where it stopped
            assert first.query.get("resumptionToken") == mid.cursor["token"]
            _check_day(store, world, "arxiv-oai", "arxiv-oai-cs", client)
            # Ten days without a harvest (2 .. 11 April), then one run catches the whole gap up.
            world.today = date(2025, 4, 12)
            _worker(_env(server, tmp_path / "data", store_url))
            _check_day(store, world, "arxiv-oai", "arxiv-oai-cs", client)
            assert store.sources.get_source("arxiv-oai-cs").cursor == {"from": "2025-04-11"}  # type: ignore[union-attr]
            status = _paperfeed(_env(server, tmp_path / "data", store_url), "status", "--check")
            assert status.returncode == 0, status.stdout + status.stderr
        finally:
            client.close()
            store.close()


def test_arxiv_api_pages_back_until_known_papers(
    world: Replay, store_url: str, tmp_path: Path
) -> None:
    with replaying(world) as server:
        env = _env(server, tmp_path / "data", store_url, PAPERFEED_SOURCES_ARXIV_PAGE_SIZE="20",
                   PAPERFEED_SOURCES_ARXIV_MAX_PAGES="5")
        assert _paperfeed(env, "sources", "add", "arxiv", "--category", "cs.CL").returncode == 0
        store = open_store(store_url)
        client = _client(store, tmp_path / "data", store_url)
        try:
            for day in (MON, MON + timedelta(days=1)):  # 54, then 82 papers: within 5 pages of 20
                world.today = day
                _worker({**env, **server.env()})
                _check_day(store, world, "arxiv-api", "arxiv-cs.CL", client)
                assert store.sources.get_source("arxiv-cs.CL").cursor == {  # type: ignore[union-attr]
                    "frontier": day.isoformat(),
                    "resume_start": 0,
                }
            # Away 26 .. 30 March: 45 + 38 + 59 + 45 new papers are more than 5 pages of 20, so each
            # run is bounded, keeps its paging offset, and the next one continues without a gap.
            world.today = date(2025, 3, 31)
            runs = 0
            while True:
                _worker({**env, **server.env()})
                runs += 1
                src = store.sources.get_source("arxiv-cs.CL")
                assert src is not None and src.last_error is None
                if src.cursor.get("resume_start") == 0:
                    break
                assert src.cursor["resume_start"] == 100 * runs
                assert "continues next run" in src.last_counts["notes"][0]
            assert runs == 2
            _check_day(store, world, "arxiv-api", "arxiv-cs.CL", client)
            assert src.cursor == {"frontier": "2025-03-31", "resume_start": 0}
        finally:
            client.close()
            store.close()


def test_hf_daily_day_by_day_refreshes_upvotes(store_url: str, tmp_path: Path) -> None:
    hf = load_hf(shared_file("hf-daily/hf-daily-2026-02.jsonl"))
    world = Replay(hf=hf, today=date(2026, 2, 2))
    first_day: dict[str, date] = {}
    for day in sorted(hf):
        for rec in hf[day]:
            first_day.setdefault(rec["paper_id"], day)

    def expected() -> dict[date, int]:
        return dict(Counter(d for d in first_day.values() if d <= world.today))

    with replaying(world) as server:
        env = _env(server, tmp_path / "data", store_url)
        assert _paperfeed(env, "sources", "add", "hf-daily").returncode == 0
        store = open_store(store_url)
        client = _client(store, tmp_path / "data", store_url)
        tops = []
        try:
            # Mon .. Fri, weekend, Mon
            for day in [date(2026, 2, 2) + timedelta(days=i) for i in range(8)]:
                world.today = day
                _worker({**env, **server.env()})
                assert _by_day(store, "hf-daily") == expected()
                assert store.check() == []
                assert store.sources.get_source("hf-daily").cursor == {"last_day": day.isoformat()}  # type: ignore[union-attr]
                daily = client.get("/api/v1/papers").json()
                newest = max(expected())
                assert daily["day"] == newest.isoformat() and daily["total"] == expected()[newest]
                trending = client.get("/api/v1/trending").json()["papers"]
                assert trending
                tops.append([p["id"] for p in trending[:5]])
            # Upvotes were read again each day: the first day's top paper gained votes, history
            # kept.
            top = hf[date(2026, 2, 2)][0]
            paper = store.papers.get_paper_by_arxiv(top["paper_id"])
            assert paper is not None and paper.external_upvotes == top["upvotes"]
            history = [u for _, u, _ in store.sources.upvote_history(paper.id or 0)]
            # A reading per run while the day was in the 7-day refresh window (2 .. 8 February),
            # each
            # kept because the comment count moved; upvotes went 1/3, 2/3, then all of the recorded.
            assert (
                len(history) == 7 and history == sorted(history) and history[-1] == top["upvotes"]
            )
            assert len(set(history)) == 3
            assert paper.external_comments and paper.external_comments >= 6
            assert len({tuple(t) for t in tops}) > 1  # trending moved as days and upvotes came in
            # Ten days without a run (10 .. 19 February), then one run catches up.
            world.today = date(2026, 2, 20)
            _worker({**env, **server.env()})
            assert _by_day(store, "hf-daily") == expected()
            assert store.sources.get_source("hf-daily").cursor == {"last_day": "2026-02-20"}  # type: ignore[union-attr]
        finally:
            client.close()
            store.close()
