"""The compiled lexical pass (numba) gives what the numpy path gives: scores, counts, totals, top
rows."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from paperfeed.core.models import Paper
from paperfeed.index import kernels
from paperfeed.index.lexical import LexicalIndex, Matches
from paperfeed.index.segment import load_segment, write_segment

pytest.importorskip("numba")

WORDS = [f"w{i}x" for i in range(60)]


def _papers(n: int, seed: int, start_id: int = 1) -> list[Paper]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        # a skewed vocabulary, so some terms are in most papers and some in few
        words = [
            WORDS[min(int(rnd.expovariate(0.12)), len(WORDS) - 1)]
            for _ in range(rnd.randint(3, 30))
        ]
        out.append(
            Paper(
                id=start_id + i,
                title=" ".join(words[:4]),
                abstract=" ".join(words[4:]),
                published=date(2020, 1, 1),
                source="test",
            )
        )
    return out


@pytest.fixture
def lex(tmp_path: Path) -> Iterator[LexicalIndex]:
    main_papers = _papers(400, seed=1)
    write_segment(main_papers, tmp_path / "main")
    main = load_segment(tmp_path / "main")
    # a delta: 30 new papers and 20 changed ones, whose main rows are masked
    changed = [
        Paper(
            id=p.id,
            title=p.title + " w59x",
            abstract=p.abstract,
            published=p.published,
            source="test",
        )
        for p in main_papers[:20]
    ]
    write_segment(
        [*changed, *_papers(30, seed=2, start_id=1000)],
        tmp_path / "delta",
        base=main,
        masked_main_rows=range(20),
    )
    yield LexicalIndex(main, load_segment(tmp_path / "delta"))
    kernels.enabled = True


def _both(lex: LexicalIndex, terms: list[str], **kw: object) -> tuple[Matches, Matches]:
    kernels.enabled = True
    fast = lex.match(terms, **kw)  # type: ignore[arg-type]
    kernels.enabled = False
    slow = lex.match(terms, **kw)  # type: ignore[arg-type]
    kernels.enabled = True
    return fast, slow


@pytest.mark.parametrize(
    "terms",
    [
        ["w0x"],
        ["w1x", "w5x"],
        ["w0x", "w3x", "w20x", "w59x"],
        ["w2x", "w2x", "w9x"],
        ["w1x", "nosuchx"],
        ["w40x", "w41x", "w42x", "w43x", "w44x", "w45x"],
    ],
)
@pytest.mark.parametrize("all_first", [True, False])
@pytest.mark.parametrize("top", [1, 10, 1000])
def test_compiled_equals_numpy(
    lex: LexicalIndex, terms: list[str], all_first: bool, top: int
) -> None:
    assert kernels.compiled() is not None
    fast, slow = _both(lex, terms, top=top, all_first=all_first)
    assert np.array_equal(fast.scores, slow.scores)
    assert np.array_equal(fast.counts, slow.counts)
    assert fast.total() == slow.total() > 0
    assert fast.total_full() == slow.total_full()
    # the same ranking, ties by row in both
    assert fast.top is not None and slow.top is not None
    assert fast.top.tolist() == slow.top.tolist()
    assert fast.top is not None and not set(fast.top.tolist()) & set(range(20))  # masked main rows


def test_all_first_puts_full_matches_first(lex: LexicalIndex) -> None:
    m = lex.match(["w0x", "w30x"], top=50, all_first=True)
    assert m.top is not None
    full = m.counts[m.top] == 2
    n_full = m.total_full()
    assert 0 < n_full < 50 and full[:n_full].all() and not full[n_full:].any()
    assert np.all(np.diff(m.scores[m.top[:n_full]]) <= 0)


def test_mask_and_weights(lex: LexicalIndex) -> None:
    mask = lex.alive.copy()
    mask[::2] = False
    fast, slow = _both(lex, ["w0x", "w4x"], mask=mask, top=10)
    assert np.array_equal(fast.scores, slow.scores) and not fast.scores[~mask].any()
    assert fast.top is not None and slow.top is not None
    assert fast.top.tolist() == slow.top.tolist()
    kernels.enabled = True
    w = lex.match(["w0x", "w4x"], [2.0, 0.5]).scores
    kernels.enabled = False
    assert np.array_equal(w, lex.match(["w0x", "w4x"], [2.0, 0.5]).scores)


def test_has_terms_matches_numpy(lex: LexicalIndex) -> None:
    rows = np.asarray([0, 5, 25, 399, 400, 410, 449], dtype=np.int64)
    terms = ["w0x", "w59x", "w7x", "nosuchx"]
    kernels.enabled = True
    fast = lex.has_terms(rows, terms)
    kernels.enabled = False
    slow = lex.has_terms(rows, terms)
    assert (
        fast.shape == (7, 4)
        and np.array_equal(fast, slow)
        and fast[:, 0].any()
        and not fast[:, 3].any()
    )
