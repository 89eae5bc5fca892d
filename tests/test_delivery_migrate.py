"""`paperfeed db migrate` backs up first, migrates an old-schema database, verifies counts;
downgrades too."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import text

from paperfeed.core.models import IngestCounts
from paperfeed.delivery.cli.main import cli
from paperfeed.store import open_store
from paperfeed.store.backup import BackupRepository


def _old_database(url: str, n: int = 50) -> None:
    old = open_store(url, migrate=False)
    try:
        old.migrate("0001")  # the first migration's schema, as an early install left it
        # Raw rows in the 0001 shape: today's upsert writes columns (doi, ...) that 0001 lacks.
        seen = datetime(2024, 1, 2, tzinfo=UTC)
        rows = [
            {
                "arxiv_id": f"2401.{i:05d}",
                "version": 1,
                "title": f"Old paper {i}",
                "title_key": f"old paper {i}",
                "published": date(2024, 1, 2),
                "day": date(2024, 1, 2),
                "first_seen_at": seen,
                "updated_at": seen,
                "content_hash": f"{i:040d}",
            }
            for i in range(n)
        ]
        with old.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO papers (arxiv_id, version, title, title_key, published, day, "
                    "first_seen_at,"
                    " updated_at, content_hash) VALUES (:arxiv_id, :version, :title, :title_key, "
                    ":published,"
                    " :day, :first_seen_at, :updated_at, :content_hash)"
                ),
                rows,
            )
            conn.execute(text("INSERT INTO paper_versions (paper_id, version, seen_at, source)"
                              " SELECT id, 1, first_seen_at, 'jsonl' FROM papers"))
            conn.execute(text("INSERT INTO paper_sources (paper_id, source, first_seen_at)"
                              " SELECT id, 'jsonl', first_seen_at FROM papers"))
        old.runs.finish_run(old.runs.start_run("old.jsonl"), IngestCounts(new=n))
    finally:
        old.close()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_migrate_takes_a_backup_then_verifies_counts(store_url: str, tmp_path: Path) -> None:
    _old_database(store_url)
    data = tmp_path / "data"
    code, out = _run("db", "migrate", "--data-dir", str(data), "--database-url", store_url)
    assert code == 0, out
    assert "schema: 0001 -> " in out and "verified: " in out
    backup = Path(out.split("backup: ", 1)[1].splitlines()[0])
    assert backup.parent == data / "backups" and backup.name.startswith("pre-migrate-0001-")
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["schema_revision"] == "0001"
    assert (
        manifest["tables"]["papers"]["rows"] == 50
        and manifest["tables"]["ingest_runs"]["rows"] == 1
    )
    assert set(manifest["tables"]) == {"papers", "paper_versions", "paper_sources", "ingest_runs"}
    s = open_store(store_url, migrate=False)
    try:
        assert s.current_revision() == s.head_revision()
        assert s.papers.count_papers() == 50 and s.check() == []
    finally:
        s.close()
    # At head already: nothing to do and no backup taken.
    code, out = _run("db", "migrate", "--data-dir", str(data), "--database-url", store_url)
    assert code == 0 and "nothing to do" in out and "backup:" not in out


def test_migrate_without_backup_and_the_downgrade_path(store_url: str, tmp_path: Path) -> None:
    _old_database(store_url, n=12)
    data = tmp_path / "data"
    code, out = _run(
        "db", "migrate", "--no-backup", "--data-dir", str(data), "--database-url", store_url
    )
    assert code == 0 and "backup:" not in out, out
    assert not (data / "backups").exists()
    code, out = _run(
        "db", "migrate", "--revision", "0002", "--data-dir", str(data), "--database-url", store_url
    )
    assert code == 2 and "use `paperfeed db downgrade 0002`" in out
    code, out = _run(
        "db", "migrate", "--revision", "nope", "--data-dir", str(data), "--database-url", store_url
    )
    assert code == 2 and "unknown revision 'nope'; known: 0001, 0002" in out
    code, out = _run("db", "downgrade", "0001", "--backup-dir", str(tmp_path / "before-down"),
                     "--data-dir", str(data), "--database-url", store_url)
    assert code == 0, out
    assert "-> 0001" in out
    manifest = json.loads((tmp_path / "before-down" / "manifest.json").read_text())
    assert manifest["schema_revision"] != "0001" and manifest["tables"]["papers"]["rows"] == 12
    s = open_store(store_url, migrate=False)
    try:
        assert s.current_revision() == "0001"
        assert BackupRepository(s.engine).tables_with_rows()["papers"] == 12
    finally:
        s.close()


def test_production_refuses_to_migrate_on_the_fly(store_url: str, tmp_path: Path) -> None:
    import pytest

    from paperfeed.core.errors import ConfigError
    from paperfeed.delivery.common.context import open_context

    _old_database(store_url, n=3)
    prod: dict[str, Any] = {
        "env": "production",
        "data_dir": str(tmp_path / "data"),
        "database_url": store_url,
    }
    with pytest.raises(ConfigError, match="schema is at 0001.*run `paperfeed db migrate`"):
        open_context(**prod)
    s = open_store(store_url, migrate=False)
    try:
        assert s.current_revision() == "0001"  # untouched
    finally:
        s.close()
    code, out = _run(
        "db", "migrate", "--data-dir", str(tmp_path / "data"), "--database-url", store_url
    )
    assert code == 0, out
    open_context(**prod).close()  # at head now: opens


def test_backup_command_copies_an_old_schema_as_it_is(store_url: str, tmp_path: Path) -> None:
    _old_database(store_url, n=7)
    code, out = _run(
        "backup",
        str(tmp_path / "bk"),
        "--data-dir",
        str(tmp_path / "data"),
        "--database-url",
        store_url,
    )
    assert code == 0 and "schema 0001" in out, out
    s = open_store(store_url, migrate=False)
    try:
        assert s.current_revision() == "0001"  # a backup never migrates
    finally:
        s.close()
    code, out = _run(
        "backup",
        str(tmp_path / "bk"),
        "--data-dir",
        str(tmp_path / "data"),
        "--database-url",
        store_url,
    )
    assert code == 2 and "exists and is not an empty directory" in out
