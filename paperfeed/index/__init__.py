"""Index layer: the lexical BM25 index and the paper vectors, built from the store, swapped
atomically.

See paperfeed.index.search_index for the files and who may write them.
"""

from __future__ import annotations

from paperfeed.index.search_index import SearchIndex, open_search_index

__all__ = ["SearchIndex", "open_search_index"]
