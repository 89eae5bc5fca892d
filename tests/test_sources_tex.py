"""TeX accents and escapes to letters outside math (sources/tex.py)."""

from __future__ import annotations

import pytest

from paperfeed.core.models import Paper
from paperfeed.sources.tex import detex, detex_paper


@pytest.mark.parametrize(
    ("tex", "text"),
    [
        ("B\\'ela Bollob\\'as", "Béla Bollobás"),
        ('Schr\\"odinger', "Schrödinger"),
        ('G\\"{o}del', "Gödel"),
        ("{\\o}ystein Ore", "øystein Ore"),
        ("Erd\\H{o}s", "Erdős"),
        ("Gau{\\ss}", "Gauß"),
        ("Ant\\'{\\i}a", "Antía"),
        ("\\v{S}koda", "Škoda"),
        ("Fran\\c{c}ois", "François"),
        ("Tanks\\&Temples", "Tanks&Temples"),
        (
            "from 91\\% to 55%, the rest stays",
            "from 91% to 55%, the rest stays",
        ),  # a bare % is no comment
        ("Fig.~3 and ~10 and http://x.edu/~me", "Fig. 3 and ~10 and http://x.edu/~me"),
        ("no TeX at all", "no TeX at all"),
    ],
)
def test_accents_and_escapes(tex: str, text: str) -> None:
    assert detex(tex) == text


def test_math_stays_tex() -> None:
    text = 'An $\\mathcal{O}(n)$ bound, $$\\\'a$$ and \\(\\"o\\) stay; Schr\\"odinger does not.'
    assert (
        detex(text)
        == "An $\\mathcal{O}(n)$ bound, $$\\'a$$ and \\(\\\"o\\) stay; Schrödinger does not."
    )
    assert detex("\\emph{kept} \\cite{x}") == "\\emph{kept} \\cite{x}"  # only accents and escapes


def test_every_text_field_of_a_record() -> None:
    paper = detex_paper(
        Paper(
            title='Schr\\"odinger',
            abstract="5\\%",
            comment="Erd\\H{o}s",
            authors=("B\\'ela",),
            affiliations=(("Universit\\'e",),),
            ai_summary="caf\\'e",
        )
    )
    assert (paper.title, paper.abstract, paper.comment) == ("Schrödinger", "5%", "Erdős")
    assert (
        paper.authors == ("Béla",)
        and paper.affiliations == (("Université",),)
        and paper.ai_summary == "café"
    )
    plain = Paper(title="Plain")
    assert detex_paper(plain) is plain
