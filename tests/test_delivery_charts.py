"""The SVG charts: accessible, deterministic, no inline styles, and a note when there is no data."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from paperfeed.delivery.common import charts


def test_line_chart_is_accessible_deterministic_svg_without_styles() -> None:
    weeks = [date(2026, 1, 5) + timedelta(days=7 * i) for i in range(6)]
    svg = charts.topic_weeks_chart("diffusion, denoising", weeks, [1, 2, 4, 8, 16, 32])
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert 'role="img"' in svg and "<title>Papers per week: diffusion, denoising</title>" in svg
    assert (
        'aria-label="Papers per week: diffusion, denoising. 63 papers over 6 weeks; 32 in the '
        'last week'
        in svg
    )
    assert "style=" not in svg and "<style" not in svg and "<metadata" not in svg
    assert 'width="' not in svg.split(">", 1)[0]  # scales with the page through its viewBox
    assert charts.topic_weeks_chart("diffusion, denoising", weeks, [1, 2, 4, 8, 16, 32]) == svg


def test_topic_share_chart_draws_the_measure_and_both_means() -> None:
    weeks = [date(2026, 1, 5) + timedelta(days=7 * i) for i in range(6)]
    svg = charts.topic_share_chart("agents, tools", weeks, [10.0, 10.0, 10.0, 10.0, 15.0, 15.0],
                                   [58, 55, 50, 48, 44, 42], 2, "share of papers", "+50%")
    assert "<title>Share of papers, week by week: agents, tools</title>" in svg
    assert (
        "+50% share of papers; from 10.0% (mean of the 4 weeks before) to 15.0% (mean of the last "
        "2); "
        # a falling count, said next to the rising share
        "42 papers in the last week, 297 over 6 weeks"
    ) in svg
    texts = re.findall(r"<text[^>]*>([^<]*)<", svg)
    assert "mean before" in texts and "mean of the last 2 weeks" in texts
    # a file from before the share was kept: papers per week, titled so
    assert "Papers per week" in charts.topic_share_chart(
        "x", weeks, [], [1] * 6, 2, "share of papers", "+0%"
    )


def test_presentational_turns_styles_into_attributes() -> None:
    raw = ('<svg><defs><style type="text/css">*{stroke-linejoin: round}</style></defs>'
           '<path style="fill: none; stroke: #2b6cb0; stroke-width: 1.8"/>'
           '<text style="font: 9px \'DejaVu Sans\'; text-anchor: middle">x</text></svg>')
    out = charts.presentational(raw)
    assert out == (
        '<svg><defs></defs><path fill="none" stroke="#2b6cb0" stroke-width="1.8"/>'
        '<text font-size="9px" font-family="\'DejaVu Sans\'" text-anchor="middle">x</text></svg>'
    )


def test_paper_upvotes_chart_series() -> None:
    t0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
    votes = [t0 + timedelta(hours=h) for h in (1, 5, 9)]
    history = [(t0, 10, None), (t0 + timedelta(hours=6), 25, 2)]
    svg = charts.paper_upvotes_chart(votes, history)
    assert "3 paperfeed upvotes; 25 on Hugging Face at the last of 2 readings (2026-03-01)" in svg
    assert "paperfeed upvotes" in svg and "Hugging Face upvotes (each reading)" in svg  # the legend
    assert charts.paper_upvotes_chart([], []).startswith(
        '<p class="notice chart-missing">No upvotes yet'
    )


def test_upvotes_chart_spans_the_listed_days_and_every_reading() -> None:
    """Listed in January 2024, read in 2025 and 2026: the date axis runs over all three years."""
    readings = [
        (datetime(2025, 6, 1, tzinfo=UTC), 12, None),
        (datetime(2026, 12, 6, tzinfo=UTC), 40, 3),
    ]
    svg = charts.paper_upvotes_chart([], readings, [date(2024, 1, 5)])
    texts = re.findall(r"<text[^>]*>([^<]*)<", svg)
    # the listed day is a dashed line in the legend
    assert svg.startswith("<svg") and "listed" in texts
    labels = {t for t in texts if re.fullmatch(r"\d{4}", t)}
    # the axis reaches back to the listed day, not just the readings
    assert {"2024", "2026"} <= labels, labels
    assert "listed 2024-01-05" in svg  # the text alternative says so too


def test_one_reading_is_not_drawn() -> None:
    one = [(datetime(2026, 12, 6, 9, tzinfo=UTC), 3, None)]
    note = charts.paper_upvotes_chart([], one, [date(2024, 1, 5)])
    assert "<svg" not in note and "1 reading" in note and "3 on Hugging Face" in note
    # one reading and one paperfeed vote are two points in time: drawn
    assert charts.paper_upvotes_chart([datetime(2026, 12, 7, tzinfo=UTC)], one).startswith("<svg")


def test_category_and_reading_charts() -> None:
    counts = [(date(2026, 3, 2), 5), (date(2026, 3, 4), 7)]
    svg = charts.papers_per_day_chart("cs.CV", counts)
    assert "12 papers from 2026-03-02 to 2026-03-04, at most 7 a day" in svg
    reading = {"cs.CV": (3, 1), "cs.CL": (0, 2), "math.AG": (1, 0)}
    svg = charts.reading_chart(reading)
    assert "Most read: cs.CV (3 upvoted, 1 collected), cs.CL (0 upvoted, 2 collected)" in svg
    assert "Upvote or collect" in charts.reading_chart({})


def test_without_matplotlib_a_note_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "charts_available", lambda: False)
    note = charts.topic_weeks_chart("x", [date(2026, 1, 5)], [1])
    assert "<svg" not in note and "paperfeed[topics]" in note


def test_one_day_and_one_instant_charts_draw() -> None:
    """A single day or a single vote still has a date axis (matplotlib would warn on a zero
    range)."""
    assert charts.papers_per_day_chart("cs.CL", [(date(2026, 3, 2), 4)]).startswith("<svg")
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert "1 reading" in charts.paper_upvotes_chart([at], [])  # one point in time: not drawn
    assert charts.paper_upvotes_chart([at, at + timedelta(minutes=5)], [(at, 3, None)]).startswith(
        "<svg"
    )
