"""First run as a new user has it: fresh clone, `make run` until the page answers, venv size.

Usage: python benchmarks/install.py [--runs cold,warm] [--keep]

Each run clones this repository's committed HEAD into a temporary directory (no .venv, no data),
points PIP_CACHE_DIR at a temporary cache (empty for the first run, "cold"; the same cache again
for the next, "warm"), starts `make run PORT=<free port>` and polls http://127.0.0.1:<port>/ until
the Daily page answers 200 with papers on it. Reported per run: seconds until the page answered,
the size of the clone's .venv (du, bytes on disk), and whether torch, transformers or
sentence-transformers were installed (pip list). The server (and its background embedding) is
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


def du_bytes(path: Path) -> int:
    """Bytes on disk under path (du -sb)."""
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def one_run(name: str, work: Path, cache: Path) -> dict[str, object]:
    """Clone, `make run`, wait for the page; return the figures."""
    clone = work / f"clone-{name}"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERFEED_", "PYTHONPATH", "VIRTUAL_ENV"))}
    env["PIP_CACHE_DIR"] = str(cache)
    log = (work / f"make-{name}.log").open("w")
    started = time.monotonic()
    proc = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    seconds = None
    try:
        while time.monotonic() - started < TIMEOUT_S:
            if proc.poll() is not None:
                break
            if page_ready(url):
                seconds = time.monotonic() - started
                break
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    if seconds is None:
        tail = (work / f"make-{name}.log").read_text()[-3000:]
        raise SystemExit(f"{name}: the page never answered (make exited {proc.returncode}):\n{tail}")
    venv = clone / ".venv"
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    return {
        "run": name,
        "first_page_s": round(seconds, 1),
        "venv_mb": round(du_bytes(venv) / 1e6),
        "packages": len(names),
        "heavy_installed": sorted(n for n in HEAVY if n in names),
    }


def main() -> None:
    """Run the requested runs and print one JSON line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="cold,warm", help="cold (empty pip cache), warm (the cache again)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (clones, logs)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paperfeed-install-"))
    cache = work / "pip-cache"
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
