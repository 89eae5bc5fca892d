"""Backups, restores and copies of the database: snapshots, pg_dump/pg_restore, table checksums.

Table facts (row count + an order-independent SHA-256 of the rows' canonical form) compare equal
across SQLite and PostgreSQL, so a backup, a restore and `db copy` can all be verified table by
table. Datetimes are compared in UTC, dates as ISO strings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, MetaData, Table, func, insert, inspect, select, text
from sqlalchemy.engine import make_url

from paperfeed.core.errors import ConfigError
from paperfeed.store.schema import metadata as code_metadata

SKIP_TABLES = frozenset({"alembic_version"})
COPY_BATCH = 2000


@dataclass(frozen=True)
class TableFacts:
    """How many rows a table has and a checksum of their contents."""

    rows: int
    sha256: str

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {"rows": self.rows, "sha256": self.sha256}


def canonical(value: object) -> object:
    """One backend-independent form of a column value (UTC ISO datetimes, ISO dates)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def _for_insert(value: object) -> object:
    """Datetimes as aware UTC values, so neither backend shifts them by a session time zone."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    return value


def _reflect(conn: Connection) -> list[Table]:
    meta = MetaData()
    meta.reflect(conn)
    return [t for t in meta.sorted_tables if t.name not in SKIP_TABLES]


def table_facts(conn: Connection) -> dict[str, TableFacts]:
    """Rows and checksum of every table the database has (read through one connection)."""
    facts: dict[str, TableFacts] = {}
    for table in _reflect(conn):
        digests: list[bytes] = []
        cols = sorted(table.columns, key=lambda c: c.name)
        result = conn.execution_options(yield_per=5000).execute(select(*cols))
        for row in result:
            line = json.dumps([canonical(v) for v in row], ensure_ascii=False, default=str)
            digests.append(hashlib.sha256(line.encode("utf-8")).digest())
        digests.sort()  # order-independent: text keys sort differently on the two backends
        total = hashlib.sha256()
        for d in digests:
            total.update(d)
        facts[table.name] = TableFacts(len(digests), total.hexdigest())
    return facts


def facts_from_dict(data: Mapping[str, Any]) -> dict[str, TableFacts]:
    """Table facts read back from a manifest."""
    return {name: TableFacts(int(v["rows"]), str(v["sha256"])) for name, v in data.items()}


def sqlite_path(engine: Engine) -> Path:
    """The file of a SQLite engine."""
    database = engine.url.database
    if not database or database == ":memory:":
        raise ConfigError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database).expanduser()


def pg_tool(name: str) -> str:
    """The path of pg_dump / pg_restore, or a clear error naming the package to install."""
    found = shutil.which(name)
    if found is None:
        raise ConfigError(
            f"{name} not found on PATH: PostgreSQL backups need the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client; the major version must be at least "
            "the server's)"
        )
    return found


def _pg_conninfo(engine: Engine) -> tuple[list[str], dict[str, str]]:
    """libpq arguments and environment for an engine's database; the password only in the env."""
    url = engine.url
    args = []
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    args += ["--dbname", url.database or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


class BackupRepository:
    """The SQL of backups, restores and copies for one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def facts(self) -> dict[str, TableFacts]:
        """Rows and checksum of every table, from one consistent read."""
        with self.engine.connect() as conn:
            if self.backend == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                return table_facts(conn)

    def tables_with_rows(self) -> dict[str, int]:
        """Tables (other than Alembic's) that hold rows, with their counts."""
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for table in _reflect(conn):
                n = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                if n:
                    out[table.name] = n
        return out

    def pg_schema(self) -> str:
        """The schema a PostgreSQL connection works in: the first of its search_path."""
        with self.engine.connect() as conn:
            current = conn.execute(text("SELECT current_schema()")).scalar()
            if current:
                return str(current)
            path = str(conn.execute(text("SHOW search_path")).scalar() or "public")
        first = [p.strip().strip('"') for p in path.split(",") if p.strip() and "$user" not in p]
        return first[0] if first else "public"

    def ensure_schema(self) -> None:
        """Create the PostgreSQL schema the URL's search_path names, when it does not exist yet."""
        if self.backend != "postgresql":
            return
        schema = self.pg_schema()
        with self.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

    # ----- SQLite ----------------------------------------------------------------------------

    def sqlite_snapshot(self, dest: Path) -> dict[str, TableFacts]:
        """Copy the live database to `dest` with SQLite's online backup API; facts of the copy."""
        src = sqlite3.connect(str(sqlite_path(self.engine)), timeout=30)
        dst = sqlite3.connect(str(dest))
        try:
            src.execute("PRAGMA busy_timeout=30000")
            # One step (pages=-1): the copy is one consistent read; writers in WAL mode go on.
            src.backup(dst, pages=-1)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
            src.close()
        return facts_of_sqlite_file(dest)

    def sqlite_restore(self, src: Path) -> None:
        """Replace this SQLite database's contents with the file `src` (online backup API)."""
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        target_path = sqlite_path(self.engine)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        self.engine.dispose()
        target = sqlite3.connect(str(target_path), timeout=30)
        try:
            source.backup(target, pages=-1)
            target.execute("PRAGMA journal_mode=WAL")
        finally:
            target.close()
            source.close()

    # ----- PostgreSQL ------------------------------------------------------------------------

    def pg_dump(self, dest: Path) -> tuple[dict[str, TableFacts], str]:
        """pg_dump the current schema to `dest` (custom format) from one exported snapshot.

        The facts are read inside the very transaction whose snapshot pg_dump uses, so they describe
        exactly the rows in the dump even while the site keeps writing.
        """
        tool = pg_tool("pg_dump")
        schema = self.pg_schema()
        args, env = _pg_conninfo(self.engine)
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                cmd = [tool, *args, "--format=custom", "--no-owner", "--no-privileges",
                       f"--schema={schema}", f"--snapshot={snapshot}", f"--file={dest}"]
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise ConfigError(f"pg_dump failed: {done.stderr.strip()[-2000:]}")
                facts = table_facts(conn)
        return facts, schema

    def pg_restore(self, src: Path, schema: str) -> None:
        """pg_restore a dump of `schema` into this database (which must work in that schema)."""
        tool = pg_tool("pg_restore")
        target = self.pg_schema()
        if target != schema:
            raise ConfigError(
                f"the backup holds PostgreSQL schema {schema!r} but the target database works in "
                f"{target!r} (its search_path); pg_restore cannot rename schemas: restore into a "
                f"database whose search_path is {schema!r}"
            )
        args, env = _pg_conninfo(self.engine)
        listing = subprocess.run(
            [tool, "--list", str(src)], env=env, capture_output=True, text=True, check=False
        )
        if listing.returncode != 0:
            raise ConfigError(f"pg_restore cannot read {src}: {listing.stderr.strip()[-2000:]}")
        # The schema exists already (created above, or public): restore everything but it.
        keep = [line for line in listing.stdout.splitlines() if " SCHEMA - " not in line]
        toc = src.parent / f".{src.name}.toc"
        try:
            toc.write_text("\n".join(keep) + "\n", encoding="utf-8")
            cmd = [
                tool,
                *args,
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--use-list={toc}",
                str(src),
            ]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        finally:
            toc.unlink(missing_ok=True)
        if done.returncode != 0:
            raise ConfigError(f"pg_restore failed: {done.stderr.strip()[-2000:]}")

    # ----- both ------------------------------------------------------------------------------

    def drop_all(self) -> None:
        """Drop every table (Alembic's too): what `restore --force` does before restoring."""
        with self.engine.begin() as conn:
            meta = MetaData()
            meta.reflect(conn)
            if self.backend == "postgresql":
                for table in meta.tables.values():
                    conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
            else:
                conn.execute(text("PRAGMA foreign_keys=OFF"))
                meta.drop_all(conn)

    def copy_from(self, source: Engine, batch: int = COPY_BATCH) -> dict[str, int]:
        """Copy every table of this code's schema from `source` (same schema revision) into here."""
        copied: dict[str, int] = {}
        with source.connect() as src_conn:
            if source.dialect.name == "postgresql":
                src_conn = src_conn.execution_options(isolation_level="REPEATABLE READ")
            with src_conn.begin(), self.engine.begin() as dst_conn:
                found = inspect(src_conn)
                present = set(found.get_table_names())
                for table in code_metadata.sorted_tables:
                    if table.name not in present:
                        continue
                    # an older schema (a restore at its own revision) may lack newer columns
                    have = {c["name"] for c in found.get_columns(table.name)}
                    n = 0
                    for rows in _batches(src_conn, table, batch, have):
                        dst_conn.execute(insert(table), rows)
                        n += len(rows)
                    copied[table.name] = n
                if self.backend == "postgresql":
                    _reset_sequences(dst_conn)
        return copied


def _batches(
    conn: Connection, table: Table, size: int, have: set[str]
) -> Iterator[list[dict[str, object]]]:
    cols = [c for c in table.columns if c.name in have]
    names = [c.name for c in cols]
    result = conn.execution_options(yield_per=size).execute(select(*cols))
    for part in result.partitions(size):
        yield [{k: _for_insert(v) for k, v in zip(names, row, strict=True)} for row in part]


def _reset_sequences(conn: Connection) -> None:
    """After rows with explicit ids went in, serial sequences continue after the largest id."""
    for table in code_metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not pk[0].autoincrement or str(pk[0].type) != "INTEGER":
            continue
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": table.name, "c": pk[0].name}).scalar()
        if seq:
            conn.execute(
                text(
                    f'SELECT setval(:s, COALESCE((SELECT MAX("{pk[0].name}") FROM '
                    f'"{table.name}"), 0) + 1, false)'
                ),
                {"s": seq},
            )


def readonly_sqlite(path: Path) -> Engine:
    """An engine over a SQLite file (a backup) that cannot write to it."""
    from sqlalchemy import create_engine

    return create_engine(make_url(f"sqlite:///file:{path}?mode=ro&uri=true"))


def facts_of_sqlite_file(path: Path) -> dict[str, TableFacts]:
    """Table facts of a SQLite file (a backup), opened read-only."""
    engine = readonly_sqlite(path)
    try:
        with engine.connect() as conn:
            return table_facts(conn)
    finally:
        engine.dispose()


def schema_revision_of_sqlite_file(path: Path) -> str | None:
    """The Alembic revision recorded in a SQLite file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return str(row[0]) if row else None


def _script() -> ScriptDirectory:
    from paperfeed.store.db import _alembic_config

    return ScriptDirectory.from_config(_alembic_config(None))


def known_revision(revision: str | None) -> bool:
    """Whether this code's migrations include `revision` (None: an empty database)."""
    if revision is None:
        return True
    try:
        return _script().get_revision(revision) is not None
    except CommandError:
        return False


def revisions() -> list[str]:
    """This code's migrations, oldest first."""
    return [r.revision for r in reversed(list(_script().walk_revisions()))]


def newest_revision() -> str:
    """The head migration of this code."""
    return str(_script().get_current_head())
