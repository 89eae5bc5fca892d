"""Tables of issue 12 (migration 0008): comments, reports, notification reads, authorship claims."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from paperfeed.store.schema import PAPER_REFERENCES, metadata

comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column(
        "parent_id",
        Integer,
        ForeignKey("comments.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("body", Text, nullable=False),  # Markdown source; rendered and sanitised on output
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("edited_at", DateTime(timezone=True), nullable=True),
    # soft delete keeps replies threaded
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("hidden_at", DateTime(timezone=True), nullable=True),
    Column("hidden_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("hidden_reason", Text, nullable=True),
    # A group-only comment: only the group's members see it (NULL: everyone).
    Column(
        "group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), nullable=True, index=True
    ),
    Index("ix_comments_paper_id", "paper_id", "id"),
)

comment_reports = Table(
    "comment_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("comment_id", "user_id", name="uq_comment_reports_comment_user"),
)

notification_reads = Table(
    "notification_reads",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# A user's claim to be one of a paper's authors: pending until an admin confirms it, or confirmed
# at once when the verified email domain is named in the paper's comment or an affiliation.
paper_claims = Table(
    "paper_claims",
    metadata,
    # (paper, user) is the key, so merging two papers keeps one claim per user (see _repoint).
    Column(
        "paper_id",
        Integer,
        ForeignKey("papers.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
    Column("author", Text, nullable=False),  # the name on the paper, as listed
    Column("status", Text, nullable=False),  # pending | confirmed | rejected
    Column("method", Text, nullable=False),  # admin | email-domain
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)

# ----- labs (groups) -----

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("is_private", Integer, nullable=False, server_default="1"),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,  # ids are never reused (migration 0011, #21 F7)
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
    Column("role", String(16), nullable=False),  # owner | admin | member
    Column("digest", Integer, nullable=False, server_default="1"),  # weekly group digest on/off
    Column("joined_at", DateTime(timezone=True), nullable=False),
)

group_invites = Table(
    "group_invites",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("token_hash", String(64), nullable=False, unique=True),
    # NULL: a link anyone holding it may use until it expires
    Column("email", String(320), nullable=True),
    Column("role", String(16), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

group_collections = Table(
    "group_collections",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "collection_id",
        Integer,
        ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("shared_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("shared_at", DateTime(timezone=True), nullable=False),
)

# One row per (group, member, ISO week) whose weekly group digest was sent (or failed for good).
group_digest_sends = Table(
    "group_digest_sends",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("week", String(16), primary_key=True),
    Column("status", String(16), nullable=False),  # sending | sent | failed
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

PAPER_REFERENCES.extend([(comments, "paper_id"), (paper_claims, "paper_id")])
