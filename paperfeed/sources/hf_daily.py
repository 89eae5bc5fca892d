"""Hugging Face Daily Papers in three JSON shapes, and a fetcher for the daily_papers API.

* JSON Lines (github Misaki-Wang/hf_bot): date (the featured day), paper_id, title, authors[],
  abstract, summary_en, github_url, upvotes, ... Its `abstract` usually starts with HF's one-line AI
  summary glued to the real abstract; when the abstract begins with `summary_en` (whitespace
  aside) that prefix is cut. `summary_en` is kept as the paper's `ai_summary`, never as its
  abstract: an abstract that *is* just the summary becomes empty, so arXiv's real abstract (from
  any source) fills it, and pages show the summary labelled as Hugging Face's.
* A JSON object keyed by arXiv id (github mwoedlinger/PaperExplorer): url, title, authors,
  abstract, publication_date, upvotes; publication_date's day is both `published` and `featured_on`.
* The API list (GET /api/daily_papers?date=YYYY-MM-DD): [{"paper": {id, title, summary, authors:
  [{name}], publishedAt, submittedOnDailyAt, upvotes, githubRepo?, githubStars?, projectPage?,
  ai_summary?, organization?: {name, fullname}}, title, ...}]. `summary` is the real abstract,
  `ai_summary` the one-line AI summary (stored apart). `featured_on` is the requested date, else
  the paper's submittedOnDailyAt day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path

import httpx

from paperfeed.core.errors import RecordError, SourceError
from paperfeed.core.models import Paper, parse_arxiv_ref
from paperfeed.core.settings import Settings
from paperfeed.sources.fields import (
    FieldError,
    authors_of,
    date_of,
    int_of,
    optional_text,
    organization_of,
    squash,
    text_of,
)
from paperfeed.sources.files import decode, iter_byte_lines, peek, read_bytes
from paperfeed.sources.http import HttpClient, as_http
from paperfeed.sources.tex import detex_paper

SOURCE = "hf-daily"
_KEYED = re.compile(
    rb'^\s*\{\s*"(?:\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)"\s*:\s*\{'
)


def is_keyed_object(head: bytes) -> bool:
    """Whether content starts like a JSON object keyed by arXiv ids ({"2312.17653": {...)."""
    return bool(_KEYED.match(head[:4096]))


def strip_ai_summary(abstract: str, summary: str | None) -> str:
    """The abstract without a leading copy of the AI summary ('' when it is nothing but that
    copy)."""
    text = squash(abstract)
    lead = squash(summary or "")
    if lead and text.startswith(lead):
        return text[len(lead) :].strip()
    return text


def _arxiv(raw: object, name: str) -> tuple[str, int | None]:
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError(f"{name}: missing arXiv id")
    try:
        return parse_arxiv_ref(raw)
    except ValueError:
        raise FieldError(f"{name}: {raw!r} is not an arXiv id") from None


def _title(raw: object) -> str:
    title = text_of(raw, "title")
    if not title:
        raise FieldError("record has no title")
    return title


def line_to_paper(rec: Mapping[str, object]) -> Paper:
    """One hf_bot JSON Lines record to a Paper."""
    arxiv_id, version = _arxiv(rec.get("paper_id") or rec.get("arxiv_id"), "paper_id")
    featured = date_of(rec.get("date"), "date")
    ai_summary = optional_text(rec.get("summary_en") or rec.get("ai_summary"), "summary_en")
    return detex_paper(
        Paper(
            title=_title(rec.get("title")),
            abstract=strip_ai_summary(text_of(rec.get("abstract"), "abstract"), ai_summary),
            ai_summary=ai_summary,
            arxiv_id=arxiv_id,
            version=version,
            authors=authors_of(rec.get("authors")),
            abs_url=optional_text(rec.get("arxiv_url"), "arxiv_url")
            or f"https://arxiv.org/abs/{arxiv_id}",
            pdf_url=optional_text(rec.get("arxiv_pdf_url"), "arxiv_pdf_url"),
            code_url=optional_text(rec.get("github_url"), "github_url"),
            source=SOURCE,
            featured_on=featured,
            external_upvotes=int_of(rec.get("upvotes"), "upvotes"),
        )
    )


def keyed_to_paper(key: str, rec: Mapping[str, object]) -> Paper:
    """One value of the object keyed by arXiv id to a Paper."""
    arxiv_id, version = _arxiv(key, "key")
    day = date_of(rec.get("publication_date"), "publication_date")
    return detex_paper(
        Paper(
            title=_title(rec.get("title")),
            abstract=text_of(rec.get("abstract"), "abstract"),
            arxiv_id=arxiv_id,
            version=version,
            authors=authors_of(rec.get("authors")),
            published=day,
            abs_url=optional_text(rec.get("url"), "url"),
            source=SOURCE,
            featured_on=day,
            external_upvotes=int_of(rec.get("upvotes"), "upvotes"),
        )
    )


def api_item_to_paper(item: Mapping[str, object], featured_on: date | None = None) -> Paper:
    """One element of the /api/daily_papers list to a Paper."""
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise FieldError("paper: expected an object")
    arxiv_id, version = _arxiv(paper.get("id"), "paper.id")
    featured = featured_on or date_of(
        paper.get("submittedOnDailyAt") or item.get("submittedOnDailyAt"), "submittedOnDailyAt"
    )
    # `summary` is the real abstract; `ai_summary` Hugging Face's one line, kept apart.
    summary = text_of(paper.get("summary") or item.get("summary"), "paper.summary")
    ai_summary = optional_text(
        paper.get("ai_summary") or item.get("ai_summary"), "paper.ai_summary"
    )
    org, org_name = organization_of(
        paper.get("organization") or item.get("organization"), "organization"
    )
    return detex_paper(
        Paper(
            title=_title(paper.get("title") or item.get("title")),
            abstract=strip_ai_summary(summary, ai_summary),
            ai_summary=ai_summary,
            project_page=optional_text(
                paper.get("projectPage") or item.get("projectPage"), "paper.projectPage"
            ),
            organization=org,
            organization_name=org_name,
            github_stars=int_of(
                paper.get("githubStars", item.get("githubStars")), "paper.githubStars"
            ),
            arxiv_id=arxiv_id,
            version=version,
            authors=authors_of(paper.get("authors"), "paper.authors"),
            published=date_of(paper.get("publishedAt") or item.get("publishedAt"), "publishedAt"),
            abs_url=f"https://arxiv.org/abs/{arxiv_id}",
            pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
            code_url=optional_text(paper.get("githubRepo"), "paper.githubRepo"),
            source=SOURCE,
            featured_on=featured,
            external_upvotes=int_of(paper.get("upvotes", item.get("upvotes")), "paper.upvotes"),
            external_comments=int_of(
                item.get("numComments", paper.get("numComments")), "numComments"
            ),
        )
    )


def parse_hf_jsonl(
    lines: Iterable[tuple[int, str | bytes]], name: str
) -> Iterator[Paper | RecordError]:
    """Papers from hf_bot JSON Lines; a bad line yields a RecordError at name:line."""
    for number, line in lines:
        if not line.strip():
            continue
        location = f"{name}:{number}"
        try:
            rec = json.loads(line)
        except ValueError as exc:
            yield RecordError(location, f"invalid JSON: {exc}")
            continue
        if not isinstance(rec, dict):
            yield RecordError(
                location, f"expected a JSON object per line, got {type(rec).__name__}"
            )
            continue
        try:
            # A line may also be one API item (a saved API answer, one item per line).
            yield api_item_to_paper(rec) if "paper" in rec else line_to_paper(rec)
        except FieldError as exc:
            yield RecordError(location, str(exc))


def parse_hf_keyed(data: object, name: str) -> Iterator[Paper | RecordError]:
    """Papers from a JSON object keyed by arXiv id; locations are name#n (n from 1)."""
    if not isinstance(data, dict):
        yield RecordError(
            name, f"expected a JSON object keyed by arXiv id, got {type(data).__name__}"
        )
        return
    for number, (key, rec) in enumerate(data.items(), start=1):
        location = f"{name}#{number}"
        if not isinstance(rec, dict):
            yield RecordError(location, f"{key}: expected an object, got {type(rec).__name__}")
            continue
        try:
            yield keyed_to_paper(key, rec)
        except FieldError as exc:
            yield RecordError(location, f"{key}: {exc}")


def parse_hf_api(
    data: object, name: str, featured_on: date | None = None
) -> Iterator[Paper | RecordError]:
    """Papers from a decoded /api/daily_papers answer (a JSON list); locations are name#n."""
    if not isinstance(data, list):
        yield RecordError(name, f"expected a JSON list of daily papers, got {type(data).__name__}")
        return
    for number, item in enumerate(data, start=1):
        location = f"{name}#{number}"
        if not isinstance(item, dict):
            yield RecordError(location, f"expected an object, got {type(item).__name__}")
            continue
        try:
            yield api_item_to_paper(item, featured_on)
        except FieldError as exc:
            yield RecordError(location, str(exc))


def _one_record(
    rec: Mapping[str, object], location: str, day: date | None = None
) -> Paper | RecordError:
    try:
        paper = api_item_to_paper(rec, day) if "paper" in rec else line_to_paper(rec)
    except FieldError as exc:
        return RecordError(location, str(exc))
    return paper if paper.featured_on or day is None else replace(paper, featured_on=day)


def parse_hf_document(data: object, name: str) -> Iterator[Paper | RecordError]:
    """Papers from one decoded JSON object: a wrapper {"date", "count", "papers": [...]} or one
    record.

    hf_bot saves a day as the wrapper and each paper as one pretty-printed record per file. A
    wrapper whose `count` disagrees with its papers is reported (the file may be cut short).
    """
    if not isinstance(data, dict):
        yield RecordError(name, f"expected a JSON object, got {type(data).__name__}")
        return
    if "papers" in data:
        items = data["papers"]
        if not isinstance(items, list):
            yield RecordError(name, f"papers: expected a list, got {type(items).__name__}")
            return
        try:
            day = date_of(data.get("date"), "date")
            count = int_of(data.get("count"), "count")
        except FieldError as exc:
            yield RecordError(name, str(exc))
            return
        for number, rec in enumerate(items, start=1):
            location = f"{name}#{number}"
            if not isinstance(rec, dict):
                yield RecordError(location, f"expected an object, got {type(rec).__name__}")
                continue
            yield _one_record(rec, location, day)
        if count is not None and count != len(items):
            yield RecordError(name, f"count says {count} papers but the file holds {len(items)}")
        return
    if "paper_id" in data or "paper" in data or "title" in data:
        yield _one_record(data, name)
        return
    yield RecordError(
        name,
        "a JSON object that is neither a Daily Papers wrapper {date, count, papers} nor one paper"
        f" record (keys: {', '.join(sorted(map(str, data))[:8])})",
    )


def is_whole_document(data: bytes) -> bool:
    """Whether content is one JSON object spread over lines (pretty-printed), not JSON Lines."""
    text = data.lstrip()
    if text[:1] != b"{":
        return False
    first = text.split(b"\n", 1)[0]
    try:
        json.loads(first)
    except ValueError:
        return True
    return False


def parse_hf_daily(data: bytes, name: str) -> Iterator[Paper | RecordError]:
    """Papers from any of the shapes, told apart by the first bytes."""
    head = data.lstrip()[:1]
    if head == b"{" and not is_keyed_object(data) and is_whole_document(data):
        try:
            decoded = json.loads(decode(data))
        except ValueError as exc:
            yield RecordError(name, f"invalid JSON (a pretty-printed object): {exc}")
            return
        yield from parse_hf_document(decoded, name)
        return
    if head == b"[" or is_keyed_object(data):
        try:
            decoded = json.loads(decode(data))
        except ValueError as exc:
            yield RecordError(name, f"invalid JSON: {exc}")
            return
        if isinstance(decoded, list):
            yield from parse_hf_api(decoded, name)
        else:
            yield from parse_hf_keyed(decoded, name)
        return
    yield from parse_hf_jsonl(enumerate(data.splitlines(), start=1), name)


def read_hf_daily(path: Path) -> Iterator[Paper | RecordError]:
    """Papers from a file of any of the three shapes (gzip or not); JSON Lines are streamed."""
    head = peek(path, 4096)
    if head.lstrip()[:1] == b"[" or is_keyed_object(head) or is_whole_document(head):
        return parse_hf_daily(read_bytes(path), str(path))
    return parse_hf_jsonl(iter_byte_lines(path), str(path))


def fetch_hf_daily(
    day: date, settings: Settings, client: HttpClient | httpx.Client | None = None
) -> Iterator[Paper | RecordError]:
    """The papers Hugging Face featured on one day, from settings.hf_api_url?date=YYYY-MM-DD."""
    http = as_http(client, settings)
    try:
        response = http.get(settings.hf_api_url, params={"date": day.isoformat()})
        location = str(response.url)
        try:
            data = response.json()
        except ValueError as exc:
            raise SourceError(f"Hugging Face answered invalid JSON at {location}: {exc}") from None
        if not isinstance(data, list):
            raise SourceError(
                f"Hugging Face answered {type(data).__name__} at {location}, expected a list of "
                "papers"
            )
        items = list(parse_hf_api(data, location, featured_on=day))
    finally:
        if http is not client:
            http.close()
    yield from items
