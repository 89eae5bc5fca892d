"""Facts every arXiv parser derives the same way: withdrawn papers, DOIs, the announcement day."""

from __future__ import annotations

import re
from datetime import date

from paperfeed.sources.fields import squash

# arXiv's own wording for a withdrawal ("This paper has been withdrawn by the author(s) ..."), in the
# comment or, for old records, as the whole abstract; "withdrawn" alone as the comment too.
_WITHDRAWN = re.compile(
    r"\b(?:this|the)\s+(?:paper|article|submission|manuscript|preprint|work)\s+(?:has\s+been|is|was)\s+withdrawn\b"
    r"|^\s*withdrawn\b",
    re.IGNORECASE,
)
_DOI = re.compile(r"\b(10\.\d{4,9}/\S+)", re.IGNORECASE)
# A new paper's OAI datestamp is its announcement: within this many days after its v1 was created.
ANNOUNCE_WINDOW_DAYS = 7


def is_withdrawn(comment: str | None, abstract: str | None = None) -> bool:
    """Whether arXiv's comment (or abstract) says the paper was withdrawn."""
    # The substring test first: the regex costs ~0.2 ms on a long abstract, the test microseconds.
    return any(
        _WITHDRAWN.search(text)
        for text in (comment or "", abstract or "")
        if text and ("ithdr" in text or "ITHDR" in text)
    )


def doi_of(text: str | None) -> str | None:
    """The first DOI in a field ('10.1103/X', 'doi:10.1103/X', 'https://doi.org/10.1103/X')."""
    if not text:
        return None
    m = _DOI.search(text)
    return m.group(1).rstrip(".,;") if m else None


def announced_from_datestamp(stamp: date | None, created: date | None, version: int | None) -> date | None:
    """The announcement day an OAI datestamp tells: only for a first version stamped soon after creation.

    A record is re-stamped whenever its metadata changes, so a datestamp says "announced" only for
    a v1 whose creation day lies at most ANNOUNCE_WINDOW_DAYS before it.
    """
    if stamp is None or created is None or (version or 1) != 1:
        return None
    return stamp if 0 <= (stamp - created).days <= ANNOUNCE_WINDOW_DAYS else None


def clean_license(text: str | None) -> str | None:
    """The license URL without arXiv's surrounding whitespace; None when empty."""
    return squash(text or "") or None
