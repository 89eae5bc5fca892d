"""Web load benchmark: uvicorn serving the 74k arXiv papers (+ real HF upvotes), loaded by wrk.

Usage: python benchmarks/web_load.py [--workers 1 2] [--seconds 10] [--connections 16] [--out FILE]

Prepares bench-output/web/ once (ingest arxiv-74k.jsonl.gz and hf-daily, build the lexical index),
then for each worker count starts `paperfeed serve` in its own process and runs `wrk` (Debian
package `wrk`) in another against: home, a paper page, a search page, the trending JSON, and the RSS
feeds. Reports requests/s, p50 and p99 latency, and the server's peak RSS (all its processes) while
serving the feeds. Writes benchmarks/RESULTS-web.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
WORK = ROOT / "bench-output" / "web"
PY = sys.executable


def _cli(*args: str) -> None:
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(WORK)}
    subprocess.run([PY, "-m", "paperfeed", *args], check=False, env=env, cwd=ROOT)


def prepare() -> None:
    """Ingest the data and build the lexical index once (kept between runs)."""
    if (WORK / "ready").exists():
        return
    WORK.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    _cli("ingest", str(SHARED / "arxiv-74k.jsonl.gz"))
    _cli("ingest", str(SHARED / "hf-daily" / "hf-daily-2026-02.jsonl"),
         str(SHARED / "hf-daily" / "hf-daily-2023-12_2024-04.json"))
    _cli("index", "build", "--lexical-only")
    (WORK / "ready").write_text(f"prepared in {time.perf_counter() - t:.0f}s\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        body: bytes = r.read()
        return body


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * _UNIT[m.group(2)]


def wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    """Run wrk on one URL; requests/s, p50, p99 (ms), non-2xx count."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": float(bad.group(1)) if bad else 0.0,
    }


def run(workers: int, seconds: int, connections: int) -> dict[str, object]:
    """Start a server with `workers` processes and load each endpoint."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(WORK)}
    server = subprocess.Popen(
        [PY, "-m", "paperfeed", "serve", "--port", str(port), "--workers", str(workers)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    proc = psutil.Process(server.pid)
    try:
        deadline = time.time() + 120
        while True:
            try:
                _get(base + "/about")
                break
            except OSError as exc:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError(
                        "server did not start: "
                        + (server.stderr.read().decode() if server.stderr else "")
                    ) from exc
                time.sleep(0.3)
        trending = json.loads(_get(base + "/api/v1/trending?limit=30"))
        paper_id = trending["papers"][0]["id"]
        urls = {
            "home": "/",
            "trending JSON": "/api/v1/trending",
            "paper page": f"/papers/{paper_id}",
            "search page": "/search?q=diffusion+transformer",
            "search page (query + category filter)": (
                "/search?q=vision+language+model&category=cs.CV"
            ),
            "RSS daily": "/feeds/daily.xml",
            "RSS trending": "/feeds/trending.xml",
            "RSS category": "/feeds/c/cs.CL.xml",
        }
        results: dict[str, dict[str, float]] = {}
        cold: dict[str, float] = {}
        for name, path in urls.items():
            t = time.perf_counter()
            _get(base + path)
            cold[name] = (time.perf_counter() - t) * 1000
        peak = _tree_rss(proc)
        for name, path in urls.items():
            results[name] = wrk(base + path, seconds, connections)
            peak = max(peak, _tree_rss(proc))
            print(
                f"workers={workers} {name:<34} {results[name]['rps']:8.0f} req/s  p50 "
                f"{results[name]['p50_ms']:6.2f} ms"
                f"  p99 {results[name]['p99_ms']:7.2f} ms  (first request {cold[name]:.0f} ms)",
                flush=True,
            )
        return {
            "workers": workers,
            "results": results,
            "cold_ms": cold,
            "peak_rss_mb": peak / 2**20,
        }
    finally:
        for child in proc.children(recursive=True):
            child.terminate()
        server.terminate()
        server.wait(30)


def write_results(
    runs: list[dict[str, object]], seconds: int, connections: int, out: Path, papers: int
) -> None:
    """RESULTS-web.md."""
    lines = [
        "# Web load benchmark",
        "",
        (
            f"Measured {date.today()} on {platform.machine()} with {os.cpu_count()} CPU cores, "
            "Python "
            f"{platform.python_version()}, SQLite, {papers:,} papers (arxiv-74k + hf-daily with "
            "real upvotes),"
        ),
        (
            "lexical search index. Server: `paperfeed serve --workers N` (uvicorn); load: "
            f"`wrk -t1 -c{connections} -d{seconds}s --latency` in a second process on the same 2 "
            "cores."
        ),
        "Requests are anonymous, so list pages, trending and feeds come from the page cache "
        "(keyed by",
        "the data stamp, re-read at most every 0.5 s); the paper page is cached per paper; search "
        "runs",
        "BM25 over all 74k papers on every request (only the page render is uncached).",
        "",
        "Goals: ≥ 300 req/s and p50 ≤ 20 ms for home and trending; serving RSS feeds in ≤ 1 GiB.",
        "",
    ]
    for r in runs:
        lines += [
            f"## {r['workers']} worker{'s' if r['workers'] != 1 else ''}",
            "",
            "| endpoint | req/s | p50 ms | p99 ms | first request ms |",
            "|---|---:|---:|---:|---:|",
        ]
        res = r["results"]
        cold = r["cold_ms"]
        assert isinstance(res, dict) and isinstance(cold, dict)
        for name, v in res.items():
            lines.append(
                f"| {name} | {v['rps']:.0f} | {v['p50_ms']:.2f} | {v['p99_ms']:.2f} | "
                f"{cold[name]:.0f} |"
            )
        lines += ["", f"Peak server RSS (all worker processes): {r['peak_rss_mb']:.0f} MiB", ""]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS-web.md")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    prepare()
    sys.path.insert(0, str(ROOT))
    from paperfeed.store import open_store

    store = open_store(f"sqlite:///{WORK / 'paperfeed.db'}")
    papers = store.papers.count_papers()
    store.close()
    runs = [run(w, args.seconds, args.connections) for w in args.workers]
    write_results(runs, args.seconds, args.connections, args.out, papers)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
