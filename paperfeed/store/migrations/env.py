"""Alembic environment: paperfeed passes the connection in config.attributes."""

from __future__ import annotations

from alembic import context

from paperfeed.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
)
with context.begin_transaction():
    context.run_migrations()
