"""The registry: format detection from content, read_records on files, fetch_records on URLs."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfeed.core.errors import BadRequest, RecordError
from paperfeed.core.models import Paper
from paperfeed.sources import FORMATS, detect_format, fetch_records, read_records
from tests.conftest import shared_file
from tests.sources_server import (
    FIXTURES,
    Reply,
    ScriptedServer,
    fixture,
    quick_client,
    serve,
    settings_for,
)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve() as s:
        yield s


def test_real_shared_files_are_recognised() -> None:
    assert detect_format(shared_file("arxiv-74k.jsonl.gz")) == "jsonl"
    assert detect_format(shared_file("hf-daily/hf-daily-2026-02.jsonl")) == "hf-daily"
    assert detect_format(shared_file("hf-daily/hf-daily-2023-12_2024-04.json")) == "hf-daily"
    for page in sorted(shared_file("hf-pages").glob("*.txt")):
        assert detect_format(page) == "hf-page", page


def test_fixtures_are_recognised() -> None:
    assert detect_format(FIXTURES / "arxiv_atom.xml") == "arxiv-atom"
    assert detect_format(FIXTURES / "oai_arxiv_page1.xml") == "oai-pmh"
    assert detect_format(FIXTURES / "hf_api_daily.json") == "hf-daily"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            json.dumps({"id": "0704.0001", "title": "T", "versions": [], "authors_parsed": []})
            + "\n",
            "arxiv-dump",
        ),
        (json.dumps({"title": "T"}) + "\n", "jsonl"),
        ('[{"title": "T"}]', "json"),
        ('{"2312.17653": {"title": "T"}}', "hf-daily"),
        ("title,abstract\nT,A\n", "csv"),
        ("\ufeffTitle,Abstract\n", "csv"),
        (
            '<?xml version="1.0"?>\n<!-- c -->\n<feed xmlns="http://www.w3.org/2005/Atom"></feed>',
            "arxiv-atom",
        ),
        ("Get trending papers in your email inbox!\nSubscribeA title\nAn abstract.\n", "hf-page"),
    ],
)
def test_detection_by_content(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "input.bin"  # the name says nothing
    path.write_text(content, encoding="utf-8")
    assert detect_format(path) == expected
    zipped = tmp_path / "input2"
    zipped.write_bytes(gzip.compress(content.encode()))
    assert detect_format(zipped) == expected


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (bytes(range(256)) * 4, "format"),
        (b"just some words\nand more\n", "valid formats"),
        (b"<html><body></body></html>", "neither an Atom feed nor OAI-PMH"),
    ],
)
def test_unknown_or_empty_content_is_one_clear_bad_request(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "x"
    path.write_bytes(content)
    with pytest.raises(BadRequest) as info:
        detect_format(path)
    assert words in info.value.message and "\n" not in info.value.message
    with pytest.raises(BadRequest):
        read_records(path)


def test_read_records_checks_path_and_format_up_front(tmp_path: Path) -> None:
    with pytest.raises(BadRequest, match="no such file"):
        read_records(tmp_path / "missing.jsonl")
    with pytest.raises(BadRequest, match="not a file"):
        read_records(tmp_path)
    good = tmp_path / "g.jsonl"
    good.write_text(json.dumps({"title": "T"}) + "\n")
    with pytest.raises(BadRequest, match="valid formats: arxiv-atom, arxiv-dump, csv"):
        read_records(good, "nonsense")
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    with pytest.raises(BadRequest, match="empty"):
        read_records(empty, "jsonl")


def test_read_records_in_every_format(tmp_path: Path) -> None:
    assert len(list(read_records(FIXTURES / "arxiv_atom.xml"))) == 2
    assert len(list(read_records(FIXTURES / "oai_arxiv_page1.xml"))) == 2
    assert len(list(read_records(FIXTURES / "hf_api_daily.json"))) == 2
    page = next(iter(sorted(shared_file("hf-pages").glob("*.txt"))))
    assert len(list(read_records(page))) == 110
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("title,authors\nT,A; B\n")
    (paper,) = read_records(csv_path)
    assert isinstance(paper, Paper) and paper.authors == ("A", "B")
    forced = list(read_records(csv_path, "hf-page"))  # a forced format is obeyed
    assert all(isinstance(i, RecordError) for i in forced)
    arr = tmp_path / "a.json"
    arr.write_text('[{"title": "T"}, {"title": "U"}]')
    assert [p.title for p in read_records(arr) if isinstance(p, Paper)] == ["T", "U"]


def test_a_truncated_xml_file_yields_what_it_has_and_an_error(tmp_path: Path) -> None:
    data = fixture("oai_arxiv_page1.xml")
    path = tmp_path / "cut.xml"
    path.write_bytes(data[: data.index(b"<resumptionToken")])
    items = list(read_records(path))
    assert [type(i) for i in items] == [Paper, Paper, RecordError]
    assert isinstance(items[-1], RecordError) and items[-1].location == str(path)


def test_every_format_has_a_description() -> None:
    assert set(FORMATS) == {
        "jsonl",
        "arxiv-dump",
        "csv",
        "json",
        "hf-daily",
        "hf-page",
        "arxiv-atom",
        "oai-pmh",
    }
    assert all(FORMATS.values())


def test_fetch_records_routes_oai_urls(server: ScriptedServer) -> None:
    server.add(
        "/oai",
        Reply(fixture("oai_arxiv_page1.xml")),
        Reply(fixture("oai_arxiv_page2.xml")),
        Reply(fixture("oai_arxiv_page3.xml")),
    )
    url = server.url("/oai?verb=ListRecords&metadataPrefix=arXiv&from=2025-03-17")
    with quick_client(settings_for(server)) as http:
        items = list(fetch_records(url, http.settings, client=http))
    assert len(items) == 4 and len(server.paths("/oai")) == 3
    assert server.paths("/oai")[0].query["from"] == "2025-03-17"


def test_fetch_records_routes_arxiv_api_urls(server: ScriptedServer) -> None:
    server.add("/api/query", Reply(fixture("arxiv_atom.xml")))
    url = server.url("/api/query?id_list=2503.11731,hep-ex/0307015")
    with quick_client(settings_for(server)) as http:
        items = list(fetch_records(url, http.settings, client=http))
    assert [i.arxiv_id for i in items if isinstance(i, Paper)] == ["2503.11731", "hep-ex/0307015"]


def test_fetch_records_routes_hf_api_urls(server: ScriptedServer) -> None:
    server.add(
        "/api/daily_papers", Reply(fixture("hf_api_daily.json"), content_type="application/json")
    )
    with quick_client(settings_for(server)) as http:
        items = list(
            fetch_records(
                server.url("/api/daily_papers?date=2024-05-03"), http.settings, client=http
            )
        )
    assert (
        all(isinstance(i, Paper) and str(i.featured_on) == "2024-05-03" for i in items)
        and len(items) == 2
    )


def test_fetch_records_downloads_and_detects_other_urls(server: ScriptedServer) -> None:
    body = gzip.compress((json.dumps({"title": "Remote"}) + "\n").encode())
    server.add("/dump.bin", Reply(body, content_type="application/octet-stream"))
    server.add("/empty", Reply(b""))
    server.add("/junk", Reply(b"hello there\n", content_type="text/plain"))
    settings = settings_for(server)
    (paper,) = fetch_records(server.url("/dump.bin"), settings)  # its own client, closed at the end
    assert isinstance(paper, Paper) and paper.title == "Remote" and paper.source == "jsonl"
    with pytest.raises(BadRequest, match="empty"):
        list(fetch_records(server.url("/empty"), settings))
    with pytest.raises(BadRequest, match="valid formats"):
        list(fetch_records(server.url("/junk"), settings))


def test_fetch_records_refuses_bad_urls_and_formats_up_front() -> None:
    from paperfeed.core.settings import Settings

    with pytest.raises(BadRequest, match="URL"):
        fetch_records("ftp://example.org/x", Settings())
    with pytest.raises(BadRequest, match="valid formats"):
        fetch_records("https://example.org/x", Settings(), "nope")


def test_feeds_of_links_are_named_unknown_formats(tmp_path: Path) -> None:
    json_feed = tmp_path / "papers.json"
    json_feed.write_text(
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": "Daily Papers",
                "items": [
                    {
                        "id": "https://huggingface.co/papers/2404.19756",
                        "url": "https://huggingface.co/papers/2404.19756",
                        "title": "KAN: Kolmogorov-Arnold Networks",
                    }
                ],
            },
            indent=2,
        )
    )
    with pytest.raises(BadRequest, match=r"unknown format: JSON Feed .*id_list"):
        read_records(json_feed)
    rss = tmp_path / "papers.xml"
    rss.write_text(
        '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Daily Papers</title><item>'
        "<link>https://huggingface.co/papers/2404.19756</link></item></channel></rss>"
    )
    with pytest.raises(BadRequest, match="unknown format: RSS") as refused:
        read_records(rss)
    assert "version" not in str(refused.value).split("RSS")[0]  # no talk of a record's `version`
