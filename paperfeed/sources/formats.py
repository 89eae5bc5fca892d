"""Input formats: their names, detection from content, and reading a local file or downloaded
bytes."""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from paperfeed.core.errors import BadRequest, RecordError
from paperfeed.core.models import Paper
from paperfeed.sources import arxiv_api, arxiv_oai, bulk, hf_daily, hf_pages
from paperfeed.sources.files import GZIP_MAGIC, decode, iter_lines, peek, read_bytes

FORMATS: dict[str, str] = {
    "jsonl": "JSON Lines, one paper per line: arXiv listing dumps (like arxiv-74k), Kaggle arXiv "
             "metadata or generic fields",
    "arxiv-dump": "the Kaggle arXiv metadata dump (JSON Lines with versions/authors_parsed)",
    "csv": "CSV with a header row naming the fields (title, abstract, authors 'A; B', categories, "
           "...)",
    "json": "a JSON array of paper objects with the generic fields",
    "hf-daily": "Hugging Face Daily Papers: hf_bot JSON Lines, an object keyed by arXiv id, or an "
                "/api/daily_papers list",
    "hf-page": "text saved from a Hugging Face papers listing page (title and abstract lines)",
    "arxiv-atom": "an arXiv API Atom feed (export.arxiv.org/api/query)",
    "oai-pmh": "an OAI-PMH ListRecords response in the arXiv or arXivRaw metadata format",
}
PEEK = 65536
_XML_ROOT = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s>/]")
_XML_PROLOG = re.compile(r"^(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)
_HF_LINE_KEYS = frozenset({"paper_id", "summary_en"})


def valid_formats() -> str:
    """The format names, for error messages."""
    return ", ".join(sorted(FORMATS))


def check_format(fmt: str) -> str:
    """The format name itself, or BadRequest naming the valid ones."""
    if fmt not in FORMATS:
        raise BadRequest(f"unknown format {fmt!r}; valid formats: {valid_formats()}")
    return fmt


def _unknown(name: str, why: str) -> BadRequest:
    return BadRequest(
        f"cannot tell the format of {name}: {why}; valid formats: {valid_formats()} (give one "
        "with --format)"
    )


def _json_flavour(text: str, name: str) -> str:
    if re.search(r'"version"\s*:\s*"https?://jsonfeed\.org/', text[:PEEK]):
        raise _unknown(
            name,
            "unknown format: JSON Feed (a feed of links, not paper records; ingest the arXiv"
            " ids it links to, e.g. https://export.arxiv.org/api/query?id_list=...)",
        )
    if text.startswith("["):
        return "hf-daily" if re.search(r'"paper"\s*:\s*\{', text[:PEEK]) else "json"
    if hf_daily.is_keyed_object(text[:4096].encode()):
        return "hf-daily"
    first = text.split("\n", 1)[0]
    try:
        rec = json.loads(first)
    except ValueError:
        if text.startswith("{") and "\n" in text[:4096] and len(first) < 4096:
            # One pretty-printed object: a Daily Papers wrapper or record, or a generic paper.
            head = text[:PEEK]
            if re.search(r'"(?:papers|paper_id|summary_en)"\s*:', head):
                return "hf-daily"
            return "json"
        return "jsonl"  # a first line too long for the peek, or a bad one: reported per line later
    if not isinstance(rec, dict):
        raise _unknown(name, "a JSON value that is not an object per line")
    if _HF_LINE_KEYS & rec.keys() or isinstance(rec.get("paper"), dict):
        return "hf-daily"
    return "arxiv-dump" if bulk.is_dump_record(rec) else "jsonl"


def _looks_like_csv(text: str) -> bool:
    first = text.split("\n", 1)[0]
    try:
        header = next(csv.reader([first]))
    except (csv.Error, StopIteration):
        return False
    names = {h.strip().lstrip("\ufeff").lower() for h in header}
    return len(header) > 1 and "title" in names


def detect_bytes(head: bytes, name: str) -> str:
    """The format of content from its first bytes (decompressed); BadRequest when none fits."""
    text = decode(head).lstrip()
    if not text:
        raise BadRequest(f"{name} is empty: nothing to read; valid formats: {valid_formats()}")
    if text.startswith("<"):
        prolog = _XML_PROLOG.match(text)
        body = text[prolog.end() :] if prolog else text  # the pattern matches '', so always
        root = _XML_ROOT.match(body)
        tag = root.group(1) if root else ""
        if tag == "feed":
            return "arxiv-atom"
        if tag == "OAI-PMH":
            return "oai-pmh"
        if tag in ("rss", "rdf:RDF", "RDF"):
            raise _unknown(
                name,
                "unknown format: RSS (a feed of links, not paper records; ingest the arXiv ids"
                " it links to, e.g. https://export.arxiv.org/api/query?id_list=...)",
            )
        raise _unknown(name, f"XML with root <{tag or '?'}> is neither an Atom feed nor OAI-PMH")
    if text.startswith(("{", "[")):
        return _json_flavour(text, name)
    if hf_pages.looks_like_page(text):
        return "hf-page"
    if _looks_like_csv(text):
        return "csv"
    if "\x00" in text[:1024] or sum(not (c.isprintable() or c.isspace()) for c in text[:1024]) > 8:
        raise _unknown(name, "binary content")
    raise _unknown(name, "the content is none of the known formats")


def detect_format(path: Path) -> str:
    """The format of a file from its content (through gzip); BadRequest for empty or unknown
    content."""
    return detect_bytes(peek(path, PEEK), str(path))


def _json_array(data: bytes, name: str) -> Iterator[Paper | RecordError]:
    try:
        decoded = json.loads(decode(data))
    except ValueError as exc:
        yield RecordError(name, f"invalid JSON: {exc}")
        return
    if isinstance(decoded, dict):  # one pretty-printed paper object
        decoded = [decoded]
    yield from bulk.parse_json_array(decoded, name)


def parse_bytes(data: bytes, name: str, fmt: str) -> Iterator[Paper | RecordError]:
    """Records from whole content in a known format (used for downloads); `name` locates errors."""
    check_format(fmt)
    if data[:2] == GZIP_MAGIC:
        data = gzip.decompress(data)
    if fmt in ("jsonl", "arxiv-dump"):
        source = bulk.SOURCE_DUMP if fmt == "arxiv-dump" else bulk.SOURCE_JSONL
        return bulk.parse_jsonl(enumerate(data.splitlines(), start=1), name, source)
    readers: dict[str, Callable[[bytes, str], Iterator[Paper | RecordError]]] = {
        "csv": lambda d, n: bulk.parse_csv(decode(d).splitlines(keepends=True), n),
        "json": _json_array,
        "hf-daily": hf_daily.parse_hf_daily,
        "hf-page": lambda d, n: hf_pages.parse_hf_page(decode(d), n),
        "arxiv-atom": lambda d, n: iter(arxiv_api.parse_atom(d, n).records),
        "oai-pmh": lambda d, n: iter(arxiv_oai.parse_list_records(d, n).records),
    }
    return readers[fmt](data, name)


def _read(path: Path, fmt: str) -> Iterator[Paper | RecordError]:
    name = str(path)
    if fmt == "jsonl":
        return bulk.read_jsonl(path)
    if fmt == "arxiv-dump":
        return bulk.read_jsonl(path, bulk.SOURCE_DUMP)
    if fmt == "csv":
        return bulk.read_csv(path)
    if fmt == "hf-daily":
        return hf_daily.read_hf_daily(path)
    if fmt == "hf-page":
        return hf_pages.parse_hf_page("\n".join(line for _, line in iter_lines(path)), name)
    return parse_bytes(read_bytes(path), name, fmt)


def read_records(path: Path, fmt: str | None = None) -> Iterator[Paper | RecordError]:
    """Records from a local file, format detected from content unless given; BadRequest up front."""
    if fmt is not None:
        check_format(fmt)
    if not path.exists():
        raise BadRequest(f"no such file: {path}")
    if not path.is_file():
        raise BadRequest(f"not a file: {path}")
    head = peek(path, PEEK)
    if not decode(head).strip():
        raise BadRequest(f"{path} is empty: nothing to read")
    return _read(path, fmt or detect_bytes(head, str(path)))
