"""Merging records into stored paper values, in memory: which record wins which field, the derived
columns and the content hash that tells "updated" from "unchanged".

Pure; store/papers.py writes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperfeed.core.links import find_text_links
from paperfeed.core.models import Paper, normalise_title
from paperfeed.core.urls import safe_url
from paperfeed.store.alert_schema import MAX_KEY

# Fields a record can carry; a record that has a value fills or overrides the stored one.
_TEXT_FIELDS = (
    "title", "abstract", "comment", "abs_url", "pdf_url", "code_url", "published", "updated",
    "doi", "journal_ref", "license",
)
# Hugging Face's own fields: its newest answer says what they are now (refreshed with upvotes).
_HF_FIELDS = ("project_page", "organization", "organization_name", "github_stars", "ai_summary")
_LISTS = ("authors", "categories", "affiliations", "dois")
_HASHED = _TEXT_FIELDS + (
    "arxiv_id", "version", "authors", "categories", "featured_on", "external_upvotes",
    "announced_on", "withdrawn", "affiliations", "external_comments", "dois",
) + _HF_FIELDS
_EMPTY: dict[str, Any] = {
    "arxiv_id": None, "version": None, "abstract": "", "authors": "[]", "categories": "[]",
    "featured_on": None, "external_upvotes": None, "announced_on": None, "withdrawn": 0,
    "affiliations": "[]", "external_comments": None, "dois": "[]", **dict.fromkeys(_HF_FIELDS),
}


@dataclass
class _Row:
    """A paper being merged in memory during one batch."""

    values: dict[str, Any]
    id: int | None = None
    original_hash: str | None = None
    sources: set[str] = field(default_factory=set)
    new_sources: set[str] = field(default_factory=set)
    versions: set[int] = field(default_factory=set)
    new_versions: dict[int, str] = field(default_factory=dict)
    absorbs: list[int] = field(default_factory=list)  # ids of title-only rows merged into this one
    # Hugging Face (upvotes, comments) read in this batch
    signal: tuple[int, int | None] | None = None
    # the stored values a lifecycle event compares with (None: new)
    before: dict[str, Any] | None = None


def _content_hash(values: dict[str, Any]) -> str:
    blob = json.dumps([values.get(k) for k in _HASHED], default=str, ensure_ascii=False)
    return hashlib.sha1(blob.encode("utf-8")).hexdigest()


def _record_values(p: Paper) -> dict[str, Any]:
    return {
        "arxiv_id": p.arxiv_id,
        "version": p.version,
        "title": p.title,
        "abstract": p.abstract,
        "authors": json.dumps(list(p.authors), ensure_ascii=False),
        "categories": json.dumps(list(p.categories)),
        "published": p.published,
        "updated": p.updated,
        "comment": p.comment,
        "abs_url": safe_url(p.abs_url),
        "pdf_url": safe_url(p.pdf_url),
        "code_url": safe_url(p.code_url),
        "featured_on": p.featured_on,
        "external_upvotes": p.external_upvotes,
        "doi": p.doi,
        "journal_ref": p.journal_ref,
        "license": p.license,
        "announced_on": p.announced_on,
        "withdrawn": 1 if p.withdrawn else 0,
        "affiliations": json.dumps([list(a) for a in p.affiliations], ensure_ascii=False),
        "external_comments": p.external_comments,
        "dois": json.dumps(list(p.dois or ((p.doi,) if p.doi else ()))),
        "project_page": safe_url(p.project_page),
        "organization": p.organization,
        "organization_name": p.organization_name,
        "github_stars": p.github_stars,
        "ai_summary": p.ai_summary,
    }


def overrides(old_version: int | None, rec: Paper) -> bool:
    """Whether a record's fields replace the stored ones: it has an arXiv id and its version is the
    stored one or newer (a correction of the same version is applied; an older one is not)."""
    return rec.arxiv_id is not None and (
        old_version is None or (rec.version is not None and rec.version >= old_version)
    )


def _merge(values: dict[str, Any], rec: Paper) -> None:
    """Merge a record into stored values: a record with an arXiv id and a version no older wins."""
    new = _record_values(rec)
    old_version = values.get("version")
    wins = overrides(old_version, rec)
    for key in _TEXT_FIELDS:
        if new[key] and (wins or not values.get(key)):
            values[key] = new[key]
    for key in _LISTS:
        if new[key] != "[]" and (wins or values.get(key, "[]") == "[]"):
            values[key] = new[key]
    for key in _HF_FIELDS:
        if new[key] is not None and new[key] != "":
            values[key] = new[key]
    if wins and rec.source != "hf-daily":  # the arXiv record of its newest version says so
        values["withdrawn"] = new["withdrawn"]
    elif rec.withdrawn:
        values["withdrawn"] = 1
    if rec.announced_on and (
        not values.get("announced_on") or rec.announced_on < values["announced_on"]
    ):
        # the first announcement (v1), not a replacement's
        values["announced_on"] = rec.announced_on
    if rec.external_comments is not None:
        values["external_comments"] = max(
            rec.external_comments, values.get("external_comments") or 0
        )
    if rec.arxiv_id and not values.get("arxiv_id"):
        values["arxiv_id"] = rec.arxiv_id
    if rec.version is not None:
        values["version"] = max(rec.version, old_version or 0)
    if rec.featured_on and (
        not values.get("featured_on") or rec.featured_on < values["featured_on"]
    ):
        values["featured_on"] = rec.featured_on  # the first day it was featured
    if rec.external_upvotes is not None:
        values["external_upvotes"] = max(rec.external_upvotes, values.get("external_upvotes") or 0)


def _finish(values: dict[str, Any], first_seen: datetime) -> dict[str, Any]:
    """Derive the columns computed from the others."""
    cats = json.loads(values.get("categories") or "[]")
    values["primary_category"] = cats[0] if cats else None
    values["title_key"] = normalise_title(values["title"])
    # Paper.day's rule; no first-seen fallback: a paper without a known day stays undated (NULL).
    values["day"] = (
        values.get("featured_on") or values.get("announced_on") or values.get("published")
    )
    values["content_hash"] = _content_hash(values)
    return values




def _absorb(target: _Row, orphan: _Row) -> None:
    """Fill the target's empty fields from a title-only row that merges into it."""
    for key in _TEXT_FIELDS:
        if orphan.values.get(key) and not target.values.get(key):
            target.values[key] = orphan.values[key]
    for s in orphan.sources - target.sources:
        target.sources.add(s)
        target.new_sources.add(s)
    if orphan.values.get("featured_on") and not target.values.get("featured_on"):
        target.values["featured_on"] = orphan.values["featured_on"]


_EVENT_FIELDS = ("version", "code_url", "doi", "journal_ref", "abstract", "comment")


def event_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The stored values lifecycle events are detected on (kept from before a merge)."""
    return {k: values.get(k) for k in _EVENT_FIELDS}


def _text_code(values: dict[str, Any]) -> str | None:
    return find_text_links(values.get("abstract"), values.get("comment")).code


def _code_appeared(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """The code link a merge brought: the source's own, else the first repository named in the text;
    None when the paper had one already.

    The text is searched only when it matters (bulk re-ingests of unchanged papers stay cheap).
    """
    if before.get("code_url"):
        return None
    if after.get("code_url"):
        return None if _text_code(before) else str(after["code_url"])
    same_text = all(before.get(k) == after.get(k) for k in ("abstract", "comment"))
    if same_text:
        return None
    found = _text_code(after)
    return found if found and not _text_code(before) else None


def lifecycle_events(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, key) of what a merge brought to a stored paper: a newer arXiv version, a code link
    that appeared, a DOI or else a journal reference that appeared.

    Keys are cut to MAX_KEY characters.
    """
    out: list[tuple[str, str]] = []
    old_v, new_v = before.get("version"), after.get("version")
    if old_v is not None and new_v is not None and int(new_v) > int(old_v):
        out.append(("new_version", str(int(new_v))))
    code = _code_appeared(before, after)
    if code:
        out.append(("code_link", code))
    if after.get("doi") and not before.get("doi"):
        out.append(("journal_ref", str(after["doi"])))
    elif after.get("journal_ref") and not before.get("journal_ref") and not before.get("doi"):
        out.append(("journal_ref", str(after["journal_ref"])))
    return [(kind, key[:MAX_KEY]) for kind, key in out]

