"""The CLI: exit codes, one-line errors, JSON output, `python -m paperfeed`."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from paperfeed.delivery.cli.main import cli
from tests.conftest import ROOT

SAMPLE = ROOT / "paperfeed" / "data" / "sample-feed.jsonl.gz"
with gzip.open(SAMPLE, "rt", encoding="utf-8") as _f:
    SAMPLE_PAPERS = sum(1 for _ in _f)


def _run(*args: str, data_dir: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)])
    return result.exit_code, result.stdout, result.stderr


def test_ingest_list_show_status(tmp_path: Path) -> None:
    code, out, _ = _run("ingest", str(SAMPLE), "--json", data_dir=tmp_path)
    assert code == 0 and json.loads(out)["new"] == SAMPLE_PAPERS
    code, out, _ = _run("ingest", str(SAMPLE), data_dir=tmp_path)
    assert code == 1 and "0 new" in out  # nothing new: exit 1
    code, out, _ = _run("papers", "list", "--json", "-n", "5", data_dir=tmp_path)
    listed = json.loads(out)
    assert code == 0 and len(listed) == 5 and all(p["title"] for p in listed)
    code, out, _ = _run("papers", "show", f"#{listed[0]['id']}", data_dir=tmp_path)
    assert code == 0 and listed[0]["title"] in out
    code, out, _ = _run("status", "--json", data_dir=tmp_path)
    info = json.loads(out)
    assert code == 0 and info["papers"] == SAMPLE_PAPERS and info["last_successful_ingest"]
    assert [r["status"] for r in info["recent_runs"]] == ["ok", "ok"]
    code, out, _ = _run("db", "check", data_dir=tmp_path)
    assert code == 0 and out.startswith(f"ok: {SAMPLE_PAPERS} papers")


def test_ingest_makes_new_papers_searchable_without_a_build(tmp_path: Path) -> None:
    bulk = tmp_path / "two.jsonl"
    bulk.write_text(
        json.dumps(
            {
                "id": "2401.00001",
                "title": "Quokka population dynamics on Rottnest",
                "abstract": "We count quokkas.",
                "authors": "A. Person",
                "categories": "q-bio.PE",
            }
        )
        + "\n",
        encoding="utf-8",
    )
    code, _, _ = _run("ingest", str(SAMPLE), data_dir=tmp_path)
    assert code == 0
    code, out, _ = _run("search", "quokka", "--json", "--mode", "lexical", data_dir=tmp_path)
    assert code == 1  # indexed, but no such paper yet
    code, _, _ = _run("ingest", str(bulk), data_dir=tmp_path)
    assert code == 0
    code, out, _ = _run("search", "quokka", "--json", "--mode", "lexical", data_dir=tmp_path)
    assert code == 0 and json.loads(out)["hits"][0]["arxiv_id"] == "2401.00001"


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        ("ingest", str(tmp_path / "nope.jsonl")),
        ("papers", "show", "not-an-id"),
        ("papers", "show", "2501.00001"),
    ):
        code, _, err = _run(*args, data_dir=tmp_path)
        assert code == 2, args
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    code, _, err = _run("ingest", str(SAMPLE), "--format", "xml-ish", data_dir=tmp_path)
    assert code == 2 and "xml-ish" in err


def test_python_dash_m_and_settings_doc(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paperfeed", "settings", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "PAPERFEED_DATA_DIR" in done.stdout
    assert (ROOT / "docs" / "settings.md").read_text() == done.stdout, (
        "docs/settings.md is stale: run make docs"
    )


def test_papers_daily_opens_on_the_latest_day_with_papers(tmp_path: Path) -> None:
    assert _run("ingest", str(SAMPLE), data_dir=tmp_path)[0] == 0
    code, out, _ = _run("papers", "daily", "--json", "-n", "5", data_dir=tmp_path)
    got = json.loads(out)
    assert code == 0 and got["day"] == "2026-02-27" and "latest day with papers" in got["notice"]
    ups = [p["upvotes"] for p in got["papers"]]
    assert len(ups) == 5 and ups == sorted(ups, reverse=True) and ups[0] > 10
    code, out, _ = _run("papers", "daily", "--day", "2026-02-26", "--json", data_dir=tmp_path)
    assert (
        code == 0 and json.loads(out)["day"] == "2026-02-26" and json.loads(out)["notice"] is None
    )
