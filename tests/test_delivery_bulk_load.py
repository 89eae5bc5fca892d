"""Bulk load of the arXiv metadata snapshot: streamed, resumable after kill -9 anywhere, same
store."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paperfeed.core.errors import BadRequest
from paperfeed.core.settings import Settings, load_settings
from paperfeed.delivery.app.bulk_load import checkpoint_path, load_snapshot
from paperfeed.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent


def kaggle_record(i: int, rnd: random.Random) -> dict[str, object]:
    """One record in the Kaggle arXiv metadata format (the fields the real snapshot has)."""
    first = ["C.", "E. L.", "P. M.", "Ana", "Jürgen", "Li"]
    last = ["Balázs", "Berger", "Nadolsky", "Yuan", "Schmidhuber", "Wei"]
    n_auth = rnd.randint(1, 4)
    parsed = [[rnd.choice(last), rnd.choice(first), ""] for _ in range(n_auth)]
    versions = [{"version": "v1", "created": f"Mon, {1 + i % 28} Apr 2007 19:18:42 GMT"}]
    if i % 3 == 0:
        versions.append({"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"})
    return {
        "id": f"0704.{i:04d}",
        "submitter": "Someone",
        "authors": ", ".join(f"{f} {lname}" for lname, f, _ in parsed),
        "title": f"Paper {i} on {rnd.choice(['diphoton', 'lattice', 'graph', 'quark'])} physics",
        "comments": "10 pages",
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": rnd.choice(["hep-ph", "hep-th astro-ph", "cs.LG stat.ML", "math.CO"]),
        "license": None,
        "abstract": f"  We compute things in paper {i}.\nSecond line of the abstract.\n",
        "versions": versions,
        "update_date": "2008-11-13",
        "authors_parsed": parsed,
    }


def write_snapshot(path: Path, n: int, bad_every: int = 0) -> None:
    rnd = random.Random(42)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as f:
        for i in range(1, n + 1):
            if bad_every and i % bad_every == 0:
                f.write('{"id": "0704.x", "title": \n')  # broken JSON: rejected, named by line
                continue
            f.write(json.dumps(kaggle_record(i, rnd), ensure_ascii=False) + "\n")


def snapshot_of(store: Store) -> list[tuple[object, ...]]:
    return sorted((p.arxiv_id, p.title, p.authors, p.categories, p.version, p.published, p.abstract)
                  for p in store.papers.iter_papers())


def _cli(url: str, data_dir: Path, path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "paperfeed", "load-snapshot", str(path), "--database-url", url,
            "--data-dir", str(data_dir), "--no-progress", *extra]


def test_kill_9_anywhere_then_resume_gives_the_same_store(
    tmp_path: Path, store_url: str, settings: Settings
) -> None:
    path = tmp_path / "arxiv-metadata-oai-snapshot.json.gz"
    write_snapshot(path, 3000, bad_every=500)
    # reference: one clean, uninterrupted load into a separate database
    ref_settings = load_settings({"data_dir": str(tmp_path / "ref")}, environ={})
    ref = open_store(f"sqlite:///{tmp_path / 'ref.db'}")
    full = load_snapshot(ref, ref_settings, path, batch_size=10, progress=False)
    assert full.done and full.counts.new == 2994 and full.counts.rejected == 6
    expected = snapshot_of(ref)
    ref.close()

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    where = checkpoint_path(settings, path)
    kills = 0
    for fraction in (0.0, 0.2, 0.5, 0.8):
        proc = subprocess.Popen(_cli(store_url, settings.data_path, path, "--batch-size", "10"),
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        target = int(3000 * fraction)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                lines = json.loads(where.read_text())["lines"] if where.exists() else 0
            except ValueError:
                lines = 0
            if lines >= target and (target or time.monotonic() > deadline - 58.5):
                time.sleep(random.Random(kills).random() * 0.05)  # anywhere between two checkpoints
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.005)
        proc.communicate(timeout=30)
    assert kills >= 2
    done = subprocess.run(_cli(store_url, settings.data_path, path, "--json"), env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["done"] and summary["lines"] == 3000 and summary["resumed_from_line"] > 0
    assert summary["rejected"] >= 6 and "snapshot.json.gz:3000: invalid JSON" in done.stderr
    store = open_store(store_url)
    try:
        assert snapshot_of(store) == expected  # nothing lost, nothing doubled
        runs = store.runs.recent_runs(20)
        assert any(r.source.startswith("bulk-load") and r.status == "ok" for r in runs)
    finally:
        store.close()
    again = subprocess.run(_cli(store_url, settings.data_path, path), env=env,
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 1 and "already loaded" in again.stdout


def test_plain_file_resume_restart_and_errors(
    tmp_path: Path, settings: Settings, store: Store
) -> None:
    path = tmp_path / "snapshot.jsonl"
    write_snapshot(path, 120)
    first = load_snapshot(store, settings, path, batch_size=25, progress=False)
    assert first.done and first.counts.new == 120
    # a checkpoint part-way through (as a kill leaves it) resumes with a seek to its offset
    where = checkpoint_path(settings, path)
    state = json.loads(where.read_text())
    with path.open("rb") as fh:
        head = b"".join(fh.readline() for _ in range(50))
    state.update(done=False, lines=50, offset=len(head))
    where.write_text(json.dumps(state))
    resumed = load_snapshot(store, settings, path, batch_size=25, progress=False)
    assert resumed.done and resumed.resumed_from_line == 50 and resumed.counts.unchanged == 70
    assert store.papers.count_papers() == 120
    again = load_snapshot(store, settings, path, restart=True, progress=False)
    assert again.resumed_from_line == 0 and again.counts.unchanged == 120
    # a different file under the same name starts over instead of seeking into it
    write_snapshot(path, 130)
    grown = load_snapshot(store, settings, path, progress=False)
    assert grown.resumed_from_line == 0 and grown.counts.new == 10
    with pytest.raises(BadRequest, match="no such file"):
        load_snapshot(store, settings, tmp_path / "missing.json", progress=False)
    where.write_text("{not json")
    with pytest.raises(BadRequest, match="--restart"):
        load_snapshot(store, settings, path, progress=False)
