"""Live sources: followed sources with their cursor and health, Hugging Face upvote history, and the
paper fields the real responses carry (DOI, journal reference, license, affiliations, announcement
day, withdrawn flag, Hugging Face comment count).

Revision ID: 0006
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
_PAPER_COLUMNS = (
    ("doi", sa.Text),
    ("journal_ref", sa.Text),
    ("license", sa.Text),
    ("announced_on", sa.Date),
    ("external_comments", sa.Integer),
)


def upgrade() -> None:
    """Add the paper fields and the source tables."""
    for name, kind in _PAPER_COLUMNS:
        op.add_column("papers", sa.Column(name, kind, nullable=True))
    op.add_column("papers", sa.Column("withdrawn", sa.Integer, nullable=False, server_default="0"))
    op.add_column("papers", sa.Column("affiliations", sa.Text, nullable=False, server_default="[]"))
    op.create_table(
        "followed_sources",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False, server_default="{}"),
        sa.Column("origin", sa.String(16), nullable=False, server_default="database"),
        sa.Column("enabled", sa.Integer, nullable=False, server_default="1"),
        sa.Column("cursor", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_run_at", TZ, nullable=True),
        sa.Column("last_success_at", TZ, nullable=True),
        sa.Column("last_error_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_counts", sa.Text, nullable=False, server_default="{}"),
        sa.Column("papers_brought", sa.Integer, nullable=False, server_default="0"),
        sa.Column("newest_day", sa.Date, nullable=True),
        sa.Column("lease_holder", sa.String(160), nullable=True),
        sa.Column("lease_until", TZ, nullable=True),
    )
    op.create_table(
        "upvote_history",
        sa.Column(
            "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("observed_at", TZ, primary_key=True),
        sa.Column("upvotes", sa.Integer, nullable=False),
        sa.Column("comments", sa.Integer, nullable=True),
    )


def downgrade() -> None:
    """Drop the source tables and the paper fields."""
    op.drop_table("upvote_history")
    op.drop_table("followed_sources")
    # Plain ALTER TABLE DROP COLUMN (SQLite >= 3.35): a batch rebuild of `papers` would cascade
    # its DROP TABLE into every table that references papers.
    for name in ("affiliations", "withdrawn", *(n for n, _ in reversed(_PAPER_COLUMNS))):
        op.execute(f"ALTER TABLE papers DROP COLUMN {name}")
