"""OAI-PMH: the ListRecords parser (arXiv, arXivRaw, errors, deletions) and a 3-page harvest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from paperfeed.core.errors import RecordError, SourceError
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.sources.arxiv_oai import Harvest, harvest, parse_list_records
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

PAGES = ["oai_arxiv_page1.xml", "oai_arxiv_page2.xml", "oai_arxiv_page3.xml"]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve() as s:
        yield s


def test_parse_arxiv_format_page() -> None:
    page = parse_list_records(fixture("oai_arxiv_page1.xml"), "oai")
    assert page.error is None and page.oai_error is None
    assert page.resumption_token == "6960524|1001" and page.complete_list_size == 5
    assert page.max_datestamp == date(2025, 3, 19)
    first, second = page.records
    assert isinstance(first, Paper) and isinstance(second, Paper)
    assert first.arxiv_id == "0704.0001" and first.version is None
    assert (
        first.title
        == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert first.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan Jr")
    assert first.categories == ("hep-ph",)
    assert first.published == date(2007, 4, 2) and first.updated == date(2008, 11, 13)
    assert first.comment == "37 pages, 15 figures; published version"
    assert (
        first.abstract.startswith("A fully differential calculation") and "\n" not in first.abstract
    )
    assert first.abs_url == "https://arxiv.org/abs/0704.0001" and first.source == "arxiv-oai"
    assert second.categories == ("cs.CV", "cs.RO") and second.updated is None


def test_parse_arxivraw_versions() -> None:
    page = parse_list_records(fixture("oai_arxivraw.xml"), "oai")
    (paper,) = page.records
    assert isinstance(paper, Paper)
    assert paper.version == 2 and paper.versions == (1, 2)
    assert paper.published == date(2007, 4, 2) and paper.updated == date(2007, 7, 24)
    assert paper.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan")
    assert page.resumption_token is None


def test_deleted_records_are_counted_not_yielded() -> None:
    page = parse_list_records(fixture("oai_arxiv_page2.xml"), "oai")
    assert page.deleted == ["oai:arXiv.org:2503.00002"]
    assert [p.arxiv_id for p in page.records if isinstance(p, Paper)] == ["2503.11742"]
    assert page.max_datestamp == date(2025, 3, 21)  # a deletion is a change too


def test_last_page_has_an_empty_token() -> None:
    page = parse_list_records(fixture("oai_arxiv_page3.xml"), "oai")
    assert page.resumption_token is None and page.complete_list_size == 5
    (paper,) = page.records
    assert isinstance(paper, Paper) and paper.arxiv_id == "hep-th/9901001"
    assert paper.categories == ("hep-th", "math-ph", "math.MP")


def test_no_records_match_is_an_empty_result() -> None:
    page = parse_list_records(fixture("oai_no_records.xml"), "oai")
    assert page.records == [] and page.oai_error is None and page.error is None


def test_other_oai_errors_are_reported() -> None:
    page = parse_list_records(fixture("oai_error_bad_token.xml"), "oai")
    assert page.oai_error and page.oai_error.startswith("badResumptionToken")
    assert isinstance(page.records[-1], RecordError)


def test_a_cut_page_keeps_the_whole_records_and_drops_the_token() -> None:
    data = fixture("oai_arxiv_page1.xml")
    page = parse_list_records(data[: data.index(b"<resumptionToken")], "oai")
    assert page.error and "cut off" in page.error
    assert [type(r) for r in page.records] == [Paper, Paper, RecordError]
    assert page.resumption_token is None


def test_a_record_with_a_bad_id_is_a_record_error() -> None:
    data = fixture("oai_arxiv_page3.xml").replace(b"<id>hep-th/9901001</id>", b"<id>nonsense</id>")
    (record,) = parse_list_records(data, "oai").records
    assert (
        isinstance(record, RecordError)
        and record.location == "oai#1"
        and "nonsense" in record.reason
    )


def _three_pages(server: ScriptedServer) -> None:
    def answer(seen: Seen) -> Reply:
        token = seen.query.get("resumptionToken")
        index = {None: 0, "6960524|1001": 1, "6960524|2001": 2}.get(token)
        if index is None:
            return Reply(fixture("oai_error_bad_token.xml"))
        return Reply(fixture(PAGES[index]))

    server.script("/oai", answer)


def test_harvest_follows_resumption_tokens_over_three_pages(server: ScriptedServer) -> None:
    _three_pages(server)
    with quick_client(settings_for(server)) as http:
        run = harvest(http.settings, http, from_date=date(2025, 3, 17), set_spec="cs")
        assert run.last_datestamp is None
        papers = list(run)
    assert [p.arxiv_id for p in papers if isinstance(p, Paper)] == [
        "0704.0001",
        "2503.11731",
        "2503.11742",
        "hep-th/9901001",
    ]
    assert run.pages == 3 and run.deleted == 1 and run.complete_list_size == 5
    assert run.last_datestamp == date(2025, 3, 21)
    first, second, third = (r.query for r in server.paths("/oai"))
    assert first == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "from": "2025-03-17",
        "set": "cs",
    }
    assert second == {"verb": "ListRecords", "resumptionToken": "6960524|1001"}
    assert third == {"verb": "ListRecords", "resumptionToken": "6960524|2001"}


def test_harvest_with_no_records_yields_nothing(server: ScriptedServer) -> None:
    server.add("/oai", Reply(fixture("oai_no_records.xml")))
    with quick_client(settings_for(server)) as http:
        run = harvest(
            http.settings,
            http,
            from_date=date(2030, 1, 1),
            until=date(2030, 1, 2),
            prefix="arXivRaw",
        )
        assert list(run) == []
    assert server.paths("/oai")[0].query["until"] == "2030-01-02"
    assert server.paths("/oai")[0].query["metadataPrefix"] == "arXivRaw"
    assert run.last_datestamp is None and run.pages == 1


def test_a_bad_token_mid_harvest_is_a_source_error_and_keeps_the_resume_point(
    server: ScriptedServer,
) -> None:
    server.add(
        "/oai", Reply(fixture("oai_arxiv_page1.xml")), Reply(fixture("oai_error_bad_token.xml"))
    )
    with quick_client(settings_for(server)) as http:
        run = harvest(http.settings, http)
        with pytest.raises(SourceError, match="badResumptionToken"):
            list(run)
    assert run.resumption_token == "6960524|1001" and run.last_datestamp is None
    assert run.max_datestamp_seen == date(2025, 3, 19)


def test_503_retry_after_flow_control_then_success(server: ScriptedServer) -> None:
    server.add(
        "/oai",
        Reply(b"Retry later", 503, {"Retry-After": "10"}, content_type="text/plain"),
        Reply(fixture("oai_arxiv_page3.xml")),
    )
    sleeps = Sleeps()
    with quick_client(settings_for(server), sleeps) as http:
        assert len(list(harvest(http.settings, http))) == 1
    assert sleeps.waits == [10.0]


def test_a_truncated_page_is_a_clear_source_error(server: ScriptedServer) -> None:
    data = fixture("oai_arxiv_page1.xml")
    server.add("/oai", Reply(data[: len(data) - 200]))
    with quick_client(settings_for(server)) as http, pytest.raises(SourceError, match="cut off"):
        list(harvest(http.settings, http))


def test_resume_from_a_token_and_a_plain_httpx_client(server: ScriptedServer) -> None:
    _three_pages(server)
    with httpx.Client() as raw:
        run = Harvest(settings_for(server), raw, resumption_token="6960524|2001")
        assert [p.arxiv_id for p in run if isinstance(p, Paper)] == ["hep-th/9901001"]
    assert server.paths("/oai")[0].query == {
        "verb": "ListRecords",
        "resumptionToken": "6960524|2001",
    }


def test_unknown_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="arXivRaw"):
        Harvest(Settings(), prefix="marc21")


def test_arxivraw_fields_people_read() -> None:
    """Affiliations apart from names, TeX accents read, math kept, every DOI, no ':' author, 0 kb
    withdrawal (tests/fixtures/sources/oai_arxivraw_fields.xml)."""
    page = parse_list_records(fixture("oai_arxivraw_fields.xml"), "oai")
    volcano, atlas, gone = page.records
    assert isinstance(volcano, Paper) and isinstance(atlas, Paper) and isinstance(gone, Paper)
    assert volcano.authors == (
        "Sorina Ionica",
        "Antoine Joux",
        "Béla Bollobás",
        "Paul Erdős",
        "Søren Eilers",
    )
    assert volcano.affiliations == (("LFANT, UB",), ("PRISM",), ("Cambridge, Memphis",), (), ())
    assert volcano.title == "Pairing the volcano: the Schrödinger view of $\\ell$-isogeny graphs"
    assert (
        "$\\mathcal{O}(n \\log n)$" in volcano.abstract
        and "50% of it, as Erdős" in volcano.abstract
    )
    assert volcano.dois == ("10.1007/s00145-011-9101-8", "10.1007/s00145-012-9123-z")
    assert volcano.doi == "10.1007/s00145-011-9101-8" and not volcano.withdrawn
    assert atlas.authors == ("ATLAS Collaboration", "G. Aad", "B. Abbott", "J. Abdallah")
    assert atlas.affiliations == (
        (),
        ("CPPM Marseille",),
        ("Oklahoma U.",),
        ("CPPM Marseille", "Oklahoma U."),
    )
    assert gone.withdrawn and gone.version == 2 and gone.versions == (1, 2)  # v2 is arXiv's 0 kb
    assert "withdrawn" not in (gone.comment or "").lower()  # the size says it, not the wording


def test_an_unknown_set_is_an_error_not_an_empty_day() -> None:
    answer = fixture("oai_no_records.xml").replace(
        b"The combination of the values of the from, until, set and metadataPrefix arguments "
        b"results in an empty list.",
        b"Set argument doesn't match any sets. The setSpec was 'cs.XX'",
    )
    page = parse_list_records(answer, "oai")
    assert (
        page.oai_error
        == "noRecordsMatch (unknown set): Set argument doesn't match any sets. The setSpec was "
           "'cs.XX'"
    )
    assert parse_list_records(fixture("oai_no_records.xml"), "oai").oai_error is None  # a quiet day


def test_a_server_repeating_its_token_is_stopped(server: ScriptedServer) -> None:
    page = fixture("oai_arxiv_page1.xml")
    server.add("/oai", Reply(page))  # the same page, with the same token, for ever
    settings = settings_for(server)
    with (
        quick_client(settings) as http,
        pytest.raises(SourceError, match="twice: the list never ends"),
    ):
        list(harvest(settings, http, prefix="arXiv"))
    assert len(server.requests) == 2


def test_a_list_that_never_ends_is_bounded(server: ScriptedServer) -> None:
    page = fixture("oai_arxiv_page1.xml")

    def answer(seen: Seen) -> Reply:  # a new token every time, for ever
        return Reply(page.replace(b"6960524|1001", f"endless|{len(server.requests)}".encode()))

    server.script("/oai", answer)
    settings = settings_for(server, sources_max_requests=7)
    with (
        quick_client(settings) as http,
        pytest.raises(SourceError, match="still not finished after 7 pages"),
    ):
        list(harvest(settings, http, prefix="arXiv"))
    assert len(server.requests) == 7
