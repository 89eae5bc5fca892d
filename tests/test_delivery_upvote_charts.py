"""Upvote charts are drawn by the job that reads upvotes, so a first page view never draws one (both
backends)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.ingest import ingest_targets
from paperfeed.delivery.common import charts, upvote_charts
from paperfeed.store import Store
from tests.web_fixtures import make_app


def _file(tmp_path: Path, name: str, upvotes: int) -> str:
    path = tmp_path / name
    path.write_text(
        '{"id": "2401.00042", "title": "Read twice", "abstract": "A paper read twice.", '
        '"authors": ["Ada Lovelace"], "published": "2024-01-05", '
        f'"upvotes": {upvotes}}}\n',
        encoding="utf-8",
    )
    return str(path)


def test_the_ingest_job_draws_the_chart_and_the_page_only_reads_it(
    settings: Settings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest_targets(store, settings, [_file(tmp_path, "a.jsonl", 3)])
    paper = store.papers.get_paper_by_arxiv("2401.00042")
    assert paper is not None and paper.id is not None and paper.external_upvotes == 3
    # one reading only
    assert store.sources.papers_read_since(datetime(2000, 1, 1, tzinfo=UTC)) == []
    assert not list((settings.data_path / "charts").glob("*.svg"))  # one reading: nothing to draw
    ingest_targets(store, settings, [_file(tmp_path, "b.jsonl", 11)])
    assert len(store.sources.upvote_history(paper.id)) == 2
    drawn = list((settings.data_path / "charts").glob(f"paper-{paper.id}-*.svg"))
    assert len(drawn) == 1  # drawn by the ingest, before any page asked

    def no_drawing(*args: object, **kwargs: object) -> str:
        raise AssertionError("a page view drew a chart")

    monkeypatch.setattr(charts, "paper_upvotes_chart", no_drawing)
    with make_app(settings, store) as client:
        page = client.get(f"/papers/{paper.id}").text
    chart = page.split('id="upvotes-h"', 1)[1]
    assert (
        re.search(r'<svg\b[^>]*role="img"', chart)
        and "11 on Hugging Face at the last of 2 readings" in chart
    )
    assert "listed 2024-01-05" in chart


def test_listed_days_and_a_stale_chart_is_replaced(settings: Settings, store: Store) -> None:
    assert upvote_charts.listed_days(
        Paper(title="t", published=date(2024, 1, 5), featured_on=date(2024, 1, 9))
    ) == [date(2024, 1, 5), date(2024, 1, 9)]
    store.papers.upsert_papers(
        [Paper(title="t", arxiv_id="2401.00043", external_upvotes=1, source="jsonl")]
    )
    store.papers.upsert_papers(
        [Paper(title="t", arxiv_id="2401.00043", external_upvotes=2, source="jsonl")]
    )
    paper = store.papers.get_paper_by_arxiv("2401.00043")
    assert paper is not None and paper.id is not None
    first = upvote_charts.chart_svg(store, settings, paper.id)
    store.papers.upsert_papers(
        [Paper(title="t", arxiv_id="2401.00043", external_upvotes=5, source="jsonl")]
    )
    second = upvote_charts.chart_svg(store, settings, paper.id)
    assert first != second and "5 on Hugging Face" in second
    assert len(list((settings.data_path / "charts").glob(f"paper-{paper.id}-*.svg"))) == 1
