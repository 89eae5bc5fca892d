"""Frozen dataclasses for the things paperfeed stores and passes between layers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

from paperfeed.core.rules import DIGEST_SECTIONS

_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(?:v(\d+))?$")
_ARXIV_OLD = re.compile(r"^([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v(\d+))?$")
_ARXIV_IN_TEXT = re.compile(
    r"(?:arxiv\.org/(?:abs|pdf|html)/|arxiv:|huggingface\.co/papers/)?"
    r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)


def split_arxiv_id(raw: str) -> tuple[str, int | None]:
    """Split 'ID[vN]' into the bare id and its version; raise ValueError when it is no arXiv id."""
    text = raw.strip()
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        m = pattern.match(text)
        if m:
            return m.group(1), int(m.group(2)) if m.group(2) else None
    raise ValueError(f"not an arXiv id: {raw!r} (expected e.g. 2503.11731 or hep-th/9901001v2)")


def parse_arxiv_ref(text: str) -> tuple[str, int | None]:
    """Find an arXiv id in an id, 'arXiv:ID' or an arxiv.org / huggingface.co URL."""
    stripped = text.strip().removesuffix(".pdf")
    m = _ARXIV_IN_TEXT.search(stripped)
    if not m:
        raise ValueError(
            f"no arXiv id in {text!r} (expected an id like 2503.11731 or an arxiv.org URL)"
        )
    return split_arxiv_id(m.group(1))


def normalise_title(title: str) -> str:
    """Fold a title to a key that equal titles share: NFKC, casefold, letters and digits only."""
    text = unicodedata.normalize("NFKC", title).casefold()
    text = re.sub(r"[^\w]+", " ", text)
    return " ".join(text.split())


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace (arXiv's hard line breaks included) to single spaces."""
    return " ".join(text.split())


@dataclass(frozen=True)
class Paper:
    """A paper as a source reports it or as the store holds it (then `id` is set)."""

    title: str
    abstract: str = ""
    arxiv_id: str | None = None
    version: int | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # primary first
    published: date | None = None
    updated: date | None = None
    comment: str | None = None
    abs_url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = None  # the source's own code link, else one found in the text
    project_url: str | None = None  # a project page found in the text (Hugging Face, github.io)
    source: str = ""  # where this record came from: "arxiv-api", "hf-daily", "jsonl", ...
    featured_on: date | None = None  # day Hugging Face Daily Papers featured it
    external_upvotes: int | None = None  # upvotes on Hugging Face, an outside signal
    doi: str | None = None
    journal_ref: str | None = None
    license: str | None = None  # the license URL arXiv states
    announced_on: date | None = None  # the day arXiv announced (listed) it
    withdrawn: bool = False  # the authors withdrew it: kept, shown as withdrawn, left out of feeds
    # per author, in author order (empty when unknown)
    affiliations: tuple[tuple[str, ...], ...] = ()
    external_comments: int | None = None  # comments on Hugging Face
    dois: tuple[str, ...] = ()  # every DOI the source gives, the main one (`doi`) first
    project_page: str | None = None  # the source's own project page (Hugging Face projectPage)
    organization: str | None = None  # Hugging Face organisation id ("nvidia")
    organization_name: str | None = None  # its full name ("NVIDIA")
    github_stars: int | None = None  # stars of the code repository, as Hugging Face reports them
    ai_summary: str | None = None  # Hugging Face's one-line AI summary (never the abstract)
    id: int | None = None
    first_seen_at: datetime | None = None
    sources: tuple[str, ...] = field(default=(), compare=False)
    versions: tuple[int, ...] = field(default=(), compare=False)

    @property
    def title_key(self) -> str:
        """The normalised title used to merge records that have no arXiv id."""
        return normalise_title(self.title)

    @property
    def primary_category(self) -> str | None:
        """The first (primary) arXiv category, if any."""
        return self.categories[0] if self.categories else None

    @property
    def day(self) -> date | None:
        """The day the paper belongs to in daily listings (featured, else announced, else v1 date);
        None when unknown (an undated paper).

        Never the day it was first seen: a paper whose day is unknown is kept out of the day lists
        and trending rather than given an invented day.
        """
        return self.featured_on or self.announced_on or self.published


@dataclass(frozen=True)
class User:
    """An account."""

    id: int
    username: str
    email: str
    created_at: datetime
    is_admin: bool = False
    email_verified: bool = False  # confirmed through the signed link (no other mail before)


@dataclass(frozen=True)
class Subscription:
    """What a user wants in their digest and when."""

    user_id: int
    frequency: str  # "daily" | "weekly"
    send_hour: int = 7
    timezone: str = "UTC"
    max_papers: int = 20
    sections: tuple[str, ...] = DIGEST_SECTIONS
    active: bool = True


@dataclass(frozen=True)
class IngestCounts:
    """What one ingest did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def __add__(self, other: IngestCounts) -> IngestCounts:
        return IngestCounts(
            self.new + other.new,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.rejected + other.rejected,
        )

    @property
    def changed(self) -> int:
        """Papers new or updated."""
        return self.new + self.updated
