"""Backup while writes go on, restore into an empty data dir, and the refusals (both backends)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from paperfeed.core.errors import BadRequest, ConfigError
from paperfeed.core.settings import Settings, load_settings, with_overrides
from paperfeed.delivery.app.backups import create_backup, restore_backup
from paperfeed.delivery.app.ingest import ingest_targets
from paperfeed.index import open_search_index
from paperfeed.store import Store, open_store
from paperfeed.store.backup import BackupRepository, facts_from_dict
from tests._ops_fixtures import empty_database_like, pg_schema_url, seed, write_jsonl

__all__ = ["pg_schema_url"]


def _settings_for(tmp_path: Path, name: str, url: str) -> Settings:
    return load_settings({"data_dir": str(tmp_path / name), "database_url": url}, environ={})


def test_backup_while_votes_and_an_ingest_run_then_restore(store: Store, settings: Settings,
                                                           store_url: str, tmp_path: Path) -> None:
    ids = seed(store, papers=80, users=4)
    open_search_index(settings, store).build(embed=False)
    voters = [
        store.users.create_user(f"voter{i}", f"voter{i}@example.org", "hash").id for i in range(3)
    ]
    feed = write_jsonl(tmp_path / "incoming.jsonl", 0, 1500)
    stop = threading.Event()
    errors: list[BaseException] = []
    votes_written = [0]

    def vote_load() -> None:  # bounded: each voter votes every paper once at most
        try:
            for uid in voters:
                for pid in ids:
                    if stop.is_set():
                        return
                    store.votes.add_vote(uid, pid)
                    votes_written[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def ingest() -> None:
        try:
            ingest_targets(store, with_overrides(settings, ingest_batch_size=100), [str(feed)])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=vote_load), threading.Thread(target=ingest)]
    for t in threads:
        t.start()
    while votes_written[0] < 20:  # the backup starts while both writers are busy
        threading.Event().wait(0.01)
    report = create_backup(settings, store, tmp_path / "backup")
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest == report.manifest
    assert manifest["schema_revision"] == store.head_revision()
    assert manifest["backend"] == store.backend
    assert manifest["index"] == "included"
    tables = manifest["tables"]
    assert {"papers", "votes", "users", "ingest_runs", "digest_deliveries"} <= set(tables)
    assert 80 <= tables["papers"]["rows"] <= 80 + 1500
    # The votes in the copy are a consistent subset of what was written by the end.
    assert 20 <= tables["votes"]["rows"] <= BackupRepository(store.engine).facts()["votes"].rows
    for rel, digest in manifest["files"].items():
        assert (tmp_path / "backup" / rel).is_file() and len(digest) == 64

    with empty_database_like(store_url, tmp_path) as target_url:
        target = _settings_for(tmp_path, "restored-data", target_url)
        restored = restore_backup(target, tmp_path / "backup")
        assert restored.schema_now == store.head_revision()
        assert "restored from the backup" in restored.index
        fresh = open_store(target_url, migrate=False)
        try:
            got = BackupRepository(fresh.engine).facts()
            assert got == facts_from_dict(tables)  # every table: same rows, same checksum
            index = open_search_index(target, fresh)
            assert index.status()["papers_indexed"] == tables["papers"]["rows"]
        finally:
            fresh.close()


def test_restore_refuses_a_non_empty_target_unless_forced(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    ids = seed(store, papers=20, users=2)
    create_backup(settings, store, tmp_path / "bk")
    late = store.users.create_user("late", "late@example.org", "hash")
    store.votes.add_vote(late.id, ids[0])
    with pytest.raises(BadRequest, match="not empty: .*papers \\(20\\)"):
        restore_backup(settings, tmp_path / "bk")
    assert store.users.get_user_by_name("late") is not None  # nothing was touched
    restore_backup(settings, tmp_path / "bk", force=True, rebuild_index=True)
    again = open_store(settings.db_url)
    try:
        assert again.users.get_user_by_name("late") is None and again.papers.count_papers() == 20
    finally:
        again.close()


def test_restore_refuses_a_newer_schema_and_a_damaged_copy(store: Store, settings: Settings,
                                                           store_url: str, tmp_path: Path) -> None:
    seed(store, papers=5, users=1)
    create_backup(settings, store, tmp_path / "bk", include_index=False)
    manifest_path = tmp_path / "bk" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    with empty_database_like(store_url, tmp_path) as target_url:
        target = _settings_for(tmp_path, "t", target_url)
        manifest_path.write_text(json.dumps({**manifest, "schema_revision": "9999"}))
        with pytest.raises(BadRequest, match="schema '9999' is newer than this paperfeed knows"):
            restore_backup(target, tmp_path / "bk")
        manifest_path.write_text(json.dumps(manifest))
        db_file = tmp_path / "bk" / manifest["database_file"]
        data = bytearray(db_file.read_bytes())
        data[len(data) // 2] ^= 0xFF
        db_file.write_bytes(bytes(data))
        with pytest.raises(BadRequest, match="damaged"):
            restore_backup(target, tmp_path / "bk")
    with pytest.raises(BadRequest, match="exists and is not an empty directory"):
        create_backup(settings, store, tmp_path / "bk")


def test_postgres_backup_names_the_missing_tool(store: Store, settings: Settings, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if store.backend != "postgresql":
        pytest.skip("pg_dump is only used for PostgreSQL")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="pg_dump not found on PATH.*postgresql-client"):
        create_backup(settings, store, tmp_path / "bk")
    assert not (tmp_path / "bk").exists() and not (tmp_path / ".bk.partial").exists()


def test_a_sqlite_backup_restores_into_postgres(tmp_path: Path, pg_schema_url: str) -> None:
    src_settings = _settings_for(tmp_path, "src", f"sqlite:///{tmp_path / 'src.db'}")
    src = open_store(src_settings.db_url)
    try:
        seed(src, papers=40, users=3)
        create_backup(src_settings, src, tmp_path / "bk")
    finally:
        src.close()
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    target = _settings_for(tmp_path, "pg", pg_schema_url)
    report = restore_backup(target, tmp_path / "bk")
    assert report.tables == facts_from_dict(manifest["tables"])
    pg = open_store(pg_schema_url, migrate=False)
    try:
        assert pg.backend == "postgresql" and pg.papers.count_papers() == 40
        # sequences moved on
        assert pg.users.create_user("after", "after@example.org", "hash").id > 3
    finally:
        pg.close()
