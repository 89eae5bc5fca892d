"""Alembic migrations, run programmatically by paperfeed.store.db.migrate."""
