"""The arXiv API (export.arxiv.org/api/query): a pure Atom parser and fetchers by id and by query.

Reference: https://info.arxiv.org/help/api/user-manual.html. The API answers an Atom 1.0 feed with
OpenSearch totals; each entry's <id> is the abs URL with the version ('.../abs/2503.11731v2'). A bad
request answers a feed whose single entry has an id under
http://arxiv.org/api/errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import httpx

from paperfeed.core.errors import RecordError, SourceError
from paperfeed.core.models import Paper, parse_arxiv_ref
from paperfeed.core.settings import Settings
from paperfeed.sources.arxiv_meta import dois_of, is_withdrawn
from paperfeed.sources.fields import FieldError, date_of, squash
from paperfeed.sources.http import HttpClient, as_http
from paperfeed.sources.tex import detex_paper
from paperfeed.sources.xmldoc import child_text, parse_xml

SOURCE = "arxiv-api"
ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
ARXIV = "{http://arxiv.org/schemas/atom}"
ERROR_ID = "arxiv.org/api/errors"
ID_CHUNK = 100  # ids per id_list request: keeps URLs short and pages small
PAGE_SIZE = 200  # arXiv allows up to 2000 per request but recommends smaller pages


@dataclass
class AtomFeed:
    """One parsed API response."""

    records: list[Paper | RecordError] = field(default_factory=list)
    total_results: int | None = None
    start_index: int | None = None
    items_per_page: int | None = None
    ids: list[str] = field(
        default_factory=list
    )  # bare arXiv ids of the entries, empty ones included
    api_error: str | None = None  # the message of an arXiv API error entry
    error: str | None = None  # the document was malformed or cut off: records may be partial

    @property
    def entries(self) -> int:
        """How many entries (papers and rejected ones) the page held."""
        return len(self.records)


def _int(element: Element, tag: str) -> int | None:
    text = child_text(element, tag).strip()
    return int(text) if text.isdigit() else None


def _entry_to_paper(entry: Element, location: str) -> Paper | RecordError:
    raw_id = child_text(entry, f"{ATOM}id").strip()
    try:
        arxiv_id, version = parse_arxiv_ref(raw_id)
    except ValueError:
        return RecordError(location, f"entry id {raw_id!r} is not an arXiv abs URL")
    title = squash(child_text(entry, f"{ATOM}title"))
    if not title:
        # arXiv answers an id it does not know with an entry that has an id and nothing else.
        return RecordError(location, f"arXiv has no paper {arxiv_id} (empty entry)")
    categories: dict[str, None] = {}
    primary = entry.find(f"{ARXIV}primary_category")
    if primary is not None and primary.get("term"):
        categories[primary.get("term", "")] = None
    for cat in entry.findall(f"{ATOM}category"):
        if cat.get("term"):
            categories[cat.get("term", "")] = None
    abs_url = pdf_url = None
    for link in entry.findall(f"{ATOM}link"):
        href = link.get("href")
        if link.get("title") == "pdf" or link.get("type") == "application/pdf":
            pdf_url = href
        elif link.get("rel") == "alternate":
            abs_url = href
    try:
        published = date_of(child_text(entry, f"{ATOM}published").strip() or None, "published")
        updated = date_of(child_text(entry, f"{ATOM}updated").strip() or None, "updated")
    except FieldError as exc:
        return RecordError(location, str(exc))
    authors: list[str] = []
    affiliations: list[tuple[str, ...]] = []
    for a in entry.findall(f"{ATOM}author"):
        name = squash(child_text(a, f"{ATOM}name"))
        if name:
            authors.append(name)
            affiliations.append(
                tuple(
                    t
                    for t in (
                        squash("".join(f.itertext())) for f in a.findall(f"{ARXIV}affiliation")
                    )
                    if t
                )
            )
    comment = squash(child_text(entry, f"{ARXIV}comment")) or None
    abstract = squash(child_text(entry, f"{ATOM}summary"))
    dois = list(dois_of(child_text(entry, f"{ARXIV}doi")))
    for link in entry.findall(f"{ATOM}link"):
        if link.get("title") == "doi":
            dois.extend(d for d in dois_of(link.get("href")) if d not in dois)
    return detex_paper(Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        version=version,
        authors=tuple(authors),
        categories=tuple(categories),
        published=published,
        # Atom <updated> is the day the returned version was submitted: the latest version's day,
        # the one meaning `updated` has everywhere; for a v1 it equals <published> and says nothing.
        updated=updated if updated != published else None,
        comment=comment,
        abs_url=abs_url,
        pdf_url=pdf_url,
        source=SOURCE,
        doi=dois[0] if dois else None,
        dois=tuple(dois),
        journal_ref=squash(child_text(entry, f"{ARXIV}journal_ref")) or None,
        withdrawn=is_withdrawn(comment, abstract),
        affiliations=tuple(affiliations) if any(affiliations) else (),
    ))


def parse_atom(xml_bytes: bytes, location: str) -> AtomFeed:
    """Parse one arXiv API response; never raises on bad XML (see AtomFeed.error)."""
    doc = parse_xml(xml_bytes, location)
    feed = AtomFeed(error=doc.error)
    root = doc.root
    if root is None:
        return feed
    if root.tag != f"{ATOM}feed":
        feed.error = feed.error or f"{location}: expected an Atom <feed>, got <{root.tag}>"
        return feed
    feed.total_results = _int(root, f"{OPENSEARCH}totalResults")
    feed.start_index = _int(root, f"{OPENSEARCH}startIndex")
    feed.items_per_page = _int(root, f"{OPENSEARCH}itemsPerPage")
    for number, entry in enumerate(root.findall(f"{ATOM}entry"), start=1):
        where = f"{location}#{number}"
        if not doc.finished(entry):
            break  # the entry the document was cut in; doc.error reports it below
        if ERROR_ID in child_text(entry, f"{ATOM}id"):
            message = squash(child_text(entry, f"{ATOM}summary")) or "unspecified error"
            feed.api_error = message
            feed.records.append(RecordError(where, f"arXiv API error: {message}"))
            continue
        with contextlib.suppress(ValueError):  # _entry_to_paper reports it
            feed.ids.append(parse_arxiv_ref(child_text(entry, f"{ATOM}id"))[0])
        feed.records.append(_entry_to_paper(entry, where))
    if feed.error:
        feed.records.append(RecordError(location, feed.error.removeprefix(f"{location}: ")))
    return feed


def _fetch_feed(http: HttpClient, params: dict[str, str | int]) -> tuple[AtomFeed, str]:
    url = http.settings.arxiv_api_url
    # arXiv answers a bad query with HTTP 400 and an Atom error entry that says what was wrong.
    response = http.get(url, params=params, accept=frozenset({200, 400}))
    location = str(response.url)
    feed = parse_atom(response.content, location)
    if feed.api_error:
        raise SourceError(f"arXiv API error for {location}: {feed.api_error}")
    if feed.error:
        raise SourceError(f"arXiv API answered unusable XML: {feed.error}")
    if response.status_code != 200:
        raise SourceError(f"GET {location}: HTTP {response.status_code}")
    return feed, location


def fetch_arxiv_ids(
    ids: Iterable[str], settings: Settings, client: HttpClient | httpx.Client | None = None
) -> Iterator[Paper | RecordError]:
    """Papers for arXiv ids (or URLs), asked in chunks of id_list; unknown ids yield
    RecordErrors."""
    wanted: list[tuple[str, str]] = []  # (what to ask for, the bare id it answers with)
    for raw in ids:
        try:
            bare, version = parse_arxiv_ref(raw)
        except ValueError as exc:
            yield RecordError(f"arxiv:{raw}", str(exc))
            continue
        wanted.append((f"{bare}v{version}" if version else bare, bare))
    if not wanted:
        return
    http = as_http(client, settings)
    try:
        for start in range(0, len(wanted), ID_CHUNK):
            chunk = wanted[start : start + ID_CHUNK]
            params: dict[str, str | int] = {
                "id_list": ",".join(ident for ident, _ in chunk),
                "start": 0,
                "max_results": len(chunk),
            }
            feed, location = _fetch_feed(http, params)
            yield from feed.records
            answered = set(feed.ids)
            for ident, bare in chunk:
                if bare not in answered:
                    yield RecordError(f"{location}#{ident}", f"arXiv returned no entry for {ident}")
    finally:
        if http is not client:
            http.close()


def search_arxiv(
    query: str,
    settings: Settings,
    client: HttpClient | httpx.Client | None = None,
    max_results: int = 100,
    *,
    page_size: int = PAGE_SIZE,
    sort_by: str = "submittedDate",
    sort_order: str = "descending",
    start: int = 0,
) -> Iterator[Paper | RecordError]:
    """Papers matching an API search_query ('cat:cs.CL AND ti:llm'), paged with
    start/max_results."""
    http = as_http(client, settings)
    empty_retries = 0
    try:
        got = 0
        while got < max_results:
            size = min(page_size, max_results - got)
            params: dict[str, str | int] = {
                "search_query": query,
                "start": start,
                "max_results": size,
                "sortBy": sort_by,
                "sortOrder": sort_order,
            }
            feed, location = _fetch_feed(http, params)
            total = feed.total_results if feed.total_results is not None else 0
            if not feed.records:
                if start >= total:
                    return
                # arXiv sometimes answers an empty page mid-way through a result set; ask again.
                if empty_retries >= settings.http_retries:
                    raise SourceError(
                        f"arXiv API kept answering an empty page at start={start} of {total} "
                        f"({location})"
                    )
                empty_retries += 1
                http.sleep(settings.http_backoff * 2 ** (empty_retries - 1))
                continue
            empty_retries = 0
            yield from feed.records
            got += len(feed.records)
            start += len(feed.records)
            if start >= total:
                return
    finally:
        if http is not client:
            http.close()


def search_page(http: HttpClient, query: str, start: int, size: int) -> AtomFeed:
    """One page of an API search, newest submissions first; SourceError on an error answer."""
    params: dict[str, str | int] = {
        "search_query": query,
        "start": start,
        "max_results": size,
        "sortBy": "submittedDate",
        "sortOrder": "descending",
    }
    return _fetch_feed(http, params)[0]
