"""`paperfeed serve` as a real process with JSON logs: every line parses, and no secret is ever
logged.

A realistic flow runs against it on 127.0.0.1 (sign up, log in with a wrong then the right password,
create an API token, use it to upvote, send a digest through the CLI with JSON logs), then the whole
log is searched for the passwords, the secret key, the token, the session cookie and the digest's
unsubscribe token.
"""

from __future__ import annotations

import email
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from paperfeed.core.settings import Settings
from tests._ops_fixtures import write_jsonl
from tests.web_fixtures import csrf_from

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Tr0ub4dor&3-horse-staple-9"
WRONG = "not-the-password-Zebra-77"
SECRET = "s3cret-key-for-the-log-test-" + "x" * 24
SMTP_PASSWORD = "smtp-pass-never-logged-42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update({
        "PAPERFEED_DATA_DIR": settings.data_dir, "PAPERFEED_DATABASE_URL": settings.db_url,
        "PAPERFEED_SECRET_KEY": SECRET, "PAPERFEED_SMTP_PASSWORD": SMTP_PASSWORD,
        "PAPERFEED_LOG_FORMAT": "json", "PAPERFEED_LOG_LEVEL": "info",
        "PAPERFEED_MAILER": "file", "PAPERFEED_RATE_LIMIT_LOGIN": "1000/minute",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    })
    return env


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _plain_bodies(outbox: Path) -> list[str]:
    """The text/plain parts of every mail the file mailer wrote, oldest first."""
    bodies = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        bodies.append("".join(str(part.get_content()) for part in message.walk()
                              if part.get_content_type() == "text/plain"))
    return bodies


def _signup_link(outbox: Path) -> str:
    """The link of the newest sign-up mail (written just after the answer: waited for a little)."""
    deadline = time.monotonic() + 10
    while True:
        links = [
            m.group(0)
            for b in _plain_bodies(outbox)
            for m in re.finditer(r"\S+/signup/finish\?t=\S+", b)
        ]
        if links or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert links, "no sign-up mail in the outbox"
    return links[-1]


def test_serve_json_logs_parse_and_hold_no_secrets(settings: Settings, tmp_path: Path) -> None:
    env = _env(settings)
    sample = ROOT / "paperfeed" / "data" / "sample-feed.jsonl.gz"
    ingest = _cli(env, "ingest", str(sample))
    assert ingest.returncode == 0, ingest.stderr
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.3)
            with httpx.Client(base_url=base, timeout=30) as c:
                token = csrf_from(c.get("/signup").text)
                r = c.post(
                    "/signup",
                    data={"username": "zoe", "email": "zoe@example.org", "csrf_token": token},
                )
                assert r.status_code == 200, r.text
                # The account is made behind the mailed link, the password chosen there (#21 F13):
                # open it.
                signup_url = _signup_link(Path(settings.data_dir) / "outbox")
                link = urlsplit(signup_url)
                # shows a form; its POST makes the account
                asked = c.get(f"{link.path}?{link.query}")
                assert asked.status_code == 200, asked.text
                t = re.search(r'name="t" value="([^"]+)"', asked.text)
                assert t, asked.text
                made = c.post(
                    "/signup/finish",
                    data={
                        "t": html.unescape(t.group(1)),
                        "password": PASSWORD,
                        "csrf_token": csrf_from(asked.text),
                    },
                )
                assert made.status_code == 303, made.text
                assert "is confirmed" in c.get("/profile").text
                c.post("/logout", data={"csrf_token": csrf_from(c.get("/profile").text)})
                login_csrf = csrf_from(c.get("/login").text)
                bad = c.post(
                    "/login", data={"login": "zoe", "password": WRONG, "csrf_token": login_csrf}
                )
                assert bad.status_code in (400, 401, 403)
                login_csrf = csrf_from(c.get("/login").text)
                ok = c.post(
                    "/login", data={"login": "zoe", "password": PASSWORD, "csrf_token": login_csrf}
                )
                assert ok.status_code in (200, 303), ok.text
                session_cookie = next(v for k, v in c.cookies.items() if "session" in k)
                page = c.post(
                    "/profile/tokens",
                    data={
                        "name": "laptop",
                        "scope": "write",
                        "csrf_token": csrf_from(c.get("/profile").text),
                    },
                )
                api_token = re.search(r"pf_[A-Za-z0-9_\-]{20,}", page.text)
                assert api_token, page.text
                api_token_value = api_token.group(0)
            with httpx.Client(base_url=base, timeout=30) as api:
                paper = api.get("/api/v1/papers?limit=1").json()
                pid = (paper.get("papers") or paper.get("items") or paper)[0]["id"]
                voted = api.post(
                    f"/api/v1/papers/{pid}/upvote",
                    headers={"Authorization": f"Bearer {api_token_value}"},
                )
                assert voted.status_code == 200, voted.text
                assert (
                    api.get(
                        "/api/v1/search?q=agents", headers={"X-Request-ID": "flow-1"}
                    ).status_code
                    == 200
                )
                assert api.get("/nothing/here").status_code == 404
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    now = datetime.now(UTC)
    sub = _cli(env, "subscribe", "set", "zoe", "--frequency", "daily", "--hour", str(now.hour))
    assert sub.returncode == 0, sub.stderr
    fresh = _cli(env, "ingest", str(write_jsonl(tmp_path / "fresh.jsonl", 0, 30)), "--no-index")
    assert fresh.returncode == 0, fresh.stderr
    sent = _cli(
        env,
        "digest",
        "send",
        "--now",
        (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    bodies = _plain_bodies(Path(settings.data_dir) / "outbox")
    digests = [b for b in bodies if "/unsubscribe?t=" in b]
    assert digests, sent.stdout + sent.stderr + "\n".join(bodies)
    body = digests[0]
    unsubscribe = [unquote(t) for t in re.findall(r"/unsubscribe\?t=([^\s\"'<>&]+)", body)]
    assert unsubscribe, body[:2000]

    serve_lines = log_path.read_text().splitlines()
    records = [json.loads(line) for line in serve_lines]  # every line is one JSON object
    assert records and all(
        {"time", "level", "logger", "message", "request_id"} <= set(r) for r in records
    )
    access = [r for r in records if r["logger"] == "paperfeed.access"]
    assert len(access) >= 10 and all(r["request_id"] for r in access)
    assert any(r["request_id"] == "flow-1" and r["route"] == "/api/v1/search" for r in access)
    cli_lines = [
        json.loads(line)
        for line in (sent.stderr + ingest.stderr + sub.stderr).splitlines()
        if line.strip()
    ]
    assert all("message" in r for r in cli_lines)

    everything = log_path.read_text() + sent.stdout + sent.stderr + ingest.stderr + sub.stderr
    secrets = [
        PASSWORD,
        WRONG,
        SECRET,
        SMTP_PASSWORD,
        api_token_value,
        session_cookie,
        *unsubscribe,
        signup_url.split("t=", 1)[1],
    ]
    for secret in secrets:
        assert secret not in everything, f"a secret reached the log: {secret[:6]}..."
