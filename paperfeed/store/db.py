"""Opening a database, migrating it, checking it: the Store every other layer talks to."""

from __future__ import annotations

import importlib.util
import os
import stat
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

from paperfeed.core.errors import ConfigError
from paperfeed.store.alerts import AlertRepo
from paperfeed.store.authors import AuthorRepo
from paperfeed.store.collections import CollectionRepo
from paperfeed.store.comments import CommentRepo
from paperfeed.store.deliveries import DeliveryRepo
from paperfeed.store.groups import GroupRepo
from paperfeed.store.leases import LeaseRepo
from paperfeed.store.papers import PaperRepo
from paperfeed.store.profiles import ProfileRepo
from paperfeed.store.runs import RunRepo
from paperfeed.store.security import SecurityRepo
from paperfeed.store.sources import SourceRepo
from paperfeed.store.submissions import SubmissionRepo
from paperfeed.store.subscriptions import SubscriptionRepo
from paperfeed.store.users import UserRepo
from paperfeed.store.votes import VoteRepo

_MIGRATIONS = Path(__file__).parent / "migrations"


def _normalise_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain postgresql:// URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        if importlib.util.find_spec("psycopg") is None:
            raise ConfigError("PostgreSQL needs the driver: pip install 'paperfeed[postgres]'")
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600; SQLite gives -wal/-shm the same
    mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR))
    except FileExistsError:
        pass
    except OSError:
        return  # a read-only place: SQLite will say what is wrong


def create_db_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    try:
        parsed = make_url(_normalise_url(url))
    except ArgumentError:
        raise ConfigError(
            f"database_url {url!r} is not a database URL (e.g. sqlite:///path.db)"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database).expanduser())
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True)
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}; valid: sqlite, postgresql"
    )


def _alembic_config(engine_conn: Connection | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = engine_conn
    return cfg


class Store:
    """All storage I/O over SQLAlchemy Core for SQLite and PostgreSQL: one Store composed of small
    repositories, one per file, each an attribute (store.papers, store.runs, store.users, ...); the
    Store itself keeps only the database's lifecycle (migrations, checks, closing)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.papers = PaperRepo(engine)
        self.runs = RunRepo(engine)
        self.users = UserRepo(engine)
        self.votes = VoteRepo(engine)
        self.collections = CollectionRepo(engine)
        self.submissions = SubmissionRepo(engine)
        self.subscriptions = SubscriptionRepo(engine)
        self.deliveries = DeliveryRepo(engine)
        self.leases = LeaseRepo(engine)
        self.comments = CommentRepo(engine)
        self.authors = AuthorRepo(engine)
        self.groups = GroupRepo(engine)
        self.sources = SourceRepo(engine, self.papers)
        self.alerts = AlertRepo(engine)
        self.profiles = ProfileRepo(engine)
        self.security = SecurityRepo(engine)

    @property
    def backend(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def head_revision(self) -> str:
        """The newest migration this code knows."""
        script = ScriptDirectory.from_config(_alembic_config(None))
        head = script.get_current_head()
        assert head is not None  # the package always ships migrations
        return head

    def current_revision(self) -> str | None:
        """The migration the database is at (None when empty)."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` (default: the newest)."""
        self._run_migrations(command.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        """Downgrade the schema to `revision`."""
        self._run_migrations(command.downgrade, revision)

    def _run_migrations(self, step: Callable[[Config, str], None], revision: str) -> None:
        with self.engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # Batch mode rebuilds a SQLite table by copy and DROP; with foreign keys on, that
                # DROP
                # deletes every row that references the table (votes of dropped `users`). The pragma
                # is a no-op inside a transaction, so it is set before; integrity is checked after.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    step(_alembic_config(conn), revision)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise ConfigError(
                                f"migration to {revision} left {len(broken)} rows with a missing "
                                f"parent (first: {tuple(broken[0])}); restore the backup taken "
                                f"before it (paperfeed db migrate takes one)"
                            )
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()

    def needs_migration(self) -> bool:
        """Whether the database is behind this code's schema."""
        return self.current_revision() != self.head_revision()

    def check(self) -> list[str]:
        """Run integrity checks; return the problems found (empty when healthy)."""
        problems: list[str] = []
        with self.engine.connect() as conn:
            if self.backend == "sqlite":
                result = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
                if result != ["ok"]:
                    problems.extend(f"sqlite integrity: {r}" for r in result)
                fk = list(conn.execute(text("PRAGMA foreign_key_check")))
                if fk:
                    problems.append(f"{len(fk)} rows break foreign keys")
            if "papers" not in inspect(conn).get_table_names():
                return problems + ["no papers table: run `paperfeed db migrate`"]
        if self.needs_migration():
            problems.append(
                f"schema at {self.current_revision()}, code expects {self.head_revision()}: "
                "run `paperfeed db migrate`"
            )
        problems.extend(self.papers.check_papers())
        return problems

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()


def open_store(url: str, migrate: bool = True) -> Store:
    """Open the database at `url`, migrating it to the newest schema unless told not to."""
    store = Store(create_db_engine(url))
    if migrate:
        try:
            store.migrate()
        except OperationalError as exc:
            store.close()
            raise ConfigError(f"cannot open database {url}: {exc.orig}") from None
    return store
