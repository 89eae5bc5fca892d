"""The seams other layers type against: what index and ranking read, what one repository needs of
another."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from paperfeed.core.models import IngestCounts, Paper


class PaperWriter(Protocol):
    """Merging papers inside a caller's transaction (the followed-sources repository commits its
    cursor in the same one)."""

    def write_papers(
        self, conn: Connection, records: Sequence[Paper], now: datetime
    ) -> IngestCounts:
        """Merge records inside the caller's transaction."""
        ...


class PaperReader(Protocol):
    """What the search index reads: counts, batches, changes since a watermark."""

    def count_papers(self) -> int:
        """How many papers are stored."""
        ...

    def get_papers(self, ids: Sequence[int]) -> dict[int, Paper]:
        """Papers by id (missing ids are absent)."""
        ...

    def iter_papers(
        self, updated_since: datetime | None = None, batch: int = 5000
    ) -> Iterator[Paper]:
        """Every paper (changed since `updated_since`), in batches."""
        ...

    def iter_index_papers(
        self, updated_since: datetime | None = None, batch: int = 5000
    ) -> Iterator[Paper]:
        """Papers with only what the search index reads, in id order."""
        ...

    def removed_since(self, since: datetime | None) -> list[int]:
        """Ids of papers removed (merged away) since `since`."""
        ...

    def last_change(self) -> datetime | None:
        """When a paper last changed (None when empty)."""
        ...


class PaperHolder(Protocol):
    """Anything holding a paper reader as `papers` (the Store does)."""

    @property
    def papers(self) -> PaperReader:
        """The paper repository."""
        ...
