"""Bulk JSON Lines / CSV / JSON: the 74k arXiv file, the Kaggle dump shape, generic records, bad
lines."""

from __future__ import annotations

import gzip
import json
import time
from datetime import date
from pathlib import Path

import pytest

from paperfeed.core.errors import BadRequest, RecordError
from paperfeed.core.models import Paper
from paperfeed.sources.bulk import parse_json_array, read_csv, read_jsonl, record_to_paper
from tests.conftest import shared_file

KAGGLE = {
    "id": "0704.0001",
    "submitter": "Pavel Nadolsky",
    "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan",
    "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC "
             "energies",
    "comments": "37 pages, 15 figures; published version",
    "journal-ref": "Phys.Rev.D76:013009,2007",
    "doi": "10.1103/PhysRevD.76.013009",
    "report-no": "ANL-HEP-PR-07-12",
    "categories": "hep-ph",
    "license": None,
    "abstract": "  A fully differential calculation in perturbative quantum chromodynamics "
                "is\npresented.\n",
    "versions": [
        {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
    ],
    "update_date": "2008-11-13",
    "authors_parsed": [
        ["Balázs", "C.", ""],
        ["Berger", "E. L.", ""],
        ["Nadolsky", "P. M.", ""],
        ["Yuan", "C. -P.", ""],
    ],
}


def test_the_74k_file_parses_completely_and_fast() -> None:
    path = shared_file("arxiv-74k.jsonl.gz")
    # CPU time, not wall time: a busy shared machine must not fail a speed check on our code.
    started = time.process_time()
    records = list(read_jsonl(path))
    seconds = time.process_time() - started
    assert len(records) == 74_728
    assert all(isinstance(r, Paper) for r in records)
    papers = [r for r in records if isinstance(r, Paper)]
    assert len({p.arxiv_id for p in papers}) == 74_728
    first = papers[0]
    assert first.arxiv_id == "2503.11731" and first.categories == ("cs.CV", "cs.RO")
    assert first.published == date(2025, 3, 18) and first.source == "jsonl"
    assert first.authors[0] == "Xianming Zeng" and len(first.authors) == 16
    assert (
        first.abs_url == "https://arxiv.org/abs/2503.11731"
        and first.pdf_url == "https://arxiv.org/pdf/2503.11731"
    )
    assert all("\n" not in p.abstract for p in papers[:2000])
    assert seconds < 10, f"74k papers took {seconds:.1f} CPU seconds (about 3.5 expected)"


def test_kaggle_dump_records() -> None:
    paper = record_to_paper(KAGGLE, "arxiv-dump")
    assert paper.arxiv_id == "0704.0001" and paper.version == 2
    assert paper.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")
    assert paper.title.endswith("at Tevatron and LHC energies")
    # `updated` is the latest version's day (v2: 2007-07-24), as in the OAI-PMH and API parsers;
    # the dump's update_date (2008-11-13) is when arXiv touched the metadata, not a new version.
    assert paper.published == date(2007, 4, 2) and paper.updated == date(2007, 7, 24)
    assert paper.versions == (1, 2)
    assert (
        paper.categories == ("hep-ph",)
        and paper.comment == "37 pages, 15 figures; published version"
    )
    assert paper.abs_url == "https://arxiv.org/abs/0704.0001"
    without_parsed = {k: v for k, v in KAGGLE.items() if k != "authors_parsed"}
    assert (
        record_to_paper(without_parsed, "arxiv-dump").authors[0] == "C. Balázs"
    )  # TeX accent read


def test_a_jsonl_file_of_dump_records_is_tagged_arxiv_dump(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(KAGGLE) + "\n")
    (paper,) = read_jsonl(path)
    assert isinstance(paper, Paper) and paper.source == "arxiv-dump"


def test_generic_records() -> None:
    paper = record_to_paper(
        {
            "arxiv_id": "arXiv:2501.00001v3",
            "title": " A  title ",
            "summary": "An\nabstract",
            "authors": "Ada Lovelace, Alan Turing and Grace Hopper",
            "categories": "cs.CL cs.AI",
            "date": "2025-01-02T10:00:00Z",
            "url": "https://example.org/p",
            "pdf_url": "https://example.org/p.pdf",
            "github_url": "https://github.com/x/y",
            "upvotes": "12",
        },
        "jsonl",
    )
    assert (paper.arxiv_id, paper.version, paper.title, paper.abstract) == (
        "2501.00001",
        3,
        "A title",
        "An abstract",
    )
    assert paper.authors == ("Ada Lovelace", "Alan Turing", "Grace Hopper")
    assert paper.categories == ("cs.CL", "cs.AI") and paper.published == date(2025, 1, 2)
    assert paper.code_url == "https://github.com/x/y" and paper.external_upvotes == 12
    titled_only = record_to_paper(
        {"title": "Only a title", "abstract": "x", "source_page": "p.txt"}, "jsonl"
    )
    assert titled_only.arxiv_id is None and titled_only.authors == ()
    from_url = record_to_paper({"title": "T", "url": "https://arxiv.org/abs/2502.12345v2"}, "jsonl")
    assert (from_url.arxiv_id, from_url.version) == ("2502.12345", 2)
    exported = record_to_paper(
        {"id": 7, "arxiv_id": None, "title": "T", "authors": [{"name": "A"}]}, "jsonl"
    )
    assert exported.arxiv_id is None and exported.authors == ("A",)


def test_bad_lines_yield_record_errors_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps({"id": "2501.00001", "title": "Good"}),
        "",
        "{not json",
        json.dumps({"id": "2501.00003", "abstract": "no title"}),
        json.dumps(["a", "list"]),
        json.dumps({"id": "12345", "title": "Bad id"}),
        json.dumps({"id": "2501.00004", "title": "Bad date", "published": "yesterday"}),
        json.dumps({"id": "2501.00005", "title": "Bad authors", "authors": [1, 2]}),
        json.dumps({"id": "2501.00006", "title": "Good again"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    items = list(read_jsonl(path))
    assert [i.title for i in items if isinstance(i, Paper)] == ["Good", "Good again"]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert [e.location for e in errors] == [f"{path}:{n}" for n in (3, 4, 5, 6, 7, 8)]
    reasons = [e.reason for e in errors]
    assert "invalid JSON" in reasons[0] and "no title" in reasons[1] and "object" in reasons[2]
    assert "not an arXiv id" in reasons[3] and "published" in reasons[4] and "authors" in reasons[5]


def test_gzip_is_detected_by_magic_not_name(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"  # no .gz suffix
    path.write_bytes(gzip.compress((json.dumps({"title": "Zipped"}) + "\n").encode()))
    (paper,) = read_jsonl(path)
    assert isinstance(paper, Paper) and paper.title == "Zipped"


def test_csv_with_semicolon_lists_quoted_newlines_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "papers.csv"
    path.write_text(
        "\ufeffarxiv_id,title,abstract,authors,categories,published\n"
        '2501.00001,First,"An abstract\nover two lines","Smith, J.; Doe, '
        'A.",cs.CL;cs.AI,2025-01-01\n'
        "2501.00002,Second,Short,A and B,cs.LG cs.AI,\n"
        "2501.00003,,No title,,,\n"
        "2501.00004,Too,many,columns,here,2025-01-01,extra\n"
        "\n"
        "2501.00005,Piped,x,A | B,cs.CV,2025-01-05\n",
        encoding="utf-8",
    )
    items = list(read_csv(path))
    papers = [i for i in items if isinstance(i, Paper)]
    assert [p.title for p in papers] == ["First", "Second", "Piped"]
    assert papers[0].authors == ("Smith, J.", "Doe, A.") and papers[0].categories == (
        "cs.CL",
        "cs.AI",
    )
    assert papers[0].abstract == "An abstract over two lines" and papers[0].source == "csv"
    assert papers[1].authors == ("A", "B") and papers[1].categories == ("cs.LG", "cs.AI")
    assert papers[2].authors == ("A", "B")
    errors = [i for i in items if isinstance(i, RecordError)]
    assert [e.location for e in errors] == [f"{path}:5", f"{path}:6"]  # row 1 spans lines 2-3
    assert "no title" in errors[0].reason and "columns" in errors[1].reason


def test_csv_without_title_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,name\n1,x\n")
    (error,) = read_csv(path)
    assert isinstance(error, RecordError) and "title" in error.reason


def test_json_array() -> None:
    items = list(parse_json_array([{"title": "A"}, "nope", {"abstract": "x"}], "f.json"))
    assert isinstance(items[0], Paper) and items[0].source == "json"
    assert [i.location for i in items if isinstance(i, RecordError)] == ["f.json#2", "f.json#3"]


def test_a_cut_off_gzip_is_one_clear_bad_request_after_the_good_lines(tmp_path: Path) -> None:
    whole = gzip.compress(
        "".join(
            json.dumps({"title": f"P{n}", "abstract": "x" * 200}) + "\n" for n in range(500)
        ).encode()
    )
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    records = read_jsonl(path)
    first = next(records)
    with pytest.raises(BadRequest, match="cut off or corrupt after line"):
        list(records)
    assert isinstance(first, Paper) and first.title == "P0"
