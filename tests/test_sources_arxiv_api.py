"""The arXiv API: the Atom parser on real-shaped responses, and the fetchers against a local
server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from paperfeed.core.errors import RecordError, SourceError
from paperfeed.core.models import Paper
from paperfeed.sources import arxiv_api
from paperfeed.sources.arxiv_api import fetch_arxiv_ids, parse_atom, search_arxiv
from tests.sources_server import (
    Reply,
    ScriptedServer,
    Seen,
    Sleeps,
    fixture,
    quick_client,
    serve,
    settings_for,
)

FEED_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
    '  <title type="html">ArXiv Query: {query}</title>\n'
    "  <id>http://arxiv.org/api/TESTFEED</id>\n  <updated>2025-03-20T00:00:00-04:00</updated>\n"
    '  <opensearch:totalResults '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>\n'
    '  <opensearch:startIndex '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}</opensearch:startIndex>\n'
    '  <opensearch:itemsPerPage '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{size}</opensearch:itemsPerPage>\n'
)
ENTRY = """  <entry>
    <id>http://arxiv.org/abs/{ident}v1</id>
    <updated>2025-03-0{day}T10:00:00Z</updated>
    <published>2025-03-0{day}T10:00:00Z</published>
    <title>Paper number {n}</title>
    <summary>  Abstract of paper
number {n}.
</summary>
    <author><name>Author {n}</name></author>
    <link href="http://arxiv.org/abs/{ident}v1" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{ident}v1" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
"""


def ident(n: int) -> str:
    """The fake arXiv id of paper n."""
    return f"2503.{10000 + n}"


def feed(numbers: list[int], total: int, start: int, query: str = "x") -> bytes:
    """An API answer holding papers `numbers` out of `total`."""
    entries = "".join(ENTRY.format(ident=ident(n), n=n, day=1 + n % 9) for n in numbers)
    head = FEED_HEAD.format(query=query, total=total, start=start, size=len(numbers))
    return (head + entries + "</feed>\n").encode()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve() as s:
        yield s


def test_parse_atom_reads_every_field_of_real_entries() -> None:
    page = parse_atom(fixture("arxiv_atom.xml"), "api")
    assert page.error is None and page.total_results == 2 and page.items_per_page == 2
    first, second = page.records
    assert isinstance(first, Paper) and isinstance(second, Paper)
    assert first.arxiv_id == "2503.11731" and first.version == 2
    assert first.title == (
        "Industrial-Grade Sensor Simulation via Gaussian Splatting: A Modular Framework for "
        "Scalable Editing and Full-Stack Validation"
    )
    assert first.abstract.startswith("Sensor simulation is pivotal") and "\n" not in first.abstract
    assert first.authors == ("Xianming Zeng", "Sicong Du", "Qiang Li")
    assert first.categories == ("cs.RO", "cs.CV")  # primary first, no repeats
    assert first.published == date(2025, 3, 14) and first.updated == date(2025, 3, 19)
    assert first.comment == "12 pages, 8 figures"
    assert first.abs_url == "http://arxiv.org/abs/2503.11731v2"
    assert first.pdf_url == "http://arxiv.org/pdf/2503.11731v2"
    assert first.source == "arxiv-api"
    assert second.arxiv_id == "hep-ex/0307015" and second.version == 1
    assert second.authors == ("H1 Collaboration",) and second.published == date(2003, 7, 7)


def test_an_api_error_entry_is_reported_not_a_paper() -> None:
    page = parse_atom(fixture("arxiv_atom_error.xml"), "api")
    assert page.api_error == "incorrect id format for 1234.12345"
    assert len(page.records) == 1 and isinstance(page.records[0], RecordError)
    assert page.records[0].location == "api#1"


def test_a_truncated_feed_keeps_whole_entries_and_reports_the_cut() -> None:
    data = fixture("arxiv_atom.xml")
    cut = data[: data.index(b"<entry>", data.index(b"</entry>")) + 200]
    page = parse_atom(cut, "api")
    assert page.error and "cut off" in page.error
    assert [type(r) for r in page.records] == [Paper, RecordError]
    assert isinstance(page.records[1], RecordError) and "line" in page.records[1].reason


def test_malformed_xml_and_dtds_are_errors_not_exceptions() -> None:
    assert "malformed" in (parse_atom(b"<feed><entry></feed>", "api").error or "")
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><feed>&a;</feed>'
    assert "DTD" in (parse_atom(bomb, "api").error or "")
    assert "empty" in (parse_atom(b"", "api").error or "")
    assert "Atom" in (parse_atom(b"<html></html>", "api").error or "")


def test_an_empty_entry_means_no_such_paper() -> None:
    empty = feed([], 1, 0).replace(
        b"</feed>", b"<entry><id>http://arxiv.org/abs/2503.99999</id><title></title></entry></feed>"
    )
    (record,) = parse_atom(empty, "api").records
    assert isinstance(record, RecordError) and "2503.99999" in record.reason


def test_search_pages_with_start_and_max_results(server: ScriptedServer) -> None:
    def answer(seen: Seen) -> Reply:
        start, size = int(seen.query["start"]), int(seen.query["max_results"])
        return Reply(feed(list(range(start, min(start + size, 7))), 7, start))

    server.script("/api/query", answer)
    with quick_client(settings_for(server)) as http:
        papers = list(search_arxiv("cat:cs.CL", http.settings, http, max_results=50, page_size=3))
    assert [p.arxiv_id for p in papers if isinstance(p, Paper)] == [ident(n) for n in range(7)]
    asked = [(r.query["start"], r.query["max_results"]) for r in server.paths("/api/query")]
    assert asked == [("0", "3"), ("3", "3"), ("6", "3")]
    assert server.paths("/api/query")[0].query["search_query"] == "cat:cs.CL"


def test_search_stops_at_max_results(server: ScriptedServer) -> None:
    server.script(
        "/api/query",
        lambda s: Reply(
            feed(
                list(
                    range(
                        int(s.query["start"]), int(s.query["start"]) + int(s.query["max_results"])
                    )
                ),
                1000,
                0,
            )
        ),
    )
    with quick_client(settings_for(server)) as http:
        papers = list(search_arxiv("all:x", http.settings, http, max_results=5, page_size=2))
    assert len(papers) == 5
    assert [r.query["max_results"] for r in server.paths("/api/query")] == ["2", "2", "1"]


def test_search_retries_an_empty_page_inside_the_result_set(server: ScriptedServer) -> None:
    server.add(
        "/api/query", Reply(feed([0, 1], 4, 0)), Reply(feed([], 4, 2)), Reply(feed([2, 3], 4, 2))
    )
    sleeps = Sleeps()
    with quick_client(settings_for(server), sleeps) as http:
        papers = list(search_arxiv("all:x", http.settings, http, max_results=10, page_size=2))
    assert len(papers) == 4 and len(sleeps.waits) == 1


def test_fetch_ids_in_chunks_and_reports_missing_and_bad_ids(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(arxiv_api, "ID_CHUNK", 2)

    def answer(seen: Seen) -> Reply:
        numbers = [
            int(i.split(".")[1].split("v")[0]) - 10000 for i in seen.query["id_list"].split(",")
        ]
        return Reply(feed([n for n in numbers if n != 2], 3, 0))

    server.script("/api/query", answer)
    wanted = [ident(0), f"https://arxiv.org/abs/{ident(1)}v1", ident(2), "not-an-id"]
    with quick_client(settings_for(server)) as http:
        items = list(fetch_arxiv_ids(wanted, http.settings, http))
    papers = [i for i in items if isinstance(i, Paper)]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert [p.arxiv_id for p in papers] == [ident(0), ident(1)]
    assert next(e.location for e in errors) == "arxiv:not-an-id"  # refused before asking arXiv
    assert errors[1].location.endswith(f"#{ident(2)}") and "no entry" in errors[1].reason
    assert len(errors) == 2
    assert [r.query["id_list"] for r in server.paths("/api/query")] == [
        f"{ident(0)},{ident(1)}v1",
        ident(2),
    ]


def test_fetch_ids_accepts_a_plain_httpx_client(server: ScriptedServer) -> None:
    server.add("/api/query", Reply(fixture("arxiv_atom.xml")))
    with httpx.Client() as raw:
        items = list(fetch_arxiv_ids(["2503.11731", "hep-ex/0307015"], settings_for(server), raw))
    assert [i.arxiv_id for i in items if isinstance(i, Paper)] == ["2503.11731", "hep-ex/0307015"]


def test_503_with_retry_after_then_success(server: ScriptedServer) -> None:
    server.add(
        "/api/query", Reply(b"", 503, {"Retry-After": "3"}), Reply(fixture("arxiv_atom.xml"))
    )
    sleeps = Sleeps()
    with quick_client(settings_for(server), sleeps) as http:
        items = list(fetch_arxiv_ids(["2503.11731", "hep-ex/0307015"], http.settings, http))
    assert len(items) == 2 and sleeps.waits == [3.0]


def test_an_api_error_answer_is_a_source_error(server: ScriptedServer) -> None:
    server.add("/api/query", Reply(fixture("arxiv_atom_error.xml"), 400))
    with (
        quick_client(settings_for(server)) as http,
        pytest.raises(SourceError, match="incorrect id format"),
    ):
        list(search_arxiv("id:1234.12345", http.settings, http))


def test_a_truncated_answer_is_a_clear_source_error(server: ScriptedServer) -> None:
    data = fixture("arxiv_atom.xml")
    server.add("/api/query", Reply(data[: len(data) // 2]))
    with quick_client(settings_for(server)) as http, pytest.raises(SourceError, match="cut off"):
        list(search_arxiv("all:x", http.settings, http))


def test_malformed_answer_is_a_clear_source_error(server: ScriptedServer) -> None:
    server.add(
        "/api/query", Reply(b"<html><body>Rate limited<br></body></html>", content_type="text/html")
    )
    with quick_client(settings_for(server)) as http, pytest.raises(SourceError, match="malformed"):
        list(search_arxiv("all:x", http.settings, http))


def test_timeouts_end_in_a_source_error(server: ScriptedServer) -> None:
    server.add("/api/query", Reply(b"", delay=0.5))
    settings = settings_for(server, http_timeout=0.1, http_retries=1)
    with quick_client(settings) as http, pytest.raises(SourceError, match="timed out"):
        list(fetch_arxiv_ids(["2503.11731"], settings, http))
