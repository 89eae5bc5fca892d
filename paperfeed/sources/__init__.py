"""Sources: one module per source, each a pure parser plus a thin fetcher; this is their registry.

Every reader yields `Paper | RecordError`: a bad record is reported with its location
('file:line' or 'url#n') and the rest go on. Problems with the input as a whole (a missing file,
an empty one, an unknown format) raise BadRequest before anything is read; a remote source that
fails for good raises SourceError.
"""

from __future__ import annotations

from paperfeed.sources.formats import (
    FORMATS,
    detect_bytes,
    detect_format,
    parse_bytes,
    read_records,
)
from paperfeed.sources.remote import fetch_records

__all__ = [
    "FORMATS",
    "detect_bytes",
    "detect_format",
    "fetch_records",
    "parse_bytes",
    "read_records",
]
