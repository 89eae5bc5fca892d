"""Records from a URL: arXiv API and OAI-PMH URLs are paged, HF API URLs fetched, others
downloaded."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx

from paperfeed.core.errors import BadRequest, RecordError
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.sources import arxiv_api, arxiv_oai, hf_daily
from paperfeed.sources.files import GZIP_MAGIC
from paperfeed.sources.formats import PEEK, check_format, detect_bytes, parse_bytes
from paperfeed.sources.http import HttpClient, as_http

DEFAULT_SEARCH_RESULTS = 100


def _day(query: dict[str, str], key: str, url: str) -> date | None:
    value = query.get(key)
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise BadRequest(f"{key}={value!r} in {url} is not a date (expected YYYY-MM-DD)") from None


def _count(query: dict[str, str], key: str, default: int, url: str) -> int:
    value = query.get(key)
    if value is None:
        return default
    if not value.isdigit():
        raise BadRequest(f"{key}={value!r} in {url} is not a whole number")
    return int(value)


def _oai(
    url: str, base: str, query: dict[str, str], settings: Settings, http: HttpClient
) -> Iterator[Paper | RecordError]:
    if query.get("verb") == "GetRecord":
        return _download(url, settings, http, "oai-pmh")
    if query.get("verb") != "ListRecords":
        raise BadRequest(
            "only OAI-PMH verb=ListRecords or GetRecord can be ingested, not "
            f"{query.get('verb')!r} ({url})"
        )
    prefix = query.get("metadataPrefix", "arXiv")
    if "resumptionToken" not in query and prefix not in arxiv_oai.PREFIXES:
        raise BadRequest(
            f"metadataPrefix={prefix!r} is not supported; use {' or '.join(arxiv_oai.PREFIXES)}"
        )
    return arxiv_oai.Harvest(
        settings,
        http,
        _day(query, "from", url),
        _day(query, "until", url),
        query.get("set"),
        prefix if prefix in arxiv_oai.PREFIXES else "arXiv",
        query.get("resumptionToken"),
        base_url=base,
    )


def _arxiv(
    url: str, base: str, query: dict[str, str], settings: Settings, http: HttpClient
) -> Iterator[Paper | RecordError]:
    settings = with_overrides(settings, arxiv_api_url=base)
    if query.get("id_list") and not query.get("search_query"):
        return arxiv_api.fetch_arxiv_ids(query["id_list"].split(","), settings, http)
    if not query.get("search_query"):
        raise BadRequest(f"an arXiv API URL needs search_query or id_list ({url})")
    return arxiv_api.search_arxiv(
        query["search_query"],
        settings,
        http,
        max_results=_count(query, "max_results", DEFAULT_SEARCH_RESULTS, url),
        start=_count(query, "start", 0, url),
        sort_by=query.get("sortBy", "submittedDate"),
        sort_order=query.get("sortOrder", "descending"),
    )


def _download(
    url: str, settings: Settings, http: HttpClient, fmt: str | None
) -> Iterator[Paper | RecordError]:
    response = http.get(url)
    data = response.content
    if not data.strip():
        raise BadRequest(f"{url} answered an empty body: nothing to read")
    head = gzip.decompress(data)[:PEEK] if data[:2] == GZIP_MAGIC else data[:PEEK]
    return parse_bytes(data, url, fmt or detect_bytes(head, url))


def _route(
    url: str, settings: Settings, fmt: str | None, http: HttpClient
) -> Iterator[Paper | RecordError]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    if fmt in (None, "oai-pmh") and "verb" in query:
        return _oai(url, base, query, settings, http)
    if fmt in (None, "arxiv-atom") and parts.path.rstrip("/").endswith("/api/query"):
        return _arxiv(url, base, query, settings, http)
    if (
        fmt in (None, "hf-daily")
        and parts.path.rstrip("/").endswith("/api/daily_papers")
        and query.get("date")
    ):
        day = _day(query, "date", url)
        assert day is not None
        return hf_daily.fetch_hf_daily(day, with_overrides(settings, hf_api_url=base), http)
    return _download(url, settings, http, fmt)


def fetch_records(
    url: str,
    settings: Settings,
    fmt: str | None = None,
    client: HttpClient | httpx.Client | None = None,
) -> Iterator[Paper | RecordError]:
    """Records from a URL (lazy); BadRequest up front for a bad URL or format, SourceError on
    failure."""
    if fmt is not None:
        check_format(fmt)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"not an http(s) URL: {url!r}")
    return _fetch(url, settings, fmt, client)


def _fetch(
    url: str, settings: Settings, fmt: str | None, client: HttpClient | httpx.Client | None
) -> Iterator[Paper | RecordError]:
    http = as_http(client, settings)
    try:
        yield from _route(url, settings, fmt, http)
    finally:
        if http is not client:
            http.close()
