"""Tables of issue 13 (migration 0009): lifecycle events of papers and who has had each alert."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Table, UniqueConstraint

from paperfeed.store.schema import metadata

EVENT_KINDS = ("new_version", "code_link", "journal_ref")
MAX_KEY = 500  # longer URLs / references are cut: the key identifies, the paper page has the rest

# Something that happened to a stored paper after its first ingest, written in the same transaction
# as the merge that caused it. Not in PAPER_REFERENCES: when a title-only row is absorbed into
# another paper its events go with it (ON DELETE CASCADE); only title-only rows are ever absorbed.
paper_events = Table(
    "paper_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("kind", String(16), nullable=False),  # new_version | code_link | journal_ref
    Column(
        "key", String(MAX_KEY), nullable=False
    ),  # the version number, the code URL, the DOI / reference
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    UniqueConstraint("paper_id", "kind", "key", name="uq_paper_events_paper_kind_key"),
)

# One row per (user, event, channel) once the alert was shown ('web') or mailed ('email'): the key
# makes a second showing as new, or a second mail, impossible.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "event_id",
        Integer,
        ForeignKey("paper_events.id", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
    Column("channel", String(8), primary_key=True),  # web | email
    Column(
        "delivery_id",
        Integer,
        ForeignKey("digest_deliveries.id", ondelete="CASCADE"),
        nullable=True,
        index=True,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
