"""Distributed embedding throughput: papers/s with 1, 2 and 4 Ray workers on a local Ray head.

Usage: .venv/bin/python benchmarks/embed_distributed.py [--papers 600] [--workers 1,2,4] [--cpus 4]

The first N real papers of the 74k arXiv file go into a SQLite store and a lexical index; a Ray head
is started on 127.0.0.1 with --cpus logical CPUs (one per worker; the machine may have fewer cores
than that); `embed_on_cluster` embeds them with W workers (int8 model, 256 tokens, one ONNX thread
each), vectors are dropped, and the next W runs. Papers/s is vectors written per second of wall
time, including handing out the batches and writing the results.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on 127.0.0.1

from search_common import ARXIV, ROOT, to_paper

from paperfeed.core.settings import load_settings
from paperfeed.index import distributed as D, open_search_index
from paperfeed.index.embedder import export_onnx
from paperfeed.store import open_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=600)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--cpus", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    work = ROOT / "bench-output" / "embed-distributed"
    shutil.rmtree(work, ignore_errors=True)
    settings = load_settings({"data_dir": str(work)}, environ={})
    work.mkdir(parents=True)
    store = open_store(settings.db_url)
    papers = []
    with gzip.open(ARXIV, "rt", encoding="utf-8") as f:
        for line in f:
            papers.append(to_paper(json.loads(line)))
            if len(papers) >= args.papers:
                break
    store.papers.upsert_papers(papers)
    index = open_search_index(settings, store)
    index.build(embed=False)
    cache = work / "models"
    export_onnx(cache, "int8")
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    head = subprocess.Popen(
        [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
         "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={args.cpus}", "--num-gpus=0",
         "--object-store-memory=200000000", "--include-dashboard=false", "--disable-usage-stats",
         f"--temp-dir={temp}"],
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    rows = []
    try:
        for _ in range(120):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.5)
        time.sleep(2)
        for w in (int(x) for x in args.workers.split(",")):
            shutil.rmtree(work / "index" / "vectors", ignore_errors=True)
            index.semantic.reload()
            report = D.embed_on_cluster(index, f"127.0.0.1:{port}", workers=w, precision="int8",
                                        max_length=256, batch=args.batch, cache_dir=str(cache))
            rows.append((w, report))
            print(f"workers={w} papers={report.written} seconds={report.embed_seconds:.1f} "
                  f"(with start-up {report.seconds:.1f}) "
                  f"papers/s={report.papers_per_second:.1f} redone={report.redone}", flush=True)
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)
    base = rows[0][1].papers_per_second if rows else 0.0
    print("| workers | papers | seconds | papers/s | vs 1 worker |")
    print("|---:|---:|---:|---:|---:|")
    for w, r in rows:
        ratio = r.papers_per_second / base if base else 0.0
        print(
            f"| {w} | {r.written} | {r.embed_seconds:.1f} | {r.papers_per_second:.1f} | "
            f"{ratio:.2f}x |"
        )


if __name__ == "__main__":
    main()
