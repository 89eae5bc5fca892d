"""Papers, their versions and sources, and ingest runs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the first tables."""
    op.create_table(
        "papers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("arxiv_id", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("title_key", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False, server_default=""),
        sa.Column("authors", sa.Text, nullable=False, server_default="[]"),
        sa.Column("categories", sa.Text, nullable=False, server_default="[]"),
        sa.Column("primary_category", sa.String(32), nullable=True),
        sa.Column("published", sa.Date, nullable=True),
        sa.Column("updated", sa.Date, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("abs_url", sa.Text, nullable=True),
        sa.Column("pdf_url", sa.Text, nullable=True),
        sa.Column("code_url", sa.Text, nullable=True),
        sa.Column("featured_on", sa.Date, nullable=True),
        sa.Column("external_upvotes", sa.Integer, nullable=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("first_seen_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("content_hash", sa.String(40), nullable=False),
        sa.UniqueConstraint("arxiv_id", name="uq_papers_arxiv_id"),
    )
    op.create_index("ix_papers_title_key", "papers", ["title_key"])
    op.create_index("ix_papers_primary_category", "papers", ["primary_category"])
    op.create_index("ix_papers_day", "papers", ["day"])
    op.create_index("ix_papers_updated_at", "papers", ["updated_at"])
    op.create_index(
        "ux_papers_title_key_no_arxiv",
        "papers",
        ["title_key"],
        unique=True,
        sqlite_where=sa.text("arxiv_id IS NULL"),
        postgresql_where=sa.text("arxiv_id IS NULL"),
    )
    op.create_table(
        "paper_versions",
        sa.Column(
            "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("seen_at", TZ, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_table(
        "paper_sources",
        sa.Column(
            "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("source", sa.String(32), primary_key=True),
        sa.Column("first_seen_at", TZ, nullable=False),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("new", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=True),
    )


def downgrade() -> None:
    """Drop the first tables."""
    for name in ("ingest_runs", "paper_sources", "paper_versions", "papers"):
        op.drop_table(name)
