"""Lifecycle alerts: paper_events (a new version, a code link, a journal reference or DOI that
appeared on a stored paper) and alert_deliveries (which user saw or was mailed which event).

Existing subscriptions get the new digest sections of issue 13, "alerts" and "rising" (emerging
topics in the user's categories; it needs no table), as new subscriptions do. New tables only: no
table is rebuilt.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
_NEW_SECTIONS = ("alerts", "rising")


def _sections(change: str) -> None:
    conn = op.get_bind()
    subs = sa.table(
        "subscriptions", sa.column("user_id", sa.Integer), sa.column("sections", sa.Text)
    )
    for uid, raw in conn.execute(sa.select(subs.c.user_id, subs.c.sections)).all():
        sections = json.loads(raw or "[]")
        if change == "add":
            new = [*sections, *(s for s in _NEW_SECTIONS if s not in sections)]
        else:
            new = [s for s in sections if s not in _NEW_SECTIONS]
        if new == sections:
            continue
        conn.execute(sa.update(subs).where(subs.c.user_id == uid).values(sections=json.dumps(new)))


def upgrade() -> None:
    """Create paper_events and alert_deliveries; enable the alerts and rising sections."""
    op.create_table(
        "paper_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "paper_id", sa.Integer, sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("paper_id", "kind", "key", name="uq_paper_events_paper_kind_key"),
    )
    op.create_index("ix_paper_events_paper_id", "paper_events", ["paper_id"])
    op.create_index("ix_paper_events_created_at", "paper_events", ["created_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column(
            "user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "event_id",
            sa.Integer,
            sa.ForeignKey("paper_events.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("channel", sa.String(8), primary_key=True),
        sa.Column(
            "delivery_id",
            sa.Integer,
            sa.ForeignKey("digest_deliveries.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_index("ix_alert_deliveries_event_id", "alert_deliveries", ["event_id"])
    op.create_index("ix_alert_deliveries_delivery_id", "alert_deliveries", ["delivery_id"])
    _sections("add")


def downgrade() -> None:
    """Drop the alert tables and the alerts and rising sections."""
    _sections("remove")
    op.drop_table("alert_deliveries")
    op.drop_table("paper_events")
