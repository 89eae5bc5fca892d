"""Bounds of stored ids: every id column is a 32-bit integer on PostgreSQL (int4)."""

from __future__ import annotations

MAX_ID = 2**31 - 1


def is_db_id(value: int) -> bool:
    """Whether value can be a stored id (1 .. 2**31 - 1)."""
    return 1 <= value <= MAX_ID
