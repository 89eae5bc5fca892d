"""Bounds of stored ids: every id column is a 32-bit integer on PostgreSQL (int4)."""

from __future__ import annotations

MAX_ID = 2**31 - 1
