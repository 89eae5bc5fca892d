"""Every real response shape of issue #9 is read correctly or refused with a clear error."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from paperfeed.core.errors import RecordError
from paperfeed.core.models import Paper
from paperfeed.sources import detect_format, read_records
from paperfeed.sources.arxiv_oai import Harvest, parse_list_records
from paperfeed.sources.bulk import parse_json_array
from paperfeed.sources.hf_daily import parse_hf_daily
from paperfeed.store import Store
from tests.conftest import SHARED
from tests.sources_server import Reply, quick_client, serve, settings_for

OAI = SHARED / "recorded" / "oai-pmh"
HF = SHARED / "recorded" / "hf-daily"
pytestmark = pytest.mark.skipif(not OAI.exists(), reason=f"shared data not found: {OAI}")


def _papers(items: list[Paper | RecordError]) -> list[Paper]:
    return [i for i in items if isinstance(i, Paper)]


def test_getrecord_is_one_paper_with_doi_journal_and_license() -> None:
    page = parse_list_records((OAI / "inspire-getrecord-arXiv-1305.0014.xml").read_bytes(), "get")
    [paper] = page.records
    assert isinstance(paper, Paper) and paper.arxiv_id == "1305.0014"
    assert (
        paper.doi == "10.1103/PhysRevC.87.065504"
        and paper.journal_ref == "Phys. Rev. C 87, 065504 (2013)"
    )
    assert paper.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert paper.published == date(2013, 4, 30) and paper.updated == date(2013, 6, 28)
    assert paper.announced_on is None  # re-stamped two months after v1: not an announcement


def test_arxiv_oai_dc_page_reads_all_897_and_flags_withdrawn() -> None:
    page = parse_list_records((OAI / "scrapi-listrecords-oai_dc-2014-12-24.xml").read_bytes(), "dc")
    papers = _papers(page.records)
    assert len(papers) == 897 == len(page.records)
    first = papers[0]
    assert first.arxiv_id == "0709.2184" and first.authors[0] == "David Burt"
    assert first.published == date(2007, 9, 13) and first.updated == date(2014, 12, 22)
    assert (
        first.comment
        and first.comment.startswith("Version 4.0")
        and first.abstract.startswith("In this note")
    )
    withdrawn = [p for p in papers if p.withdrawn]
    assert len(withdrawn) == 4 and all("withdrawn" in (p.comment or "") for p in withdrawn)
    assert sum(bool(p.doi) for p in papers) == 280 and all(
        p.doi and p.doi.startswith("10.") for p in papers if p.doi
    )


def test_generic_oai_dc_chain_with_deleted_records() -> None:
    pages = {
        f"ListRecords{n}.xml": (OAI / f"sickle-ListRecords{n}-oai_dc.xml").read_bytes()
        for n in (2, 3, 4)
    }
    with serve() as server:
        first = (OAI / "sickle-ListRecords-oai_dc.xml").read_bytes()
        server.script(
            "/oai",
            lambda seen: Reply(
                pages[seen.query["resumptionToken"]] if "resumptionToken" in seen.query else first
            ),
        )
        with quick_client(settings_for(server)) as http:
            run = Harvest(settings_for(server), http, prefix="oai_dc")
            papers = _papers(list(run))
    assert len(papers) == 4 and run.deleted == 4 and run.pages == 4
    p = papers[0]
    assert p.arxiv_id is None and p.title == "Sample Title" and p.authors == ("John Doe",)
    assert p.abs_url == "http://test.example.com/publication/1585322" and p.source == "oai-dc"
    assert p.published is None  # dc:date '2010' is a year, not a day


def test_unknown_oai_answer_is_refused_clearly() -> None:
    doc = b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><Identify><repositoryName>x</repositoryName></Identify></OAI-PMH>'
    page = parse_list_records(doc, "identify")
    assert page.error and "Identify" in page.error and "ListRecords and GetRecord" in page.error
    assert [str(r) for r in page.records] == [f"identify: {page.error.removeprefix('identify: ')}"]


def test_hf_wrapper_and_pretty_printed_record() -> None:
    wrapper, single = HF / "hfbot-dates-2026-02-02.json", HF / "hfbot-paper-2601.13097.json"
    assert detect_format(wrapper) == detect_format(single) == "hf-daily"
    papers = _papers(list(read_records(wrapper)))
    assert len(papers) == 41 and all(p.featured_on == date(2026, 2, 2) for p in papers)
    assert papers[0].arxiv_id == "2601.23265" and papers[0].external_upvotes and papers[0].code_url
    assert not papers[0].abstract.startswith("_paperbanana")  # HF's AI summary cut off the abstract
    [one] = list(read_records(single))
    assert (
        isinstance(one, Paper)
        and one.arxiv_id == "2601.13097"
        and one.abstract.startswith("We present RM-RF")
    )
    short = json.loads(wrapper.read_text())
    short["papers"] = short["papers"][:3]
    items = list(parse_hf_daily(json.dumps(short, indent=2).encode(), "cut.json"))
    assert len(_papers(items)) == 3
    assert [str(e) for e in items if isinstance(e, RecordError)] == [
        "cut.json: count says 41 papers but the file holds 3"
    ]


def test_ids_inside_url_fields_and_nested_objects() -> None:
    records = [
        {"title": "A", "summary": "abs A", "paper_url": "https://huggingface.co/papers/2501.00001"},
        {
            "title": "B",
            "description": "abs B",
            "arxiv_page_url": "https://arxiv.org/abs/2501.00002v3",
        },
        {"title": "C", "links": {"paper": {"href": "https://arxiv.org/pdf/2501.00003.pdf"}}},
        {
            "paper": {"title": "D", "abstract": "abs D", "url": "http://arxiv.org/abs/2501.00004"},
            "upvotes": 4,
        },
        {"title": "E", "homepage": "https://example.org"},
    ]
    papers = _papers(list(parse_json_array(records, "x.json")))
    assert [p.arxiv_id for p in papers] == [
        "2501.00001",
        "2501.00002",
        "2501.00003",
        "2501.00004",
        None,
    ]
    assert papers[1].version == 3 and papers[1].abstract == "abs B"
    assert (
        papers[0].abs_url == "https://arxiv.org/abs/2501.00001" and papers[3].external_upvotes == 4
    )


def test_dump_version_history_and_new_fields_reach_the_store(store: Store, tmp_path: Path) -> None:
    rec = {
        "id": "0704.0001",
        "title": "Calculation of prompt diphoton production",
        "authors": "C. Balázs, E. L. Berger",
        "versions": [
            {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
            {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
        ],
        "update_date": "2008-11-13",
        "doi": "10.1103/PhysRevD.76.013009",
        "journal-ref": "Phys.Rev.D76:013009,2007",
        "license": None,
        "comments": "37 pages",
        "categories": "hep-ph",
    }
    path = tmp_path / "dump.jsonl"
    path.write_text(json.dumps(rec) + "\n")
    store.papers.upsert_papers(_papers(list(read_records(path))))
    got = store.papers.get_paper_by_arxiv("0704.0001")
    assert got is not None and got.versions == (1, 2) and got.version == 2
    assert got.updated == date(2007, 7, 24) and got.doi == "10.1103/PhysRevD.76.013009"
    assert got.journal_ref == "Phys.Rev.D76:013009,2007"
