"""The deployment files in deploy/: systemd units verified by systemd-analyze, settings names
real."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paperfeed.core.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service")) + sorted(
    (DEPLOY / "systemd").glob("*.timer")
)
INSTALLED = "/opt/paperfeed/venv/bin/paperfeed"


def test_units_exist_and_name_the_commands() -> None:
    names = {u.name for u in UNITS}
    assert {"paperfeed-web.service", "paperfeed-worker.service"} <= names
    assert (
        f"ExecStart={INSTALLED} serve" in (DEPLOY / "systemd" / "paperfeed-web.service").read_text()
    )
    assert (
        f"ExecStart={INSTALLED} worker"
        in (DEPLOY / "systemd" / "paperfeed-worker.service").read_text()
    )


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip(
            "systemd-analyze is not installed on this machine (Debian: apt-get install systemd)"
        )
    # systemd checks that ExecStart's program exists: point it at this checkout's interpreter.
    for unit in UNITS:
        text = unit.read_text().replace(INSTALLED, f"{sys.executable} -m paperfeed")
        (tmp_path / unit.name).write_text(text)
    done = subprocess.run([tool, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, timeout=120, check=False)
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "Unknown" in line or "Failed" in line or "not executable" in line or "Invalid" in line
    ]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


def test_example_environment_names_only_real_settings() -> None:
    known = {s.env_var for s in SETTINGS}
    used = [
        line.split("=", 1)[0]
        for line in (DEPLOY / "paperfeed.env.example").read_text().splitlines()
        if line.startswith("PAPERFEED_")
    ]
    assert used and not [u for u in used if u not in known]
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("Environment=PAPERFEED_"):
                assert line.split("=", 2)[1] in known, line


def test_nginx_config_parses_when_nginx_is_there(tmp_path: Path) -> None:
    nginx, openssl = (
        shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin"),
        shutil.which("openssl"),
    )
    if nginx is None or openssl is None:
        pytest.skip(
            "nginx or openssl is not installed on this machine; deploy/nginx/paperfeed.conf is "
            "not syntax-checked"
        )
    # the certificates are not here: a throw-away self-signed pair stands in, so every line is
    # checked
    key, cert = tmp_path / "privkey.pem", tmp_path / "fullchain.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=papers.example.org",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=True,
    )
    site = (DEPLOY / "nginx" / "paperfeed.conf").read_text()
    live = "/etc/letsencrypt/live/papers.example.org/"
    assert site.count(live) == 2, "the guide's certificate paths changed: update this test"
    site = site.replace(live + "fullchain.pem", str(cert)).replace(live + "privkey.pem", str(key))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
                    f"http {{\naccess_log off;\n{site}\n}}\n")
    done = subprocess.run(
        [nginx, "-t", "-c", str(conf)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_guide_points_at_every_file() -> None:
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for path in [
        *UNITS,
        DEPLOY / "nginx" / "paperfeed.conf",
        DEPLOY / "caddy" / "Caddyfile",
        DEPLOY / "paperfeed.env.example",
    ]:
        assert str(path.relative_to(ROOT)) in guide, path
    readme = (ROOT / "README.md").read_text()
    assert "## Running in production" in readme and "docs/deploy.md" in readme
