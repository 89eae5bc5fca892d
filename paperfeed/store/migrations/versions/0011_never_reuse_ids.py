"""Ids are never reused (issue 21, F7), and shares of collections whose owner left a lab go (F1).

On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT hands a deleted row's id (the largest) to
the next insert: a deleted account's unsubscribe link then unsubscribes the next account, and its
device cookie vouches for it. `users`, `collections` and `groups` are rebuilt WITH AUTOINCREMENT
(SQLite then keeps the highest id ever used in sqlite_sequence). The copy is safe: migrations run
with foreign keys off and are checked with foreign_key_check after (store/db.py). PostgreSQL's
sequences never go back, so there only the shares are cleaned.

A shared collection was readable through the lab after its owner left (F1): the rows of shares
whose collection owner is no longer a member of the lab are deleted, as leaving now does.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TABLES = ("users", "collections", "groups")


def _rebuild(table: str, autoincrement: bool) -> None:
    with op.batch_alter_table(
        table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    """Rebuild the id tables with AUTOINCREMENT on SQLite; drop shares that outlived membership."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for table in _TABLES:
            _rebuild(table, True)
    gc = sa.table("group_collections", sa.column("group_id"), sa.column("collection_id"))
    colls = sa.table("collections", sa.column("id"), sa.column("user_id"))
    members = sa.table("group_members", sa.column("group_id"), sa.column("user_id"))
    owner_is_member = (
        sa.select(members.c.user_id)
        .select_from(members.join(colls, colls.c.user_id == members.c.user_id))
        .where(sa.and_(colls.c.id == gc.c.collection_id, members.c.group_id == gc.c.group_id))
        .exists()
    )
    conn.execute(sa.delete(gc).where(sa.not_(owner_is_member)))


def downgrade() -> None:
    """Rebuild the tables without AUTOINCREMENT (the deleted shares stay deleted)."""
    if op.get_bind().dialect.name == "sqlite":
        for table in _TABLES:
            _rebuild(table, False)
