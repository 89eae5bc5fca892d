"""`paperfeed serve --workers 2` with metrics_address: one scrape adds up both workers' requests."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.test_web_serve_logs import _env, _free_port


def test_two_workers_count_into_one_scrape(tmp_path: Path) -> None:
    from paperfeed.core.settings import load_settings

    settings = load_settings({"data_dir": str(tmp_path / "data")}, environ={})
    env = _env(settings)
    web, metrics = _free_port(), _free_port()
    env["PAPERFEED_METRICS_ADDRESS"] = f"127.0.0.1:{metrics}"
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prom")
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--workers", "2", "--port", str(web)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{web}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "serve.log"
            ).read_text()
            time.sleep(0.3)
        n = 40
        for _ in range(n):  # new connections each time, so both workers take some
            with httpx.Client(timeout=10) as c:
                r = c.get(f"http://127.0.0.1:{web}/readyz")
                assert r.status_code == 200, r.text
        pids = {p.name for p in (tmp_path / "prom").glob("*.db")}
        # not on the site
        assert httpx.get(f"http://127.0.0.1:{web}/metrics", timeout=10).status_code == 404
        text = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=10).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        ready = [
            s
            for s in families["paperfeed_http_requests"].samples
            if s.name == "paperfeed_http_requests_total" and s.labels.get("route") == "/readyz"
        ]
        assert sum(s.value for s in ready) == n, ready
        assert "paperfeed_papers_stored" in families
        assert len(pids) >= 2  # each worker wrote its own samples file
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
