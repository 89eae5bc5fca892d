"""arXiv over OAI-PMH: a pure ListRecords parser (arXiv and arXivRaw formats) and a harvester.

Reference: https://www.openarchives.org/OAI/openarchivesprotocol.html and
https://info.arxiv.org/help/oa/index.html.
A harvest sends verb=ListRecords with metadataPrefix and
optional from/until/set, then follows resumptionTokens; a follow-up request carries only the verb
and the token. `noRecordsMatch` is an empty result, not a failure. Deleted records (header
status="deleted") yield nothing and are counted in `Harvest.deleted`.

Incremental harvests: iterate a `harvest(...)` to the end, then store its `last_datestamp` (the
largest header datestamp of the harvest; it is only set once every page has been read, because OAI
does not order records by datestamp). Next time pass it as `from_date`: `from` is inclusive and day
granular, so that day comes again, which is harmless because ingest merges idempotently.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from xml.etree.ElementTree import Element

import httpx

from paperfeed.core.errors import RecordError, SourceError
from paperfeed.core.models import Paper, normalise_space, split_arxiv_id
from paperfeed.core.settings import Settings
from paperfeed.sources.arxiv_meta import (
    announced_from_datestamp,
    clean_license,
    dois_of,
    is_withdrawn,
    withdrawn_by_size,
)
from paperfeed.sources.fields import (
    FieldError,
    categories_of,
    date_of,
    split_authors_affiliations,
    squash,
)
from paperfeed.sources.http import HttpClient, as_http
from paperfeed.sources.oai_dc import OAI_DC, dc_to_paper
from paperfeed.sources.tex import detex_paper
from paperfeed.sources.xmldoc import child_text, local, parse_xml

SOURCE = "arxiv-oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV_NS = "{http://arxiv.org/OAI/arXiv/}"
RAW_NS = "{http://arxiv.org/OAI/arXivRaw/}"
PREFIXES = ("arXiv", "arXivRaw", "oai_dc")
EMPTY_RESULT = "noRecordsMatch"
# noRecordsMatch is also how arXiv (and the OAI toolkits) refuse a set that does not exist:
# "Set argument doesn't match any sets. The setSpec was 'cs.XX'". That is an error, not a quiet day.
_UNKNOWN_SET = re.compile(
    r"\bset\b.*\b(?:doesn'?t|does not|do not|don'?t)\s+match|\b(?:unknown|invalid|no such)\s+set",
    re.IGNORECASE,
)


@dataclass
class OaiPage:
    """One parsed ListRecords response."""

    records: list[Paper | RecordError] = field(default_factory=list)
    resumption_token: str | None = None  # None on the last page
    complete_list_size: int | None = None
    max_datestamp: date | None = (
        None  # largest header datestamp on the page, deleted records included
    )
    deleted: list[str] = field(default_factory=list)  # OAI identifiers of deleted records
    oai_error: str | None = None  # 'code: message' of an OAI error other than noRecordsMatch
    error: str | None = None  # the document was malformed or cut off: records may be partial


def _author_name(author: Element) -> str:
    parts = (child_text(author, f"{ARXIV_NS}{tag}") for tag in ("forenames", "keyname", "suffix"))
    return normalise_space(" ".join(parts))


def _from_arxiv(meta: Element) -> Paper:
    ident = child_text(meta, f"{ARXIV_NS}id").strip()
    # A name without a letter or digit (arXiv's ':' after a collaboration) is no author.
    named = [(a, _author_name(a)) for a in meta.iter(f"{ARXIV_NS}author")]
    named = [(a, n) for a, n in named if any(c.isalnum() for c in n)]
    authors = tuple(name for _, name in named if name)
    affiliations = tuple(
        tuple(
            t
            for t in (squash("".join(f.itertext())) for f in a.findall(f"{ARXIV_NS}affiliation"))
            if t
        )
        for a, name in named
        if name
    )
    return _paper(
        meta,
        ARXIV_NS,
        ident,
        None,
        authors,
        published=date_of(child_text(meta, f"{ARXIV_NS}created").strip() or None, "created"),
        updated=date_of(child_text(meta, f"{ARXIV_NS}updated").strip() or None, "updated"),
        affiliations=affiliations if any(affiliations) else (),
    )


def _from_raw(meta: Element) -> Paper:
    ident = child_text(meta, f"{RAW_NS}id").strip()
    versions: list[tuple[int, date | None, str]] = []
    for v in meta.findall(f"{RAW_NS}version"):
        label = (v.get("version") or "").lstrip("v")
        if not label.isdigit():
            raise FieldError(f"version: {v.get('version')!r} is not a version like 'v2'")
        day = date_of(child_text(v, f"{RAW_NS}date").strip() or None, "version date")
        versions.append((int(label), day, child_text(v, f"{RAW_NS}size")))
    versions.sort(key=lambda v: v[0])
    authors, affiliations = split_authors_affiliations(child_text(meta, f"{RAW_NS}authors"))
    paper = _paper(
        meta,
        RAW_NS,
        ident,
        versions[-1][0] if versions else None,
        authors,
        published=versions[0][1] if versions else None,
        updated=versions[-1][1] if len(versions) > 1 else None,
        versions=tuple(n for n, _, _ in versions),
        affiliations=affiliations,
    )
    if withdrawn_by_size([size for _, _, size in versions]) and not paper.withdrawn:
        return replace(paper, withdrawn=True)
    return paper


def _paper(
    meta: Element,
    ns: str,
    ident: str,
    version: int | None,
    authors: tuple[str, ...],
    published: date | None,
    updated: date | None,
    versions: tuple[int, ...] = (),
    affiliations: tuple[tuple[str, ...], ...] = (),
) -> Paper:
    try:
        arxiv_id, id_version = split_arxiv_id(ident)
    except ValueError:
        raise FieldError(f"id: {ident!r} is not an arXiv id") from None
    title = squash(child_text(meta, f"{ns}title"))
    if not title:
        raise FieldError("record has no title")
    comment = squash(child_text(meta, f"{ns}comments")) or None
    abstract = squash(child_text(meta, f"{ns}abstract"))
    dois = dois_of(child_text(meta, f"{ns}doi"))
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        version=version or id_version,
        authors=authors,
        categories=categories_of(child_text(meta, f"{ns}categories")),
        published=published,
        updated=updated,
        comment=comment,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        source=SOURCE,
        versions=versions,
        doi=dois[0] if dois else None,
        dois=dois,
        journal_ref=squash(child_text(meta, f"{ns}journal-ref")) or None,
        license=clean_license(child_text(meta, f"{ns}license")),
        withdrawn=is_withdrawn(comment, abstract),
        affiliations=affiliations,
    )


def _record(record: Element, where: str, page: OaiPage) -> Paper | RecordError | None:
    header = record.find(f"{OAI}header")
    if header is None:
        return RecordError(where, "record has no <header>")
    identifier = child_text(header, f"{OAI}identifier").strip()
    try:
        stamp = date_of(child_text(header, f"{OAI}datestamp").strip() or None, "datestamp")
    except FieldError as exc:
        return RecordError(where, str(exc))
    if stamp and (page.max_datestamp is None or stamp > page.max_datestamp):
        page.max_datestamp = stamp
    if header.get("status") == "deleted":
        page.deleted.append(identifier)
        return None
    metadata = record.find(f"{OAI}metadata")
    meta = next(iter(metadata), None) if metadata is not None else None
    if meta is None:
        return RecordError(where, f"record {identifier or '?'} has no metadata")
    try:
        if meta.tag == f"{ARXIV_NS}arXiv":
            paper = _from_arxiv(meta)
        elif meta.tag == f"{RAW_NS}arXivRaw":
            paper = _from_raw(meta)
        elif meta.tag == OAI_DC:
            paper = dc_to_paper(meta, SOURCE)
        else:
            return RecordError(
                where,
                f"record {identifier or '?'}: unsupported metadata format <{local(meta.tag)}>"
                " (use arXiv, arXivRaw or oai_dc)",
            )
    except FieldError as exc:
        return RecordError(where, f"record {identifier or '?'}: {exc}")
    paper = detex_paper(paper)
    version = paper.version or (2 if paper.updated else 1)  # arXiv format: <updated> only after v1
    announced = announced_from_datestamp(stamp, paper.published, version)
    return replace(paper, announced_on=announced) if announced else paper


def parse_list_records(xml_bytes: bytes, location: str) -> OaiPage:
    """Parse one ListRecords response; never raises on bad XML (see OaiPage.error and oai_error)."""
    doc = parse_xml(xml_bytes, location)
    page = OaiPage(error=doc.error)
    root = doc.root
    if root is None:
        return page
    if root.tag != f"{OAI}OAI-PMH":
        page.error = (
            page.error or f"{location}: expected an <OAI-PMH> document, got <{local(root.tag)}>"
        )
        return page
    for err in root.findall(f"{OAI}error"):
        code = err.get("code", "unknown")
        message = squash("".join(err.itertext())) or "no message"
        if code != EMPTY_RESULT:
            page.oai_error = f"{code}: {message}"
        elif _UNKNOWN_SET.search(message):
            page.oai_error = f"{code} (unknown set): {message}"
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        listing = root.find(f"{OAI}GetRecord")  # one record, no resumption token
    answered = [
        local(c.tag) for c in root if local(c.tag) not in ("responseDate", "request", "error")
    ]
    if listing is None and answered and not page.oai_error and not page.error:
        page.error = (
            f"{location}: OAI-PMH answer <{answered[0]}> holds no records"
            " (only ListRecords and GetRecord can be ingested)"
        )
    if listing is not None:
        for number, record in enumerate(listing.findall(f"{OAI}record"), start=1):
            if not doc.finished(record):
                break  # the record the document was cut in
            item = _record(record, f"{location}#{number}", page)
            if item is not None:
                page.records.append(item)
        token = listing.find(f"{OAI}resumptionToken")
        if token is not None and doc.finished(token):
            page.resumption_token = (token.text or "").strip() or None
            size = token.get("completeListSize", "")
            page.complete_list_size = int(size) if size.isdigit() else None
    if page.oai_error:
        page.records.append(RecordError(location, f"OAI-PMH error {page.oai_error}"))
    if page.error:
        page.records.append(RecordError(location, page.error.removeprefix(f"{location}: ")))
    return page


class Harvest:
    """An incremental ListRecords harvest: iterate it for records; read its counters afterwards."""

    def __init__(
        self,
        settings: Settings,
        client: HttpClient | httpx.Client | None = None,
        from_date: date | None = None,
        until: date | None = None,
        set_spec: str | None = None,
        prefix: str = "arXiv",
        resumption_token: str | None = None,
        base_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.base_url = base_url or settings.arxiv_oai_url
        self.params = list_params(from_date, until, set_spec, prefix)
        self.resumption_token = resumption_token  # after a failure: where a retry can pick up
        self.pages = 0
        self.deleted = 0
        self.complete_list_size: int | None = None
        self.max_datestamp_seen: date | None = None
        self.last_datestamp: date | None = None  # set only when the whole list was harvested
        self._records = self._run()

    def __iter__(self) -> Harvest:
        return self

    def __next__(self) -> Paper | RecordError:
        return next(self._records)

    def _run(self) -> Iterator[Paper | RecordError]:
        http = as_http(self.client, self.settings)
        limit = max(1, self.settings.sources_max_requests)
        try:
            for page in list_pages(http, self.base_url, self.params, self.resumption_token):
                self.pages += 1
                self.deleted += len(page.deleted)
                if page.complete_list_size is not None:
                    self.complete_list_size = page.complete_list_size
                if page.max_datestamp and (
                    self.max_datestamp_seen is None or page.max_datestamp > self.max_datestamp_seen
                ):
                    self.max_datestamp_seen = page.max_datestamp
                yield from page.records
                self.resumption_token = page.resumption_token
                if self.resumption_token and self.pages >= limit:
                    raise SourceError(
                        f"OAI-PMH list still not finished after {self.pages} pages"
                        f" (sources_max_requests={self.settings.sources_max_requests}); resume "
                        "from token"
                        f" {self.resumption_token!r}"
                    )
            self.last_datestamp = self.max_datestamp_seen
        finally:
            if http is not self.client:
                http.close()


def harvest(
    settings: Settings,
    client: HttpClient | httpx.Client | None = None,
    from_date: date | None = None,
    until: date | None = None,
    set_spec: str | None = None,
    prefix: str = "arXiv",
) -> Harvest:
    """Start a ListRecords harvest (lazy: nothing is fetched until it is iterated)."""
    return Harvest(settings, client, from_date, until, set_spec, prefix)


def list_params(
    from_date: date | None, until: date | None, set_spec: str | None, prefix: str = "arXiv"
) -> dict[str, str]:
    """The query of a first ListRecords request."""
    if prefix not in PREFIXES:
        raise ValueError(
            f"metadataPrefix {prefix!r} is not supported; use one of {', '.join(PREFIXES)}"
        )
    params = {"verb": "ListRecords", "metadataPrefix": prefix}
    if from_date:
        params["from"] = from_date.isoformat()
    if until:
        params["until"] = until.isoformat()
    if set_spec:
        params["set"] = set_spec
    return params


def fetch_page(
    http: HttpClient, base_url: str, params: dict[str, str] | None, token: str | None
) -> OaiPage:
    """One ListRecords page: the first (params) or a follow-up (token); SourceError on unusable
    answers."""
    query = {"verb": "ListRecords", "resumptionToken": token} if token else params
    response = http.get(base_url, params=query)
    location = str(response.url)
    page = parse_list_records(response.content, location)
    if page.error:
        raise SourceError(f"OAI-PMH answered unusable XML: {page.error}")
    if page.oai_error:
        raise SourceError(f"OAI-PMH error from {location}: {page.oai_error}")
    return page


def list_pages(
    http: HttpClient, base_url: str, params: dict[str, str], token: str | None = None
) -> Iterator[OaiPage]:
    """Every page of a ListRecords list, from `params` (or from `token`, resuming), following the
    resumption tokens; SourceError when the server answers a token it answered before (a page
    carrying such a token is not given out).

    A caller bounds how many pages it takes.
    """
    seen: set[str] = set()
    while True:
        page = fetch_page(http, base_url, params, token)
        token = page.resumption_token
        if token in seen:
            raise SourceError(
                f"OAI-PMH answered the resumption token {token!r} twice: the list never ends"
            )
        yield page
        if not token:
            return
        seen.add(token)


MAX_SET_PAGES = 20


def parse_list_sets(xml_bytes: bytes, location: str) -> tuple[list[str], str | None]:
    """The setSpecs of one ListSets answer and its resumption token; SourceError when unusable."""
    doc = parse_xml(xml_bytes, location)
    root = doc.root
    if doc.error or root is None or root.tag != f"{OAI}OAI-PMH":
        raise SourceError(
            f"OAI-PMH ListSets answered unusable XML at {location}: {doc.error or 'not OAI-PMH'}"
        )
    for err in root.findall(f"{OAI}error"):
        raise SourceError(
            f"OAI-PMH error from {location}: {err.get('code', 'unknown')}: "
            f"{squash(''.join(err.itertext()))}"
        )
    listing = root.find(f"{OAI}ListSets")
    if listing is None:
        raise SourceError(f"OAI-PMH answer at {location} holds no <ListSets>")
    specs = [child_text(s, f"{OAI}setSpec").strip() for s in listing.findall(f"{OAI}set")]
    token = listing.find(f"{OAI}resumptionToken")
    return [s for s in specs if s], (
        (token.text or "").strip() or None
    ) if token is not None else None


def list_sets(http: HttpClient, base_url: str) -> list[str]:
    """Every set the repository lists (verb=ListSets, tokens followed, at most MAX_SET_PAGES
    pages)."""
    specs: list[str] = []
    token: str | None = None
    for _ in range(MAX_SET_PAGES):
        params = {"verb": "ListSets", **({"resumptionToken": token} if token else {})}
        response = http.get(base_url, params=params)
        page, token = parse_list_sets(response.content, str(response.url))
        specs.extend(page)
        if not token:
            return specs
    raise SourceError(
        f"OAI-PMH ListSets at {base_url} still not finished after {MAX_SET_PAGES} pages"
    )
