"""Discussion, authors, labs and verified email: comments (threaded, soft-deleted, hideable by
admins, optionally group-only), reports, notification reads, authorship claims, groups with members,
invites, shared collections and weekly digest sends, users.email_verified_at.

Existing subscriptions get the new "discussion" digest section. Existing accounts start
unverified: no mail but the verification link reaches them until they confirm their address.

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the discussion tables, add users.email_verified_at, enable the discussion section."""
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("is_private", sa.Integer, nullable=False, server_default="1"),
        sa.Column(
            "created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "group_members",
        sa.Column(
            "group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("digest", sa.Integer, nullable=False, server_default="1"),
        sa.Column("joined_at", TZ, nullable=False),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    op.create_table(
        "group_invites",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_group_invites_token_hash"),
    )
    op.create_index("ix_group_invites_group_id", "group_invites", ["group_id"])
    op.create_table(
        "group_collections",
        sa.Column(
            "group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "collection_id",
            sa.Integer,
            sa.ForeignKey("collections.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "shared_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("shared_at", TZ, nullable=False),
    )
    op.create_index("ix_group_collections_collection_id", "group_collections", ["collection_id"])
    op.create_table(
        "group_digest_sends",
        sa.Column(
            "group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("week", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "parent_id", sa.Integer, sa.ForeignKey("comments.id", ondelete="CASCADE"), nullable=True
        ),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("edited_at", TZ, nullable=True),
        sa.Column("deleted_at", TZ, nullable=True),
        sa.Column("hidden_at", TZ, nullable=True),
        sa.Column(
            "hidden_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("hidden_reason", sa.Text, nullable=True),
        sa.Column(
            "group_id", sa.Integer, sa.ForeignKey("groups.id", ondelete="CASCADE"), nullable=True
        ),
    )
    op.create_index("ix_comments_group_id", "comments", ["group_id"])
    op.create_index("ix_comments_paper_id", "comments", ["paper_id", "id"])
    op.create_index("ix_comments_parent_id", "comments", ["parent_id"])
    op.create_index("ix_comments_created_at", "comments", ["created_at"])
    op.create_index("ix_comments_user_id", "comments", ["user_id"])
    op.create_table(
        "comment_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "comment_id",
            sa.Integer,
            sa.ForeignKey("comments.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("resolved_at", TZ, nullable=True),
        sa.UniqueConstraint("comment_id", "user_id", name="uq_comment_reports_comment_user"),
    )
    op.create_table(
        "notification_reads",
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("seen_at", TZ, nullable=False),
    )
    op.create_table(
        "paper_claims",
        sa.Column(
            "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("decided_at", TZ, nullable=True),
    )
    op.create_index("ix_paper_claims_paper_id", "paper_claims", ["paper_id"])
    op.create_index("ix_paper_claims_user_id", "paper_claims", ["user_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_verified_at", TZ, nullable=True))
    conn = op.get_bind()
    subs = sa.table(
        "subscriptions", sa.column("user_id", sa.Integer), sa.column("sections", sa.Text)
    )
    for uid, raw in conn.execute(sa.select(subs.c.user_id, subs.c.sections)).all():
        sections = json.loads(raw or "[]")
        if "discussion" not in sections:
            conn.execute(sa.update(subs).where(subs.c.user_id == uid)
                         .values(sections=json.dumps([*sections, "discussion"])))


def downgrade() -> None:
    """Drop the discussion tables and the verification column."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_verified_at")
    for name in (
        "paper_claims",
        "notification_reads",
        "comment_reports",
        "comments",
        "group_digest_sends",
        "group_collections",
        "group_invites",
        "group_members",
        "groups",
    ):
        op.drop_table(name)
