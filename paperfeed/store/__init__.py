"""Store layer: the only code that touches SQL."""

from __future__ import annotations

from paperfeed.store.db import Store, create_db_engine, open_store
from paperfeed.store.runs import IngestRun

__all__ = ["IngestRun", "Store", "create_db_engine", "open_store"]
