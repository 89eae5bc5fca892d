"""Property-based tests on mutated real responses (../shared/data/recorded): every reader answers a
clear error (BadRequest up front, or RecordErrors naming where and why) and never crashes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from paperfeed.core.errors import BadRequest, RecordError
from paperfeed.core.models import Paper
from paperfeed.sources import detect_bytes, parse_bytes
from paperfeed.sources.arxiv_api import parse_atom
from paperfeed.sources.arxiv_oai import parse_list_records
from tests.conftest import SHARED

RECORDED = SHARED / "recorded"
XML_FILES = [
    "oai-pmh/hepcrawl-listrecords-arXiv-hep-th-2017-12-14.xml",
    "oai-pmh/inspire-getrecord-arXiv-1305.0014.xml",
    "oai-pmh/sickle-ListRecords-oai_dc.xml",
    "oai-pmh/sickle-noRecordsMatch.xml",
    "arxiv-api/arxivpy-2016-id_list-1111.2011v2.xml",
    "arxiv-api/arxivpy-2026-id_abc_s0_m100_b79c8dcf6bc3.xml",
    "arxiv-api/arxivpy-2026-q_testing_s0_m10_bc5a6c384fe9.xml",
]
JSON_FILES = ["hf-daily/hfbot-dates-2026-02-02.json", "hf-daily/hfbot-paper-2601.13097.json"]
pytestmark = pytest.mark.skipif(not RECORDED.exists(), reason=f"shared data not found: {RECORDED}")
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


def _consume(data: bytes, name: str) -> list[Paper | RecordError]:
    """Detect and parse as the ingest does: BadRequest is a clear refusal; anything else must not
    escape."""
    try:
        fmt = detect_bytes(data[:65536], name)
        items = list(parse_bytes(data, name, fmt))
    except BadRequest as exc:
        assert exc.message and name in exc.message or "format" in exc.message
        return []
    for item in items:
        assert isinstance(item, (Paper, RecordError))
        if isinstance(item, RecordError):
            assert item.location.startswith(name) and item.reason.strip()
        else:
            assert item.title.strip()
    return items


@st.composite
def mutated(draw: st.DrawFn, files: list[str]) -> tuple[str, bytes]:
    name = draw(st.sampled_from(files))
    data = bytearray(_read(name))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(["cut", "delete", "insert", "replace", "duplicate"]))
        span = draw(st.integers(1, 200))
        if kind == "cut":
            del data[at:]
        elif kind == "delete":
            del data[at : at + span]
        elif kind == "insert":
            data[at:at] = draw(
                st.binary(max_size=40)
                | st.sampled_from(
                    [
                        b"<",
                        b"</record>",
                        b"&bogus;",
                        b"\x00",
                        b'"',
                        b"{",
                        b"]",
                        b"<entry>",
                        b"\xff\xfe",
                        b"<!DOCTYPE x>",
                    ]
                )
            )
        elif kind == "replace":
            data[at : at + span] = draw(st.binary(min_size=1, max_size=span))
        else:
            data[at:at] = data[at : at + span]
        if not data:
            break
    return name, bytes(data)


@FUZZ
@given(mutated(XML_FILES))
def test_mutated_xml_gives_clear_errors(case: tuple[str, bytes]) -> None:
    name, data = case
    _consume(data, name)
    for page in (parse_list_records(data, name).records, parse_atom(data, name).records):
        assert all(isinstance(r, (Paper, RecordError)) for r in page)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:5]):
            out += _paths(v, (*prefix, i))
    return out


def _api_list() -> bytes:
    """The recorded day as Hugging Face's /api/daily_papers answers it (the replay server's
    shape)."""
    from datetime import date

    from tests.replay_server import hf_item

    day = json.loads(_read(JSON_FILES[0]))
    return json.dumps([hf_item(r, date(2026, 2, 3)) for r in day["papers"][:8]]).encode()


@FUZZ
@given(st.sampled_from([*JSON_FILES, "api"]), st.data())
def test_mutated_json_values_give_clear_errors(name: str, data: st.DataObject) -> None:
    doc = json.loads(_api_list() if name == "api" else _read(name))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        value = data.draw(_JSON)
        if not path:
            doc = value
            continue
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    text = json.dumps(doc, indent=data.draw(st.sampled_from([None, 2]))).encode()
    _consume(text, name)


@FUZZ
@given(mutated(JSON_FILES))
def test_mutated_json_bytes_give_clear_errors(case: tuple[str, bytes]) -> None:
    name, data = case
    _consume(data, name)


def test_the_unmutated_shapes_are_read() -> None:
    """The baseline: every recorded response is read whole, with the counts the files hold."""
    counts = {
        name: len([r for r in _consume(_read(name), name) if isinstance(r, Paper)])
        for name in XML_FILES + JSON_FILES
    }
    assert counts == {
        "oai-pmh/hepcrawl-listrecords-arXiv-hep-th-2017-12-14.xml": 3,
        "oai-pmh/inspire-getrecord-arXiv-1305.0014.xml": 1,
        "oai-pmh/sickle-ListRecords-oai_dc.xml": 1,  # and one deleted record
        "oai-pmh/sickle-noRecordsMatch.xml": 0,
        "arxiv-api/arxivpy-2016-id_list-1111.2011v2.xml": 1,
        "arxiv-api/arxivpy-2026-id_abc_s0_m100_b79c8dcf6bc3.xml": 0,  # an API error entry
        "arxiv-api/arxivpy-2026-q_testing_s0_m10_bc5a6c384fe9.xml": 10,
        "hf-daily/hfbot-dates-2026-02-02.json": 41,
        "hf-daily/hfbot-paper-2601.13097.json": 1,
    }
    big = RECORDED / "oai-pmh/scrapi-listrecords-oai_dc-2014-12-24.xml"
    items = _consume(big.read_bytes(), str(big))
    assert len(items) == 897 and all(isinstance(i, Paper) and i.arxiv_id for i in items)
