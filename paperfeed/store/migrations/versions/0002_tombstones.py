"""Tombstones for papers merged away, so indexes can drop their stale text.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add paper_tombstones."""
    op.create_table(
        "paper_tombstones",
        sa.Column("paper_id", sa.Integer, primary_key=True),
        sa.Column("merged_into", sa.Integer, nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_paper_tombstones_deleted_at", "paper_tombstones", ["deleted_at"])


def downgrade() -> None:
    """Drop paper_tombstones."""
    op.drop_table("paper_tombstones")
