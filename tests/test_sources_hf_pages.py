"""Saved Hugging Face listing pages: the four real files, headers glued to titles, broken pages."""

from __future__ import annotations

from pathlib import Path

from paperfeed.core.errors import RecordError
from paperfeed.core.models import Paper, normalise_title
from paperfeed.sources.hf_pages import looks_like_page, parse_hf_page
from tests.conftest import shared_file

ABSTRACT = (
    "We propose a method. "
    + "It is described at length, with results and a discussion of limits. " * 6
)


def _pages() -> list[Path]:
    return sorted(shared_file("hf-pages").glob("*.txt"))


def test_the_four_real_pages_give_721_entries_and_699_unique_titles() -> None:
    records = [
        r for page in _pages() for r in parse_hf_page(page.read_text(encoding="utf-8"), page.name)
    ]
    assert all(isinstance(r, Paper) for r in records)
    papers = [r for r in records if isinstance(r, Paper)]
    assert len(papers) == 721
    assert len({normalise_title(p.title) for p in papers}) == 699
    assert all(p.source == "hf-page" and p.arxiv_id is None for p in papers)
    assert all(len(p.title) < 250 and len(p.abstract) > 400 for p in papers)


def test_per_page_counts_and_first_and_last_titles() -> None:
    counts = {}
    for page in _pages():
        papers = [
            r
            for r in parse_hf_page(page.read_text(encoding="utf-8"), page.name)
            if isinstance(r, Paper)
        ]
        counts[page.name[:3]] = len(papers)
        text = page.read_text(encoding="utf-8")
        assert papers[-1].abstract == " ".join(
            text.rstrip().splitlines()[-1].split()
        )  # no footer lost
    assert counts == {"000": 110, "001": 71, "002": 251, "003": 289}


def test_subscribe_glued_to_the_first_title_is_cut() -> None:
    page = next(p for p in _pages() if p.name.startswith("002"))
    first = next(iter(parse_hf_page(page.read_text(encoding="utf-8"), page.name)))
    assert isinstance(first, Paper)
    assert (
        first.title
        == "Counterfactuals for Design: A Model-Agnostic Method For Design Recommendations"
    )
    assert first.abstract.startswith(
        "We introduce Multi-Objective Counterfactuals for Design (MCD)"
    )


def test_blank_line_layout_with_day_heading() -> None:
    text = (
        "new\n\nGet trending papers in your email inbox!\n\nSubscribe\n\nDaily Papers\n\n"
        "byAK and the research community\n\nAug 6\n\nA  Title\n\n"
        + ABSTRACT
        + "\n\nSecond Title\n\n"
        + ABSTRACT
        + "\n\nPrevious\n\nNext\n"
    )
    papers = list(parse_hf_page(text, "p.txt"))
    assert [p.title for p in papers if isinstance(p, Paper)] == ["A Title", "Second Title"]
    assert looks_like_page(text)


def test_a_title_without_abstract_is_reported_and_the_rest_kept() -> None:
    text = (
        "Subscribe\nFirst Title\n"
        + ABSTRACT
        + "\nOrphan Title\nThird Title\n"
        + ABSTRACT
        + "\nLast Title\n"
    )
    items = list(parse_hf_page(text, "p.txt"))
    assert [type(i).__name__ for i in items] == ["Paper", "RecordError", "Paper", "RecordError"]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert errors[0].location == "p.txt:4" and "no abstract" in errors[0].reason
    assert errors[1].location == "p.txt:7"


def test_an_abstract_without_title_is_reported() -> None:
    text = "Subscribe\nTitle\n" + ABSTRACT + "\n" + ABSTRACT + "\nNext Title\n" + ABSTRACT + "\n"
    items = list(parse_hf_page(text, "p.txt"))
    assert [type(i).__name__ for i in items] == ["Paper", "RecordError", "Paper"]


def test_a_first_title_starting_with_subscribe_is_kept() -> None:
    (paper,) = parse_hf_page(
        "Get trending papers in your email inbox!\nSubscriber Churn Models\n" + ABSTRACT, "p"
    )
    assert isinstance(paper, Paper) and paper.title == "Subscriber Churn Models"


def test_plain_text_is_not_a_page() -> None:
    assert not looks_like_page("title,abstract\nx,y\n")
