"""Backup and restore time for the 75k-paper store on SQLite and PostgreSQL.

python benchmarks/backup.py ../shared/data/arxiv-74k.jsonl.gz [--postgres
postgresql://postgres@127.0.0.1:5432/test]

Ingests the file into a fresh store per backend, builds the lexical index (vectors are left out:
embedding 75k papers takes ~27 minutes and is not what this measures), then times `create_backup`
and `restore_backup` (restore includes checking every table's checksum and the index refresh) and
prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from paperfeed.core.settings import load_settings
from paperfeed.delivery.app.backups import create_backup, restore_backup
from paperfeed.delivery.app.ingest import ingest_targets
from paperfeed.index import open_search_index
from paperfeed.store import open_store
from paperfeed.store.backup import BackupRepository, _pg_conninfo, pg_tool, sqlite_path


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(backend: str, source: Path, work: Path, pg_url: str) -> dict[str, object]:
    """One backend: ingest, index, back up, restore into an empty target; the timings."""
    cleanup: list[str] = []
    if backend == "sqlite":
        url = f"sqlite:///{work / 'src' / 'paperfeed.db'}"
        target_url = f"sqlite:///{work / 'dst' / 'paperfeed.db'}"
    else:
        schema = f"pf_bench_{uuid.uuid4().hex[:8]}"
        sep = "&" if "?" in pg_url else "?"
        url = f"{pg_url}{sep}options=-csearch_path%3D{schema}"
        db = f"pf_bench_restore_{uuid.uuid4().hex[:8]}"
        admin = create_engine(
            pg_url.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            conn.execute(text(f'CREATE DATABASE "{db}"'))
        cleanup = [f'DROP SCHEMA "{schema}" CASCADE', f'DROP DATABASE "{db}" WITH (FORCE)']
        target_url = f"{pg_url.rsplit('/', 1)[0]}/{db}?options=-csearch_path%3D{schema}"
    try:
        settings = load_settings({"data_dir": str(work / "src"), "database_url": url}, environ={})
        store = open_store(url)
        t0 = time.perf_counter()
        report = ingest_targets(store, settings, [str(source)])
        ingest_s = time.perf_counter() - t0
        open_search_index(settings, store).build(embed=False)
        backup = create_backup(settings, store, work / "backup")
        repo = BackupRepository(store.engine)
        t0 = time.perf_counter()
        repo.facts()  # the manifest's pass: every row of every table, canonical form, SHA-256
        facts_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if backend == "sqlite":  # the online backup API alone, no checksums
            src, dst = (
                sqlite3.connect(str(sqlite_path(store.engine))),
                sqlite3.connect(str(work / "raw.sqlite3")),
            )
            src.backup(dst, pages=-1)
            src.close()
            dst.close()
            raw_s = time.perf_counter() - t0
        else:
            args, env = _pg_conninfo(store.engine)
            subprocess.run(
                [
                    pg_tool("pg_dump"),
                    *args,
                    "--format=custom",
                    f"--schema={repo.pg_schema()}",
                    f"--file={work / 'raw.pgdump'}",
                ],
                env=env,
                check=True,
            )
            raw_s = time.perf_counter() - t0
        store.close()
        target = load_settings(
            {"data_dir": str(work / "dst"), "database_url": target_url}, environ={}
        )
        restored = restore_backup(target, work / "backup")
        db_file = work / "backup" / str(backup.manifest["database_file"])
        return {
            "backend": backend,
            "papers": report.counts.new,
            "ingest_s": ingest_s,
            "backup_s": backup.seconds,
            "restore_s": restored.seconds,
            "facts_s": facts_s,
            "raw_s": raw_s,
            "db_mb": db_file.stat().st_size / 2**20,
            "total_mb": _size(work / "backup") / 2**20,
        }
    finally:
        if cleanup:
            with admin.connect() as conn:
                for stmt in cleanup:
                    conn.execute(text(stmt))
            admin.dispose()


def main() -> None:
    """Parse arguments, run each backend, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path)
    parser.add_argument(
        "--postgres", default="", help="PostgreSQL URL (a fresh schema and database are made)"
    )
    args = parser.parse_args()
    rows = []
    for backend in ["sqlite"] + (["postgresql"] if args.postgres else []):
        work = Path(tempfile.mkdtemp(prefix=f"pf-bench-backup-{backend}-"))
        try:
            rows.append(run(backend, args.source, work, args.postgres))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(rows[-1], file=sys.stderr)
    print("| backend | papers | backup (s) | restore (s) | of which one checksum pass (s) | "
          "raw copy alone (s) | database file (MiB) | backup with index (MiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['papers']:,} | {r['backup_s']:.1f} | {r['restore_s']:.1f} | "
              f"{r['facts_s']:.1f} | {r['raw_s']:.1f} | {r['db_mb']:.0f} | {r['total_mb']:.0f} |")


if __name__ == "__main__":
    main()
