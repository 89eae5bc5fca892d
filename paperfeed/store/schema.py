"""Table definitions (SQLAlchemy Core).

Migrations in migrations/versions create and change them.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

papers = Table(
    "papers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("arxiv_id", String(32), unique=True, nullable=True),
    Column("version", Integer, nullable=True),
    Column("title", Text, nullable=False),
    Column("title_key", Text, nullable=False, index=True),
    Column("abstract", Text, nullable=False, server_default=""),
    Column("authors", Text, nullable=False, server_default="[]"),  # JSON list, in order
    Column("categories", Text, nullable=False, server_default="[]"),  # JSON list, primary first
    Column("primary_category", String(32), nullable=True, index=True),
    Column("published", Date, nullable=True),
    Column("updated", Date, nullable=True),
    Column("comment", Text, nullable=True),
    Column("abs_url", Text, nullable=True),
    Column("pdf_url", Text, nullable=True),
    Column("code_url", Text, nullable=True),
    Column("featured_on", Date, nullable=True),
    Column("external_upvotes", Integer, nullable=True),
    # featured_on, announced_on or published; NULL: undated (0005)
    Column("day", Date, nullable=True, index=True),
    # migration 0006 (live sources)
    Column("doi", Text, nullable=True),
    Column("journal_ref", Text, nullable=True),
    Column("license", Text, nullable=True),
    Column("announced_on", Date, nullable=True),
    Column("external_comments", Integer, nullable=True),
    Column("withdrawn", Integer, nullable=False, server_default="0"),
    Column("affiliations", Text, nullable=False, server_default="[]"),  # JSON: a list per author
    # migration 0010 (every field kept)
    Column("dois", Text, nullable=False, server_default="[]"),  # JSON list, the main DOI first
    Column("project_page", Text, nullable=True),
    Column("organization", Text, nullable=True),
    Column("organization_name", Text, nullable=True),
    Column("github_stars", Integer, nullable=True),
    Column("ai_summary", Text, nullable=True),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    Column("content_hash", String(40), nullable=False),
    # One paper per normalised title among papers that have no arXiv id yet.
    Index(
        "ux_papers_title_key_no_arxiv",
        "title_key",
        unique=True,
        sqlite_where=text("arxiv_id IS NULL"),
        postgresql_where=text("arxiv_id IS NULL"),
    ),
)

paper_versions = Table(
    "paper_versions",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Column("source", String(32), nullable=False),
)

paper_sources = Table(
    "paper_sources",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),  # running | ok | failed
    Column("new", Integer, nullable=False, server_default="0"),
    Column("updated", Integer, nullable=False, server_default="0"),
    Column("unchanged", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=True),
)

# Papers that disappeared (a title-keyed paper merged into its arXiv record): indexes drop them.
paper_tombstones = Table(
    "paper_tombstones",
    metadata,
    Column("paper_id", Integer, primary_key=True),
    Column("merged_into", Integer, nullable=True),
    Column("deleted_at", DateTime(timezone=True), nullable=False, index=True),
)

# (table, column) pairs that point at papers.id; merging one paper into another moves them.
# Tables added by later migrations append themselves here.
PAPER_REFERENCES: list[tuple[Table, str]] = []

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("email_verified_at", DateTime(timezone=True), nullable=True),  # migration 0008
    sqlite_autoincrement=True,  # ids are never reused (migration 0011, #21 F7)
)

votes = Table(
    "votes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("is_public", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,  # ids are never reused (migration 0011, #21 F7)
)

collection_papers = Table(
    "collection_papers",
    metadata,
    Column(
        "collection_id", Integer, ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "paper_id",
        Integer,
        ForeignKey("papers.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("added_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("expires_at", DateTime(timezone=True), nullable=True),  # NULL: tokens made before 0007
    Column("scope", String(16), nullable=False, server_default="write"),  # read | write
)

# Papers submitted by arXiv id while the source was unreachable, fetched later.
submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("arxiv_id", String(32), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # queued | done | failed
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="SET NULL"), nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

PAPER_REFERENCES.extend(
    [(votes, "paper_id"), (collection_papers, "paper_id"), (submissions, "paper_id")]
)

# ----- digests (migration 0004) -------------------------------------------------------------------

DEFAULT_SECTIONS = '["trending", "searches", "categories", "authors", "recommended"]'

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("frequency", String(8), nullable=False, server_default="daily"),  # daily | weekly
    Column("send_hour", Integer, nullable=False, server_default="7"),  # local hour, 0..23
    Column("weekday", Integer, nullable=False, server_default="0"),  # weekly digests: 0 = Monday
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("max_papers", Integer, nullable=False, server_default="20"),
    # JSON list, enabled ones
    Column("sections", Text, nullable=False, server_default=DEFAULT_SECTIONS),
    Column("active", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

saved_searches = Table(
    "saved_searches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("name", String(200), nullable=False),
    Column("query", Text, nullable=False),
    Column("category", String(64), nullable=True),
    Column("author", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

followed_categories = Table(
    "followed_categories",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("category", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

followed_authors = Table(
    "followed_authors",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("author", String(200), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# "More like this" (+1) and "less like this" (-1) from digest links: examples for recommendations.
digest_feedback = Table(
    "digest_feedback",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "paper_id",
        Integer,
        ForeignKey("papers.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("signal", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per (user, digest period): the claim, the selection, and the delivery state machine
# composing -> ready -> sending -> data_end -> sent (or retry / failed / empty / unconfirmed).
digest_deliveries = Table(
    "digest_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("period", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message_id", String(255), nullable=True),
    Column("recipient", String(320), nullable=True),
    Column("window_start", DateTime(timezone=True), nullable=True),
    Column("window_end", DateTime(timezone=True), nullable=False),
    # JSON: [{paper_id, section, reason}]
    Column("items", Text, nullable=False, server_default="[]"),
    Column("n_papers", Integer, nullable=False, server_default="0"),
    Column("gap_days", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("claimed_by", String(160), nullable=True),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("user_id", "period", name="uq_digest_deliveries_user_period"),
    Index("ix_digest_deliveries_status", "status", "next_attempt_at"),
)

# Every paper a user was sent: a paper appears at most once across all of a user's digests.
digest_items = Table(
    "digest_items",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "paper_id",
        Integer,
        ForeignKey("papers.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column(
        "delivery_id",
        Integer,
        ForeignKey("digest_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("section", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Named leases (`paperfeed worker` ingest): one holder at a time, taken over once expired.
worker_leases = Table(
    "worker_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(160), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
)

PAPER_REFERENCES.extend([(digest_feedback, "paper_id"), (digest_items, "paper_id")])

# Server-side browser sessions: the cookie carries a random id, only its SHA-256 is stored, and
# deleting the row ends the session (logout, "log out everywhere", password change or reset).
sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column(
        "user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("user_agent", String(200), nullable=False, server_default=""),
)

# Failed log-ins per account (key "user:<id>"): the next attempt waits 2**(failures - free) seconds.
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", DateTime(timezone=True), nullable=False),
)

# ----- live sources (migration 0006) --------------------------------------------------------------

# A source the workers follow: kind (arxiv | arxiv-oai | hf-daily), its parameters (JSON), where the
# last harvest stopped (cursor, JSON, committed with the papers it brought) and its health.
followed_sources = Table(
    "followed_sources",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("params", Text, nullable=False, server_default="{}"),
    Column("origin", String(16), nullable=False, server_default="database"),  # database | settings
    Column("enabled", Integer, nullable=False, server_default="1"),
    Column("cursor", Text, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_run_at", DateTime(timezone=True), nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    Column("last_error_at", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_counts", Text, nullable=False, server_default="{}"),
    Column("papers_brought", Integer, nullable=False, server_default="0"),
    Column("newest_day", Date, nullable=True),  # the newest paper day the source has brought
    # The harvest lock: one holder at a time across machines, renewed with every committed page.
    Column("lease_holder", String(160), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
)

# Hugging Face upvotes (and comments) each time a paper was read and they had changed: a paper's
# upvote chart.
upvote_history = Table(
    "upvote_history",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("observed_at", DateTime(timezone=True), primary_key=True),
    Column("upvotes", Integer, nullable=False),
    Column("comments", Integer, nullable=True),
)

PAPER_REFERENCES.append((upvote_history, "paper_id"))
