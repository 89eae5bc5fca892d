"""First run as a new user has it: fresh clone, `make run` until the page answers, venv size.

Usage: python benchmarks/install.py [--runs cold,warm] [--keep]

Each run clones this repository's committed HEAD into a temporary directory (no .venv, no data),
points PIP_CACHE_DIR at a temporary cache (empty for the first run, "cold"; the same cache again for
the next, "warm"), starts `make run PORT=<free port>` and polls
http://127.0.0.1:<port>/
until
the Daily page answers 200 with papers on it, then until a search by meaning (the API's
mode=semantic) returns papers and until /topics lists topics. Reported per run: seconds until the
page answered, until semantic search answered and until topics were there,
CPU seconds used by make and everything it started until then (a figure the machine's load
barely changes), the size of the clone's .venv (du, bytes on disk), and whether torch, transformers
or sentence-transformers were installed (pip list). The server (and its background embedding) is
stopped after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "sentence-transformers")
TIMEOUT_S = 900


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def page_ready(url: str) -> bool:
    """Whether the Daily page answers 200 and lists papers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = r.read().decode("utf-8", "replace")
            return r.status == 200 and 'class="card"' in body
    except OSError:
        return False


def semantic_ready(base: str) -> bool:
    """Whether a search by meaning returns papers (vectors exist and the query embeds)."""
    try:
        with urllib.request.urlopen(
            f"{base}api/v1/search?q=language+models&mode=semantic&limit=3", timeout=30
        ) as r:
            data = json.loads(r.read())
        # until vectors exist, mode=semantic answers lexically with a notice saying so
        return (
            r.status == 200
            and bool(data.get("papers"))
            and "not available" not in (data.get("notice") or "")
        )
    except (OSError, ValueError):
        return False


def topics_ready(base: str) -> bool:
    """Whether /topics lists topics."""
    try:
        with urllib.request.urlopen(f"{base}topics", timeout=10) as r:
            return r.status == 200 and 'class="topic"' in r.read().decode("utf-8", "replace")
    except OSError:
        return False


def wait_for(check: object, started: float, proc: subprocess.Popen[bytes]) -> float | None:
    """Seconds since started until check() holds (None: make ended or the timeout passed)."""
    assert callable(check)
    while time.monotonic() - started < TIMEOUT_S and proc.poll() is None:
        if check():
            return time.monotonic() - started
        time.sleep(0.5)
    return None


def du_bytes(path: Path) -> int:
    """Bytes on disk under path (du -sb)."""
    out = subprocess.run(
        ["du", "-sb", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return int(out.split()[0])


def session_cpu_seconds(sid: int) -> float:
    """CPU seconds (user + system, own and of reaped children) of every live process in a session.

    make waits for each recipe command, so the finished ones (pip, ingest) are in make's children
    times; the server and the background index build are still alive and counted themselves.
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # field 6 of stat: the session id
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / tick


def one_run(name: str, work: Path, cache: Path) -> dict[str, object]:
    """Clone, `make run`, wait for the page; return the figures."""
    clone = work / f"clone-{name}"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAPERFEED_", "PYTHONPATH", "VIRTUAL_ENV"))
    }
    env["PIP_CACHE_DIR"] = str(cache)
    log = (work / f"make-{name}.log").open("w")
    started = time.monotonic()
    proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    seconds = None
    cpu = 0.0
    try:
        while time.monotonic() - started < TIMEOUT_S:
            if proc.poll() is not None:
                break
            if page_ready(url):
                seconds = time.monotonic() - started
                cpu = session_cpu_seconds(proc.pid)
                break
            time.sleep(0.5)
        semantic_s = wait_for(lambda: semantic_ready(url), started, proc) if seconds else None
        topics_s = wait_for(lambda: topics_ready(url), started, proc) if seconds else None
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    if seconds is None:
        tail = (work / f"make-{name}.log").read_text()[-3000:]
        raise SystemExit(
            f"{name}: the page never answered (make exited {proc.returncode}):\n{tail}"
        )
    venv = clone / ".venv"
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    return {
        "run": name,
        "first_page_s": round(seconds, 1),
        "semantic_ready_s": None if semantic_s is None else round(semantic_s, 1),
        "topics_ready_s": None if topics_s is None else round(topics_s, 1),
        "cpu_s": round(cpu, 1),
        "load_avg_1m": round(os.getloadavg()[0], 1),
        "venv_mb": round(du_bytes(venv) / 1e6),
        "packages": len(names),
        "heavy_installed": sorted(n for n in HEAVY if n in names),
    }


def main() -> None:
    """Run the requested runs and print one JSON line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--runs", default="cold,warm", help="cold (empty pip cache), warm (the cache again)"
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the temporary directory (clones, logs)"
    )
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="an existing pip cache to use (a later 'warm' run without a 'cold' one first)",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paperfeed-install-"))
    cache = args.cache or work / "pip-cache"
    try:
        for name in args.runs.split(","):
            result = one_run(name.strip(), work, cache)
            print(json.dumps(result), flush=True)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
