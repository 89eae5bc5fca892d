"""Use cases for running paperfeed in production: backup, restore, safe migrations, `db copy`.

A backup is a directory:
  manifest.json      format, paperfeed version, backend, schema revision, per-table rows and
                     SHA-256, and the SHA-256 of every file below
  database.sqlite3   (SQLite: a copy made with the online backup API) or
  database.pgdump    (PostgreSQL: pg_dump custom format of the current schema)
  index/             the search index (lexical segments + vectors), when one exists

The index is copied (under its writers' locks) *before* the database snapshot, so it is never
ahead of the database; restore puts it back and the incremental refresh catches up the changes
made between the two copies (or, with `rebuild_index`, rebuilds the lexical part). The model
cache (<data_dir>/models) is not included: it is rebuilt from the installed package on first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paperfeed import __version__
from paperfeed.core.errors import BadRequest, ConfigError
from paperfeed.core.settings import Settings
from paperfeed.index import open_search_index
from paperfeed.index.snapshot import replace_index, snapshot_index
from paperfeed.store import Store, open_store
from paperfeed.store.backup import (
    BackupRepository,
    TableFacts,
    facts_from_dict,
    known_revision,
    newest_revision,
    readonly_sqlite,
    revisions,
    schema_revision_of_sqlite_file,
)

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"


@dataclass
class BackupReport:
    """What a backup wrote."""

    path: Path
    manifest: dict[str, Any]
    seconds: float


@dataclass
class RestoreReport:
    """What a restore did."""

    schema_from: str | None
    schema_now: str | None
    tables: dict[str, TableFacts]
    index: str
    seconds: float


@dataclass
class MigrateReport:
    """What `db migrate` / `db downgrade` did."""

    before: str | None
    after: str | None
    backup: Path | None
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextlib.contextmanager
def _private_umask() -> Iterator[None]:
    """Files and folders made meanwhile (also by sqlite3 and pg_dump) are 0600/0700 from the first
    byte.

    A backup holds emails and password/token hashes (#21 F5). The umask is per process, so this is
    only used by the backup jobs (CLI, migrations), never inside a web request.
    """
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _make_private(root: Path) -> None:
    """0700 folders and 0600 files under root (copies such as the index keep their source's
    mode)."""
    os.chmod(root, 0o700)
    for path in root.rglob("*"):
        if not path.is_symlink():
            os.chmod(path, 0o700 if path.is_dir() else 0o600)


def create_backup(
    settings: Settings, store: Store, dest: Path, include_index: bool = True
) -> BackupReport:
    """Write a consistent backup of the database (and index) to the new directory `dest` (0700,
    files 0600)."""
    with _private_umask():
        return _create_backup(settings, store, dest, include_index)


def _create_backup(
    settings: Settings, store: Store, dest: Path, include_index: bool
) -> BackupReport:
    started = time.monotonic()
    dest = dest.expanduser()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BadRequest(f"backup destination {dest} exists and is not an empty directory")
    tmp = dest.parent / f".{dest.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True, mode=0o700)
    try:
        index = "none"
        if include_index and snapshot_index(settings.data_path / "index", tmp / "index"):
            index = "included"
        repo = BackupRepository(store.engine)
        revision = store.current_revision()
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "paperfeed_version": __version__,
            "created_at": _now(),
            "backend": repo.backend,
            "schema_revision": revision,
        }
        if repo.backend == "sqlite":
            facts = repo.sqlite_snapshot(tmp / SQLITE_FILE)
            manifest["database_file"] = SQLITE_FILE
            # The revision of the copy itself (a migration could have run between the two reads).
            manifest["schema_revision"] = schema_revision_of_sqlite_file(tmp / SQLITE_FILE)
        else:
            facts, schema = repo.pg_dump(tmp / PG_FILE)
            manifest["database_file"] = PG_FILE
            manifest["pg_schema"] = schema
        manifest["tables"] = {name: f.as_dict() for name, f in sorted(facts.items())}
        manifest["index"] = index
        manifest["model_cache"] = "not included: rebuilt from the installed package on first use"
        manifest["files"] = {
            str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        _make_private(tmp)
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BackupReport(dest, manifest, time.monotonic() - started)


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of a backup directory, checked for its format and the files it names."""
    path = src.expanduser() / MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRequest(f"{src} is not a paperfeed backup: no {MANIFEST}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise BadRequest(f"cannot read {path}: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BadRequest(
            f"{path}: backup format {manifest.get('format')!r}; this paperfeed reads {FORMAT}"
        )
    for rel, digest in manifest.get("files", {}).items():
        file = src / rel
        if not file.is_file():
            raise BadRequest(f"backup {src} is incomplete: {rel} is missing")
        if _sha256(file) != digest:
            raise BadRequest(
                f"backup {src} is damaged: the checksum of {rel} does not match the manifest"
            )
    return manifest


def restore_backup(settings: Settings, src: Path, force: bool = False, rebuild_index: bool = False,
                   migrate: bool = True) -> RestoreReport:
    """Restore a backup into the database and data directory `settings` name.

    Refuses a schema newer than this code knows, and a target that holds data unless `force`. Every
    table's rows and checksum are compared with the manifest before anything else runs.
    """
    started = time.monotonic()
    src = src.expanduser()
    manifest = read_manifest(src)
    revision = manifest.get("schema_revision")
    if not known_revision(revision):
        raise BadRequest(
            f"the backup's schema {revision!r} is newer than this paperfeed knows "
            f"(newest: {newest_revision()}): upgrade paperfeed first"
        )
    expected = facts_from_dict(manifest.get("tables", {}))
    settings.data_path.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.db_url, migrate=False)
    try:
        repo = BackupRepository(store.engine)
        repo.ensure_schema()
        held = repo.tables_with_rows()
        if held and not force:
            listed = ", ".join(f"{t} ({n})" for t, n in sorted(held.items()))
            raise BadRequest(
                f"the target database is not empty: {listed}; restore into an empty one or pass "
                "--force"
            )
        backend = manifest.get("backend")
        if backend != repo.backend and not (backend == "sqlite" and repo.backend == "postgresql"):
            raise BadRequest(
                f"the backup is of a {backend} database and the target is {repo.backend}: restore "
                "it "
                "into a PostgreSQL database, then move with `paperfeed db copy SRC_URL DST_URL`"
            )
        repo.drop_all()
        database_file = src / str(manifest["database_file"])
        if backend == "sqlite" and repo.backend == "sqlite":
            repo.sqlite_restore(database_file)
        elif backend == "sqlite":
            _restore_sqlite_into(store, database_file, revision)
        else:
            repo.pg_restore(database_file, str(manifest.get("pg_schema", "public")))
        got = repo.facts()
        _compare(expected, got, "restored")
        if migrate:
            store.migrate()
        index = _restore_index(settings, store, src, manifest, rebuild_index)
        return RestoreReport(
            revision, store.current_revision(), got, index, time.monotonic() - started
        )
    finally:
        store.close()


def _restore_sqlite_into(store: Store, database_file: Path, revision: str | None) -> None:
    """A SQLite backup into PostgreSQL: build its schema revision there and copy the rows."""
    source = readonly_sqlite(database_file)
    try:
        if revision:
            store.migrate(revision)
        BackupRepository(store.engine).copy_from(source)
    finally:
        source.dispose()


def _compare(expected: dict[str, TableFacts], got: dict[str, TableFacts], what: str) -> None:
    bad = []
    for name in sorted(set(expected) | set(got)):
        want, have = expected.get(name), got.get(name)
        if want != have:
            w = f"{want.rows} rows" if want else "absent"
            h = f"{have.rows} rows" if have else "absent"
            bad.append(
                f"{name}: expected {w}, {what} {h}"
                + (" (contents differ)" if want and have and want.rows == have.rows else "")
            )
    if bad:
        raise ConfigError(f"{what} data does not match the backup: " + "; ".join(bad))


def _restore_index(
    settings: Settings, store: Store, src: Path, manifest: dict[str, Any], rebuild: bool
) -> str:
    root = settings.data_path / "index"
    if manifest.get("index") == "included" and not rebuild:
        replace_index(src / "index", root)
        how = "restored from the backup, refreshed"
    else:
        if root.exists():
            shutil.rmtree(root)
        how = "rebuilt (lexical); vectors wait for `paperfeed index build`"
    if store.current_revision() != store.head_revision():
        return how + " later (schema not at head)"
    index = open_search_index(settings, store)
    if how.startswith("rebuilt"):
        index.build(embed=False)
    else:
        index.refresh()
    return how


# ----- migrations ------------------------------------------------------------------------------


def _counts(store: Store) -> dict[str, int]:
    repo = BackupRepository(store.engine)
    return {name: f.rows for name, f in repo.facts().items()}


def default_backup_dir(settings: Settings, label: str) -> Path:
    """Where `db migrate` puts its safety copy: <data_dir>/backups/<label>-<UTC time>."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return settings.data_path / "backups" / f"{label}-{stamp}"


def migrate_with_backup(
    settings: Settings,
    store: Store,
    revision: str = "head",
    backup: bool = True,
    backup_dir: Path | None = None,
    downgrade: bool = False,
) -> MigrateReport:
    """Back up, move the schema to `revision` (up, or down with `downgrade`), then verify row
    counts.

    Every table that exists before must hold as many rows after; a table the migration drops (a
    downgrade past its creation) is reported, not silently accepted, unless downgrading.
    """
    before = store.current_revision()
    if not known_revision(before):
        raise BadRequest(
            f"the database is at schema {before!r}, newer than this paperfeed knows: upgrade "
            "paperfeed"
        )
    target = newest_revision() if revision == "head" else revision
    if not known_revision(target):
        raise BadRequest(f"unknown revision {revision!r}; known: {', '.join(revisions())}")
    going_down = before is not None and target != before and _is_ancestor(target, before)
    if going_down and not downgrade:
        raise BadRequest(
            f"{target} is older than the database's {before}: use `paperfeed db downgrade {target}`"
        )
    if downgrade and not going_down:
        raise BadRequest(f"{target} is not older than the database's schema {before}")
    report = MigrateReport(before=before, after=before, backup=None)
    if target == before:
        return report
    report.counts_before = _counts(store) if before else {}
    if backup and any(report.counts_before.values()):
        path = backup_dir or default_backup_dir(
            settings, f"pre-{'downgrade' if downgrade else 'migrate'}-{before}"
        )
        report.backup = create_backup(settings, store, path).path
    try:
        if downgrade:
            store.downgrade(target)
        else:
            store.migrate(target)
    except NotImplementedError as exc:
        raise ConfigError(f"migration cannot be undone: {exc}") from None
    report.after = store.current_revision()
    report.counts_after = _counts(store)
    lost = [
        f"{t}: {n} -> {report.counts_after.get(t, 'dropped')}"
        for t, n in report.counts_before.items()
        if report.counts_after.get(t) != n and not (downgrade and t not in report.counts_after)
    ]
    if lost:
        where = (
            f"; the data before is in {report.backup} (`paperfeed restore {report.backup} --force`)"
            if report.backup
            else ""
        )
        raise ConfigError("row counts changed during the migration: " + ", ".join(lost) + where)
    return report


def _is_ancestor(older: str, newer: str) -> bool:
    """Whether `older` comes before `newer` in the migration chain."""
    order = revisions()
    return order.index(older) < order.index(newer)


# ----- db copy ---------------------------------------------------------------------------------


def copy_database(
    src_url: str, dst_url: str, force: bool = False
) -> tuple[dict[str, TableFacts], float]:
    """Copy every table from one database to another (SQLite <-> PostgreSQL), then verify them."""
    started = time.monotonic()
    src = open_store(src_url, migrate=False)
    dst: Store | None = None
    try:
        if src.current_revision() != src.head_revision():
            raise BadRequest(
                f"the source is at schema {src.current_revision()}, this paperfeed at "
                f"{src.head_revision()}: "
                "run `paperfeed db migrate` on the source first"
            )
        dst = open_store(dst_url, migrate=False)
        repo = BackupRepository(dst.engine)
        repo.ensure_schema()
        held = repo.tables_with_rows()
        if held and not force:
            listed = ", ".join(f"{t} ({n})" for t, n in sorted(held.items()))
            raise BadRequest(f"the destination is not empty: {listed}; pass --force to replace it")
        repo.drop_all()
        dst.migrate()
        repo.copy_from(src.engine)
        want = BackupRepository(src.engine).facts()
        got = repo.facts()
        _compare(want, got, "copied")
        return got, time.monotonic() - started
    finally:
        src.close()
        if dst is not None:
            dst.close()
