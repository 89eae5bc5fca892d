"""A small in-process cache for rendered pages, feeds and rankings.

Entries are keyed by the caller's key plus a data stamp (see VoteStore.community_stamp in
store/votes.py), so a write in any worker process changes the stamp and every worker recomputes; the
time-to-live bounds staleness for what the stamp does not cover (the search index).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class TTLCache:
    """A bounded LRU of values that expire after `ttl` seconds."""

    def __init__(self, ttl: float, max_entries: int = 512) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value for `key`, computing (outside the lock) and storing it when absent."""
        now = time.monotonic()
        if self.ttl > 0:
            with self._lock:
                hit = self._data.get(key)
                if hit is not None and hit[0] > now:
                    self._data.move_to_end(key)
                    return hit[1]  # type: ignore[no-any-return]
        value = compute()
        if self.ttl > 0:
            with self._lock:
                self._data[key] = (now + self.ttl, value)
                self._data.move_to_end(key)
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        """Drop everything (after a write in this process)."""
        with self._lock:
            self._data.clear()


class Stamp:
    """The store's data stamp, re-read at most every `every` seconds (and at once after a local
    write)."""

    def __init__(self, read: Callable[[], Hashable], every: float = 0.5) -> None:
        self._read = read
        self.every = every
        self._value: Hashable = None
        self._until = 0.0
        self._lock = threading.Lock()

    def get(self) -> Hashable:
        """The current stamp."""
        now = time.monotonic()
        with self._lock:
            if now < self._until:
                return self._value
        value = self._read()
        with self._lock:
            self._value, self._until = value, now + self.every
        return value

    def invalidate(self) -> None:
        """Force the next get() to read the store."""
        with self._lock:
            self._until = 0.0
