"""Fields people read that were lost (issue 20): every DOI (a JSON list, the main one first),
Hugging Face's project page, organisation (id and full name), GitHub stars and one-line AI summary.

New nullable columns (dois defaults to '[]'): no table is rebuilt, existing rows stay as they are
until a source brings the fields again.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_NULLABLE = (
    ("project_page", sa.Text),
    ("organization", sa.Text),
    ("organization_name", sa.Text),
    ("github_stars", sa.Integer),
    ("ai_summary", sa.Text),
)


def upgrade() -> None:
    """Add the columns."""
    op.add_column("papers", sa.Column("dois", sa.Text, nullable=False, server_default="[]"))
    for name, kind in _NULLABLE:
        op.add_column("papers", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Drop them again."""
    # Plain ALTER TABLE DROP COLUMN (SQLite >= 3.35), as 0006 does: a batch rebuild of `papers`
    # would cascade its DROP TABLE into every table that references papers.
    for name in (*(n for n, _ in reversed(_NULLABLE)), "dois"):
        op.execute(f"ALTER TABLE papers DROP COLUMN {name}")
