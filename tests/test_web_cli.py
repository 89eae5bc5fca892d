"""`paperfeed serve --get` (one in-process request) and `paperfeed submissions`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from paperfeed.core.models import Paper
from paperfeed.delivery.cli.main import cli
from paperfeed.store import open_store


def _seed(data_dir: Path) -> None:
    store = open_store(f"sqlite:///{data_dir / 'paperfeed.db'}")
    store.papers.upsert_papers(
        [
            Paper(
                title="A <b>Paper</b>",
                arxiv_id="2501.00001",
                external_upvotes=3,
                source="hf-daily",
                featured_on=date(2025, 1, 2),
            )
        ]
    )
    store.submissions.add_submission(None, "2501.00002", "queued", error="offline")
    store.close()


def test_serve_get_prints_one_response(tmp_path: Path) -> None:
    _seed(tmp_path)
    runner = CliRunner()
    r = runner.invoke(
        cli, ["serve", "--get", "/api/v1/papers", "--data-dir", str(tmp_path)], env={}
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["papers"][0]["title"] == "A <b>Paper</b>"
    r = runner.invoke(cli, ["serve", "--get", "/", "--data-dir", str(tmp_path)], env={})
    assert r.exit_code == 0 and "A &lt;b&gt;Paper&lt;/b&gt;" in r.stdout
    r = runner.invoke(
        cli, ["serve", "--get", "/api/v1/papers/999", "--data-dir", str(tmp_path)], env={}
    )
    assert r.exit_code == 1 and r.stderr.strip() == "error: HTTP 404 for /api/v1/papers/999"


def test_serve_refuses_production_without_secret(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["serve", "--get", "/", "--data-dir", str(tmp_path)],
                           env={"PAPERFEED_ENV": "production", "PAPERFEED_SECRET_KEY": ""})
    assert r.exit_code == 2 and "PAPERFEED_SECRET_KEY" in r.stderr and "Traceback" not in r.output
    r = CliRunner().invoke(
        cli,
        ["serve", "--get", "/about", "--data-dir", str(tmp_path)],
        env={
            "PAPERFEED_ENV": "production",
            "PAPERFEED_SECRET_KEY": "Xq3v-9LmZ_r7TbW2pKd8sYc4NfJ0hGe6uAiO5",
            "PAPERFEED_BASE_URL": "https://papers.example.org",
        },
    )
    assert r.exit_code == 0


def test_submissions_list_and_process_offline(tmp_path: Path) -> None:
    _seed(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli, ["submissions", "list", "--json", "--data-dir", str(tmp_path)], env={})
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["status"] == "queued"
    env = {"PAPERFEED_ARXIV_API_URL": "http://127.0.0.1:9/api/query", "PAPERFEED_HTTP_RETRIES": "0",
           "PAPERFEED_ARXIV_DELAY": "0"}
    r = runner.invoke(
        cli, ["submissions", "process", "--json", "--data-dir", str(tmp_path)], env=env
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"done": 0, "failed": 0, "queued": 1}


def test_users_list_and_admin(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'paperfeed.db'}")
    store.users.create_user("erin", "erin@example.org", "not-a-real-hash")
    store.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["users", "admin", "erin", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0 and "now an administrator" in result.stdout
    result = runner.invoke(cli, ["users", "list", "--json", "--data-dir", str(tmp_path)])
    assert json.loads(result.stdout) == [
        {"id": 1, "username": "erin", "email": "erin@example.org", "is_admin": True}
    ]
    result = runner.invoke(cli, ["users", "admin", "nobody", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "nobody" in result.stderr
