"""Hugging Face Daily Papers: the two real files, AI-summary stripping, the API shape and
fetcher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from paperfeed.core.errors import RecordError, SourceError
from paperfeed.core.models import Paper, normalise_space
from paperfeed.sources.hf_daily import (
    fetch_hf_daily,
    parse_hf_api,
    parse_hf_daily,
    read_hf_daily,
    strip_ai_summary,
)
from paperfeed.sources.tex import detex
from tests.conftest import shared_file
from tests.sources_server import Reply, ScriptedServer, fixture, quick_client, serve, settings_for


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve() as s:
        yield s


def _raw_lines() -> list[dict[str, object]]:
    path = shared_file("hf-daily/hf-daily-2026-02.jsonl")
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def test_jsonl_file_counts_and_fields() -> None:
    items = list(read_hf_daily(shared_file("hf-daily/hf-daily-2026-02.jsonl")))
    assert len(items) == 808 and all(isinstance(i, Paper) for i in items)
    papers = [i for i in items if isinstance(i, Paper)]
    assert len({p.arxiv_id for p in papers}) == 783  # 25 papers were featured on two days
    # 7 have no abstract at all; 76 whose `abstract` is only the AI summary get none (the summary
    # is kept apart as ai_summary, never shown as the abstract; arXiv's abstract fills it).
    assert sum(1 for p in papers if not p.abstract) == 7 + 76
    assert all(
        p.featured_on and date(2026, 1, 1) < p.featured_on < date(2026, 3, 1) for p in papers
    )
    assert all(p.external_upvotes is not None and p.source == "hf-daily" for p in papers)
    first = papers[0]
    assert (
        first.arxiv_id == "2601.13097"
        and first.featured_on == date(2026, 2, 2)
        and first.external_upvotes == 8
    )
    assert first.code_url == "https://github.com/trndcenter/RM-RF-unit-tests"
    assert first.abstract.startswith("We present RM-RF, a lightweight reward model")


def test_stripping_removes_the_summary_and_keeps_it_apart() -> None:
    raws = _raw_lines()
    papers = [
        i
        for i in read_hf_daily(shared_file("hf-daily/hf-daily-2026-02.jsonl"))
        if isinstance(i, Paper)
    ]
    stripped = emptied = 0
    for raw, paper in zip(raws, papers, strict=True):
        abstract, summary = (
            normalise_space(str(raw["abstract"])),
            normalise_space(str(raw["summary_en"] or "")),
        )
        assert paper.ai_summary == (detex(summary) or None)  # TeX escapes (5\\%) read as letters
        if abstract and abstract == summary:
            emptied += 1
            assert paper.abstract == ""  # only the AI summary: not an abstract
        elif summary and abstract.startswith(summary + " "):
            stripped += 1  # the real abstract is the tail, kept whole
            assert paper.abstract == detex(abstract[len(summary) :].strip())
        else:
            assert paper.abstract == detex(abstract)
    assert stripped == 709 and emptied == 76  # 16 had no prefix


def test_strip_ai_summary_cases() -> None:
    assert strip_ai_summary("S1. Real abstract.", "S1.") == "Real abstract."
    assert strip_ai_summary("Only the summary.", "Only the summary.") == ""
    assert strip_ai_summary("Real abstract.", "Different summary.") == "Real abstract."
    assert strip_ai_summary("A\nB  C", None) == "A B C"
    assert strip_ai_summary("", "x") == ""


def test_json_keyed_by_arxiv_id() -> None:
    items = list(read_hf_daily(shared_file("hf-daily/hf-daily-2023-12_2024-04.json")))
    assert len(items) == 753 and all(isinstance(i, Paper) for i in items)
    papers = [i for i in items if isinstance(i, Paper)]
    assert len({p.arxiv_id for p in papers}) == 753
    larp = next(p for p in papers if p.arxiv_id == "2312.17653")
    assert larp.featured_on == larp.published == date(2023, 12, 24) and larp.external_upvotes == 29
    assert larp.title == "LARP: Language-Agent Role Play for Open-World Games"
    assert "\n" not in larp.abstract and larp.authors[0] == "Ming Yan"


def test_api_shape() -> None:
    items = list(parse_hf_daily(fixture("hf_api_daily.json"), "api.json"))
    kan, mtp = items
    assert isinstance(kan, Paper) and isinstance(mtp, Paper)
    assert kan.arxiv_id == "2404.19756" and kan.title == "KAN: Kolmogorov-Arnold Networks"
    assert kan.authors == ("Ziming Liu", "Yixuan Wang", "Max Tegmark")
    assert kan.abstract.startswith("Inspired by the Kolmogorov-Arnold") and "\n" not in kan.abstract
    assert kan.published == date(2024, 4, 30) and kan.featured_on == date(2024, 5, 1)
    assert kan.external_upvotes == 97 and kan.code_url == "https://github.com/KindXiaoming/pykan"
    assert mtp.code_url is None and mtp.external_upvotes == 62
    # Hugging Face's own fields are kept apart; its AI summary is never the abstract.
    assert kan.ai_summary == "KANs replace fixed activations with learnable ones on edges."
    assert kan.ai_summary not in kan.abstract and kan.github_stars == 15000
    assert mtp.project_page == "https://multi-token.github.io" and mtp.github_stars is None
    assert (mtp.organization, mtp.organization_name) == ("facebook", "AI at Meta")
    assert kan.organization is None and mtp.ai_summary is None


def test_an_item_whose_summary_is_missing_gets_no_abstract_from_its_ai_summary() -> None:
    item = {"paper": {"id": "2404.19756", "title": "KAN", "ai_summary": "One line.", "upvotes": 1}}
    paper = parse_hf_api([item], "api")
    (kan,) = list(paper)
    assert isinstance(kan, Paper) and kan.abstract == "" and kan.ai_summary == "One line."


def test_bad_records_in_each_shape(tmp_path: Path) -> None:
    lines = tmp_path / "d.jsonl"
    lines.write_text(
        '{"date": "2026-02-02", "paper_id": "2601.1", "title": "x"}\n{oops\n\n'
        '{"date": "2026-02-02", "paper_id": "2601.13097", "title": "ok", "upvotes": 1}\n'
    )
    items = list(read_hf_daily(lines))
    assert [type(i).__name__ for i in items] == ["RecordError", "RecordError", "Paper"]
    assert [i.location for i in items if isinstance(i, RecordError)] == [f"{lines}:1", f"{lines}:2"]
    keyed = list(
        parse_hf_daily(
            b'{"2401.00001": {"title": ""}, "2401.00002": {"title": "T", "upvotes": -1}}', "k"
        )
    )
    assert all(isinstance(i, RecordError) for i in keyed) and keyed[0].location == "k#1"  # type: ignore[union-attr]
    api = list(parse_hf_daily(b'[{"paper": "nope"}, {"title": "no paper"}]', "a"))
    assert [i.location for i in api if isinstance(i, RecordError)] == ["a#1", "a#2"]


def test_fetch_hf_daily_from_a_local_server(server: ScriptedServer) -> None:
    server.add(
        "/api/daily_papers", Reply(fixture("hf_api_daily.json"), content_type="application/json")
    )
    with quick_client(settings_for(server)) as http:
        items = list(fetch_hf_daily(date(2024, 5, 2), http.settings, http))
    assert [i.arxiv_id for i in items if isinstance(i, Paper)] == ["2404.19756", "2404.19737"]
    assert all(isinstance(i, Paper) and i.featured_on == date(2024, 5, 2) for i in items)
    assert server.paths("/api/daily_papers")[0].query == {"date": "2024-05-02"}


def test_fetch_hf_daily_failures(server: ScriptedServer) -> None:
    server.add(
        "/api/daily_papers", Reply(b'{"error": "Invalid date"}', content_type="application/json")
    )
    with (
        quick_client(settings_for(server)) as http,
        pytest.raises(SourceError, match="expected a list"),
    ):
        list(fetch_hf_daily(date(2024, 5, 2), http.settings, http))
    server.queues.clear()
    server.add(
        "/api/daily_papers", Reply(b'[{"paper": {"id": "2404.1', content_type="application/json")
    )
    with (
        quick_client(settings_for(server)) as http,
        pytest.raises(SourceError, match="invalid JSON"),
    ):
        list(fetch_hf_daily(date(2024, 5, 2), http.settings, http))
