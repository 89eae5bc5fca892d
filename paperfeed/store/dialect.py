"""The one place an INSERT differs between SQLite and PostgreSQL: ON CONFLICT (skip, or update)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_or_ignore(bind: Connection | Engine, table: Table) -> Insert:
    """An INSERT that skips rows whose key exists (concurrent writers never fail on each other)."""
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(
    bind: Connection | Engine,
    table: Table,
    values: Mapping[str, object],
    keys: Sequence[str],
    changes: Mapping[str, object],
) -> Insert:
    """One atomic INSERT of `values` that, when the row with the same `keys` exists, sets `changes`
    instead."""
    if bind.dialect.name == "postgresql":
        pg = postgresql.insert(table).values(dict(values))
        return pg.on_conflict_do_update(index_elements=list(keys), set_=dict(changes))
    lite = sqlite.insert(table).values(dict(values))
    return lite.on_conflict_do_update(index_elements=list(keys), set_=dict(changes))
