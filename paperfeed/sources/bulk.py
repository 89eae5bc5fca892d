"""Bulk files: JSON Lines, CSV and JSON arrays of papers, gzip or not, read as a stream.

Three record shapes are understood, per record, by their keys:

* arXiv listing dumps such as ../shared/data/arxiv-74k.jsonl.gz: id, title, abstract, authors[],
  comment, first_seen_date (taken as `published`), abs, pdf, arxiv_categories[], other_classes[]
  (other_classes are MSC/ACM codes, not arXiv categories, so they are not kept);
* the Kaggle arXiv metadata dump (has `versions` or `authors_parsed`): id, submitter, authors
  (one string), title, comments, categories ('hep-ph astro-ph'), versions [{version, created}]
  (v1's date is `published`, the last version number is `version`), update_date, authors_parsed;
* a generic shape: arxiv_id (or id, or paper_id) holding an arXiv id or URL, title,
  abstract/summary, authors (list, list of {name}, or 'A, B and C'), categories (list or
  string), published/date, updated, comment(s), url/abs_url, pdf_url, code_url/github_url,
  featured_on, upvotes. `paperfeed papers show --json` output reads back in this shape.

A record needs a title; anything else may be missing. A field with an unusable value (an id that is
no arXiv id, a date that is no date) rejects the record with a reason naming the field.

CSV: the first row names the columns, with the field names above. A list cell (authors,
categories) is split on ';' when it has one, else on '|', else authors are split as
'A, B and C' and categories on spaces or commas. `;` is the documented separator: names
like 'Smith, J.' survive only when ';' separates them.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypedDict

from paperfeed.core.errors import RecordError
from paperfeed.core.models import Paper, normalise_space, parse_arxiv_ref
from paperfeed.sources.arxiv_meta import dois_of, is_withdrawn
from paperfeed.sources.fields import (
    FieldError,
    authors_of,
    categories_of,
    date_of,
    int_of,
    optional_text,
    organization_of,
    split_authors,
    text_of,
)
from paperfeed.sources.files import iter_byte_lines, iter_lines
from paperfeed.sources.tex import detex_paper

SOURCE_JSONL = "jsonl"
SOURCE_CSV = "csv"
SOURCE_DUMP = "arxiv-dump"
SOURCE_JSON = "json"
# CSV cells may be large (abstracts); the stdlib default of 128 KiB is too tight for some dumps.
csv.field_size_limit(16 * 1024 * 1024)
_ID_KEYS = ("id", "paper_id")
_PUBLISHED_KEYS = ("published", "date", "first_seen_date", "publication_date", "created")
_ABS_KEYS = ("abs_url", "url")
_CODE_KEYS = ("github_url", "github", "githubRepo")


def is_dump_record(rec: Mapping[str, object]) -> bool:
    """Whether a record has the Kaggle arXiv metadata dump's shape."""
    return isinstance(rec.get("versions"), list) or "authors_parsed" in rec


def _first(rec: Mapping[str, object], keys: tuple[str, ...]) -> tuple[str, object]:
    """The first of several alias keys with a value, and that key (for error messages)."""
    for key in keys:
        value = rec.get(key)
        if value is not None and value != "":
            return key, value
    return keys[0], None


def _arxiv_id(rec: Mapping[str, object]) -> tuple[str | None, int | None]:
    # An explicit arxiv_id key wins, even when null: paperfeed's own export has an internal int
    # `id`.
    if "arxiv_id" in rec:
        key, raw = "arxiv_id", rec["arxiv_id"]
    else:
        key, raw = _first(rec, _ID_KEYS)
    if raw is None or raw == "":
        return None, None
    if not isinstance(raw, str):
        raise FieldError(
            f"{key}: expected an arXiv id string like '2503.11731', got {type(raw).__name__} "
            f"{raw!r}"
        )
    try:
        return parse_arxiv_ref(raw)
    except ValueError:
        raise FieldError(f"{key}: {raw!r} is not an arXiv id (expected e.g. 2503.11731)") from None


def _dump_authors(rec: Mapping[str, object]) -> tuple[str, ...]:
    parsed = rec.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for item in parsed:
            if not isinstance(item, list) or not all(isinstance(p, str) for p in item):
                raise FieldError("authors_parsed: expected [last, first, suffix] lists of strings")
            last, first, suffix = (list(item) + ["", "", ""])[:3]
            name = normalise_space(f"{first} {last} {suffix}")
            if name:
                names.append(name)
        return tuple(names)
    return authors_of(rec.get("authors"))


def _dump_versions(rec: Mapping[str, object]) -> tuple[int | None, object]:
    """The highest version number and v1's creation date (the day it was first published)."""
    versions = rec.get("versions")
    if not isinstance(versions, list) or not versions:
        return None, None
    numbers: list[int] = []
    created = None
    for item in versions:
        if not isinstance(item, dict):
            raise FieldError("versions: expected a list of {version, created} objects")
        label = str(item.get("version", "")).lstrip("v")
        if not label.isdigit():
            raise FieldError(f"versions: {item.get('version')!r} is not a version like 'v2'")
        numbers.append(int(label))
        if int(label) == 1:
            created = item.get("created")
    return max(numbers), created


_URL_HINTS = ("url", "link", "href", "page")
_MAX_DEPTH = 4


def _ref_in(value: object, where: str, depth: int = 0) -> tuple[str, str] | None:
    """The first (field path, text) naming an arXiv paper in URL-like fields, nested objects
    included."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, str):
        low = value.lower()
        if "arxiv.org/" in low or "huggingface.co/papers/" in low:
            return where, value
        return None
    items: list[tuple[str, object]] = []
    if isinstance(value, dict):
        items = [(f"{where}.{k}" if where else str(k), v) for k, v in value.items()
                 if isinstance(v, (dict, list)) or any(h in str(k).lower() for h in _URL_HINTS)]
    elif isinstance(value, list):
        items = [(f"{where}[{i}]", v) for i, v in enumerate(value[:20])]
    for path, item in items:
        found = _ref_in(item, path, depth + 1)
        if found:
            return found
    return None


def _nested(rec: Mapping[str, object]) -> Mapping[str, object]:
    """A record whose paper fields sit in one nested object ({"paper": {...}}) merged flat; else
    itself."""
    inner = rec.get("paper")
    if isinstance(inner, dict) and ("title" in inner or "summary" in inner or "abstract" in inner):
        return {**{k: v for k, v in rec.items() if k != "paper"}, **inner}
    return rec


def _dump_history(rec: Mapping[str, object]) -> tuple[tuple[int, ...], object]:
    """Every version number of a dump record and the last version's creation date."""
    versions = rec.get("versions")
    items = [v for v in versions if isinstance(v, dict)] if isinstance(versions, list) else []
    numbered = sorted(
        (int(str(v.get("version", "")).lstrip("v")), v.get("created"))
        for v in items
        if str(v.get("version", "")).lstrip("v").isdigit()
    )
    return tuple(n for n, _ in numbered), numbered[-1][1] if len(numbered) > 1 else None


def record_to_paper(rec: Mapping[str, object], source: str) -> Paper:
    """Map one record (any of the three shapes) to a Paper; FieldError names a bad field."""
    rec = _nested(rec)
    title = text_of(rec.get("title"), "title")
    if not title:
        raise FieldError("record has no title")
    arxiv_id, version = _arxiv_id(rec)
    if arxiv_id is None:
        found = _ref_in(rec, "")
        if found:
            # an arxiv.org URL without an id (a listing page, say) identifies nothing
            with contextlib.suppress(ValueError):
                arxiv_id, version = parse_arxiv_ref(found[1])
    dump = is_dump_record(rec)
    history: tuple[int, ...] = ()
    if dump:
        authors = _dump_authors(rec)
        dump_version, created = _dump_versions(rec)
        version = version or dump_version
        published = date_of(created, "versions.created")
        history, last_created = _dump_history(rec)
        # One meaning of `updated` everywhere: the latest version's day. The dump's update_date
        # is when arXiv last touched the metadata, so it is not used.
        updated = date_of(last_created, "versions.created")
    else:
        authors = authors_of(rec.get("authors"))
        published_key, raw_published = _first(rec, _PUBLISHED_KEYS)
        published = date_of(raw_published, published_key)
        updated = date_of(rec.get("updated"), "updated")
    if version is None and rec.get("version") is not None:
        version = int_of(rec["version"], "version")
    # Each alias group is looked up only when its usual key is absent: big dumps pay per lookup.
    abs_url = optional_text(rec.get("abs") or _first(rec, _ABS_KEYS)[1], "abs_url")
    pdf_url = optional_text(rec.get("pdf") or rec.get("pdf_url"), "pdf_url")
    if dump and arxiv_id:
        abs_url = abs_url or f"https://arxiv.org/abs/{arxiv_id}"
        pdf_url = pdf_url or f"https://arxiv.org/pdf/{arxiv_id}"
    if arxiv_id and not abs_url:
        abs_url = f"https://arxiv.org/abs/{arxiv_id}"
    cats = rec.get("arxiv_categories")
    upvotes = rec.get("upvotes")
    comment = optional_text(rec.get("comment") or rec.get("comments"), "comment")
    abstract = text_of(
        rec.get("abstract") or rec.get("summary") or rec.get("description"), "abstract"
    )
    doi = rec.get("doi")
    dois = _dois(rec.get("dois"), optional_text(doi, "doi")) if doi or "dois" in rec else ()
    return detex_paper(Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        version=version,
        authors=authors,
        categories=categories_of(cats if cats is not None else rec.get("categories")),
        published=published,
        updated=updated,
        comment=comment,
        abs_url=abs_url,
        pdf_url=pdf_url,
        code_url=optional_text(rec.get("code_url") or _first(rec, _CODE_KEYS)[1], "code_url"),
        source=source,
        featured_on=date_of(rec.get("featured_on"), "featured_on"),
        external_upvotes=int_of(
            upvotes if upvotes is not None else rec.get("external_upvotes"), "upvotes"
        ),
        doi=dois[0] if dois else None,
        dois=dois,
        journal_ref=optional_text(rec.get("journal-ref") or rec.get("journal_ref"), "journal_ref"),
        license=optional_text(rec.get("license"), "license"),
        # A listing dump's first_seen_date is the day arXiv listed (announced) the paper.
        announced_on=date_of(rec.get("announced_on") or rec.get("first_seen_date"), "announced_on"),
        withdrawn=bool(rec.get("withdrawn")) or is_withdrawn(comment, abstract),
        versions=history,
        **(_hf_fields(rec) if _HF_KEYS & rec.keys() else {}),
    ))


_HF_KEYS = frozenset(
    (
        "project_page",
        "projectPage",
        "organization",
        "organization_name",
        "github_stars",
        "githubStars",
        "ai_summary",
    )
)


class _HfFields(TypedDict, total=False):
    """Hugging Face's own fields of a paper (none when a record has none of them)."""

    project_page: str | None
    organization: str | None
    organization_name: str | None
    github_stars: int | None
    ai_summary: str | None


def _hf_fields(rec: Mapping[str, object]) -> _HfFields:
    """Hugging Face's own fields of a record (looked up only when it has one: big dumps have
    none)."""
    org, org_name = organization_of(rec.get("organization"))
    return {
        "project_page": optional_text(
            rec.get("project_page") or rec.get("projectPage"), "project_page"
        ),
        "organization": org,
        "organization_name": optional_text(rec.get("organization_name"), "organization_name")
        or org_name,
        "github_stars": int_of(rec.get("github_stars", rec.get("githubStars")), "github_stars"),
        "ai_summary": optional_text(rec.get("ai_summary"), "ai_summary"),
    }


def _dois(listed: object, doi: str | None) -> tuple[str, ...]:
    """Every DOI: a `dois` list (paperfeed's own JSON) first, then those in the `doi` field."""
    out: list[str] = []
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(d, str) for d in listed):
            raise FieldError("dois: expected a list of DOI strings")
        for d in listed:
            out.extend(x for x in dois_of(d) if x not in out)
    out.extend(x for x in dois_of(doi) if x not in out)
    return tuple(out)


def parse_json_record(line: str | bytes, location: str, source: str) -> Paper | RecordError | None:
    """One JSON Lines line to a Paper, a RecordError, or None for a blank line."""
    if not line.strip():
        return None
    try:
        rec = json.loads(line)
    except ValueError as exc:
        return RecordError(location, f"invalid JSON: {exc}")
    if not isinstance(rec, dict):
        return RecordError(location, f"expected a JSON object per line, got {type(rec).__name__}")
    try:
        return record_to_paper(
            rec, SOURCE_DUMP if source == SOURCE_JSONL and is_dump_record(rec) else source
        )
    except FieldError as exc:
        return RecordError(location, str(exc))


def parse_jsonl(
    lines: Iterable[tuple[int, str | bytes]], name: str, source: str = SOURCE_JSONL
) -> Iterator[Paper | RecordError]:
    """Papers from numbered JSON Lines; a bad line yields a RecordError at name:line, the rest go
    on."""
    for number, line in lines:
        item = parse_json_record(line, f"{name}:{number}", source)
        if item is not None:
            yield item


def read_jsonl(path: Path, source: str = SOURCE_JSONL) -> Iterator[Paper | RecordError]:
    """Stream a JSON Lines file (gzip or not)."""
    return parse_jsonl(iter_byte_lines(path), str(path), source)


def parse_json_array(
    data: object, name: str, source: str = SOURCE_JSON
) -> Iterator[Paper | RecordError]:
    """Papers from an already-decoded JSON array of generic records; locations are name#index."""
    if not isinstance(data, list):
        yield RecordError(name, f"expected a JSON array of papers, got {type(data).__name__}")
        return
    for index, rec in enumerate(data, start=1):
        location = f"{name}#{index}"
        if not isinstance(rec, dict):
            yield RecordError(location, f"expected a JSON object, got {type(rec).__name__}")
            continue
        try:
            yield record_to_paper(rec, source)
        except FieldError as exc:
            yield RecordError(location, str(exc))


def _csv_list(cell: str, authors: bool) -> list[str] | str:
    for sep in (";", "|"):
        if sep in cell:
            return [part.strip() for part in cell.split(sep)]
    return list(split_authors(cell)) if authors else cell


def parse_csv(
    lines: Iterable[str], name: str, source: str = SOURCE_CSV
) -> Iterator[Paper | RecordError]:
    """Papers from CSV text lines with a header row; a bad row yields a RecordError at name:line."""
    reader = csv.reader(iter(lines))
    try:
        header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        yield RecordError(f"{name}:1", f"unreadable CSV header: {exc}")
        return
    if "title" not in header:
        yield RecordError(
            f"{name}:1", f"CSV header has no 'title' column (columns: {', '.join(header)})"
        )
        return
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RecordError(f"{name}:{start}", f"unreadable CSV row: {exc}")
            start = reader.line_num + 1
            continue
        location, start = f"{name}:{start}", reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield RecordError(location, f"expected {len(header)} columns, got {len(row)}")
            continue
        rec: dict[str, object] = {}
        for key, cell in zip(header, row, strict=False):
            if not cell.strip():
                continue
            if key in ("authors", "categories", "arxiv_categories"):
                rec[key] = _csv_list(cell, key == "authors")
            else:
                rec[key] = cell
        try:
            yield record_to_paper(rec, source)
        except FieldError as exc:
            yield RecordError(location, str(exc))


def read_csv(path: Path) -> Iterator[Paper | RecordError]:
    """Stream a CSV file (gzip or not)."""
    # csv needs the line endings kept so quoted cells spanning lines come back whole.
    return parse_csv((line + "\n" for _, line in iter_lines(path)), str(path))
