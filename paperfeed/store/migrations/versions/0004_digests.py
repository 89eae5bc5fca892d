"""Digest subscriptions: settings, saved searches, followed categories and authors, feedback, the
delivery log (one row per user and period), the papers each user was sent, worker leases.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SECTIONS = '["trending", "searches", "categories", "authors", "recommended"]'


def _user_fk() -> sa.Column[int]:
    return sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


def upgrade() -> None:
    """Create the digest tables."""
    op.create_table(
        "subscriptions",
        _user_fk(),
        sa.Column("frequency", sa.String(8), nullable=False, server_default="daily"),
        sa.Column("send_hour", sa.Integer, nullable=False, server_default="7"),
        sa.Column("weekday", sa.Integer, nullable=False, server_default="0"),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("max_papers", sa.Integer, nullable=False, server_default="20"),
        sa.Column("sections", sa.Text, nullable=False, server_default=SECTIONS),
        sa.Column("active", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("author", sa.String(200), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_saved_searches_user_id", "saved_searches", ["user_id"])
    op.create_table(
        "followed_categories",
        _user_fk(),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "followed_authors",
        _user_fk(),
        sa.Column("author", sa.String(200), primary_key=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "digest_feedback",
        _user_fk(),
        sa.Column(
            "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("signal", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_digest_feedback_paper_id", "digest_feedback", ["paper_id"])
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("window_start", TZ, nullable=True),
        sa.Column("window_end", TZ, nullable=False),
        sa.Column("items", sa.Text, nullable=False, server_default="[]"),
        sa.Column("n_papers", sa.Integer, nullable=False, server_default="0"),
        sa.Column("gap_days", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(160), nullable=True),
        sa.Column("claimed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.UniqueConstraint("user_id", "period", name="uq_digest_deliveries_user_period"),
    )
    op.create_index(
        "ix_digest_deliveries_status", "digest_deliveries", ["status", "next_attempt_at"]
    )
    op.create_table(
        "digest_items",
        _user_fk(),
        sa.Column(
            "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "delivery_id",
            sa.Integer,
            sa.ForeignKey("digest_deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("section", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_digest_items_paper_id", "digest_items", ["paper_id"])
    op.create_index("ix_digest_items_delivery_id", "digest_items", ["delivery_id"])
    op.create_table(
        "worker_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(160), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("last_run_at", TZ, nullable=True),
    )


def downgrade() -> None:
    """Drop the digest tables."""
    for name in ("worker_leases", "digest_items", "digest_deliveries", "digest_feedback",
                 "followed_authors", "followed_categories", "saved_searches", "subscriptions"):
        op.drop_table(name)
