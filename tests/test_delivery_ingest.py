"""Ingest semantics on real shared data: counts, idempotency, bad input, crash safety (kill -9)."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from paperfeed.core.errors import BadRequest
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.ingest import ingest_targets
from paperfeed.store import Store, open_store
from tests.conftest import ROOT, shared_file


def test_listing_pages_give_699_papers_and_reingest_changes_nothing(
    store: Store, settings: Settings
) -> None:
    pages = sorted(str(p) for p in shared_file("hf-pages").glob("*.txt"))
    report = ingest_targets(store, settings, pages)
    assert report.counts.new == 699
    assert report.counts.new + report.counts.updated + report.counts.unchanged == 721
    assert store.papers.count_papers() == 699
    again = ingest_targets(store, settings, pages)
    assert again.counts.changed == 0 and store.papers.count_papers() == 699
    assert store.check() == []
    assert store.runs.last_successful_run() is not None


def test_bundled_sample_is_a_real_multi_day_feed(store: Store, settings: Settings) -> None:
    report = ingest_targets(
        store, settings, [str(ROOT / "paperfeed" / "data" / "sample-feed.jsonl.gz")]
    )
    assert report.counts.rejected == 0 and report.counts.new > 2000
    days = store.papers.paper_days()
    assert len(days) > 100 and days[0] == date(2026, 2, 27)
    dated = store.papers.list_papers(since=days[-1], limit=5000)
    assert sum(1 for p in dated if p.external_upvotes) > 1400
    assert sum(1 for p in dated if p.authors) > 1400 and all(p.arxiv_id for p in dated)
    assert sum(1 for p in dated if p.code_url) > 500 and sum(1 for p in dated if p.categories) > 300
    undated = [p for p in store.papers.list_papers(limit=5000) if p.day is None]
    assert 600 < len(undated) <= 699 and not any(p.external_upvotes for p in undated)


def test_hf_daily_then_arxiv_merges_by_id(store: Store, settings: Settings) -> None:
    daily = shared_file("hf-daily/hf-daily-2026-02.jsonl")
    ingest_targets(store, settings, [str(daily)])
    n = store.papers.count_papers()
    with_upvotes = [p for p in store.papers.list_papers(limit=2000) if p.external_upvotes]
    assert n > 500 and len(with_upvotes) > 500
    assert all(p.featured_on is not None for p in with_upvotes)
    again = ingest_targets(store, settings, [str(daily)])
    assert again.counts.changed == 0 and store.papers.count_papers() == n


def test_bad_lines_are_reported_and_the_rest_ingested(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    good = {"id": "2501.00001", "title": "Good paper", "abstract": "fine", "authors": ["A"]}
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps(good)
        + "\n{not json\n"
        + json.dumps({"id": "2501.00003", "abstract": "no title"})
        + "\n"
        + json.dumps({**good, "id": "2501.00002", "title": "Second"})
        + "\n"
    )
    report = ingest_targets(store, settings, [str(path)])
    assert report.counts.new == 2 and report.counts.rejected == 2
    assert [e.location for e in report.errors] == [f"{path}:2", f"{path}:3"]
    assert all(e.reason for e in report.errors)


def test_strict_aborts_before_writing(store: Store, settings: Settings, tmp_path: Path) -> None:
    ok = tmp_path / "ok.jsonl"
    ok.write_text(json.dumps({"id": "2501.00009", "title": "Kept", "abstract": "x"}) + "\n")
    ingest_targets(store, settings, [str(ok)])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"id": "2501.00001", "title": "New", "abstract": "x"}) + "\n{broken\n"
    )
    with pytest.raises(BadRequest, match=r"bad\.jsonl:2"):
        ingest_targets(store, settings, [str(bad)], strict=True)
    assert store.papers.count_papers() == 1  # what was stored is kept, nothing new written


def test_wrong_path_unknown_format_empty_file(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(BadRequest, match="no such file"):
        ingest_targets(store, settings, [str(tmp_path / "missing.jsonl")])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(BadRequest, match="empty"):
        ingest_targets(store, settings, [str(empty)])
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(BadRequest, match="format"):
        ingest_targets(store, settings, [str(junk)])
    with pytest.raises(BadRequest, match="valid"):
        ingest_targets(store, settings, [str(empty)], fmt="nonsense")


@pytest.mark.slow
def test_74k_file_ingests_74728_papers_and_survives_kill_9(tmp_path: Path) -> None:
    """Kill the ingest at several points; after a final run nothing is lost or doubled."""
    data = shared_file("arxiv-74k.jsonl.gz")
    url = f"sqlite:///{tmp_path / 'paperfeed.db'}"
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(tmp_path), "PAPERFEED_DATABASE_URL": url,
           "PAPERFEED_INGEST_BATCH_SIZE": "2000"}
    cmd = [sys.executable, "-m", "paperfeed", "ingest", str(data)]
    store = open_store(url)
    try:
        for threshold in (0, 6_000, 30_000, 60_000):
            proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + 300
            while (
                store.papers.count_papers() < threshold + 1
                and proc.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            if threshold == 0:
                time.sleep(0.3)  # mid-way through the very first batches
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert store.check() == []
        final = subprocess.run(
            cmd + ["--json"], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert final.returncode in (0, 1), final.stderr
        assert store.papers.count_papers() == 74_728
        assert store.check() == []
        with gzip.open(data, "rt", encoding="utf-8") as fh:
            ids = {json.loads(line)["id"] for line in fh if line.strip()}
        assert len(ids) == 74_728
        sample = sorted(ids)[:: 5000]
        assert all(store.papers.get_paper_by_arxiv(i) is not None for i in sample)
        runs = store.runs.recent_runs(10)
        assert runs[0].status == "ok" and any(r.status == "running" for r in runs[1:])
    finally:
        store.close()
