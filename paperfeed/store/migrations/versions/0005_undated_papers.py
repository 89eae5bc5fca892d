"""Undated papers: papers.day becomes nullable, and a paper whose day was only its first sighting
(no featured day, no publication date) loses that invented day.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_DAY_NOT_NULL = re.compile(r'(\bday"?\s+DATE)\s+NOT NULL', re.IGNORECASE)


def _sqlite_set_day_nullable(nullable: bool) -> None:
    """Change only the NOT NULL of papers.day in SQLite's stored schema.

    SQLite cannot ALTER a column, and the usual table copy drops `papers`, which with foreign keys
    on deletes every vote, collection entry and digest item by cascade. Adding or removing NOT NULL
    changes nothing on disk, so SQLite documents editing the schema text for it
    (sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes").
    """
    conn = op.get_bind()
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'papers'"
    ).scalar_one()
    if nullable:
        new_sql = _DAY_NOT_NULL.sub(r"\1", sql)
    else:
        new_sql = re.sub(
            r'(\bday"?\s+DATE)(?!\s+NOT NULL)', r"\1 NOT NULL", sql, count=1, flags=re.IGNORECASE
        )
    if new_sql == sql:
        return
    version = int(conn.exec_driver_sql("PRAGMA schema_version").scalar_one())
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'papers'"),
        {"sql": new_sql},
    )
    conn.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    """Make papers.day nullable and clear the days that were only first sightings."""
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_set_day_nullable(True)
    else:
        op.alter_column("papers", "day", existing_type=sa.Date, nullable=True)
    op.execute("UPDATE papers SET day = NULL WHERE featured_on IS NULL AND published IS NULL")


def downgrade() -> None:
    """Give undated papers their first-seen day again and make papers.day required."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE papers SET day = date(first_seen_at) WHERE day IS NULL")
        _sqlite_set_day_nullable(False)
    else:
        op.execute("UPDATE papers SET day = CAST(first_seen_at AS DATE) WHERE day IS NULL")
        op.alter_column("papers", "day", existing_type=sa.Date, nullable=False)
