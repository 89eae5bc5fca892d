"""Score fusion's edge cases (issue 22): a pool whose scores are all equal scales to 1 (every
candidate is as good as the best), never to a division by zero; no finite score scales to 0."""

from __future__ import annotations

import numpy as np

from paperfeed.ranking import fusion


def test_fusions_all_equal_case_scales_to_one() -> None:
    got = fusion.minmax(np.array([2.5, 2.5, np.nan, 2.5]))
    assert got.tolist() == [1.0, 1.0, 0.0, 1.0]
    assert fusion.minmax(np.array([7.0])).tolist() == [1.0]  # a pool of one


def test_convex_with_one_side_all_equal_keeps_the_other_sides_order() -> None:
    lex = np.array([4.0, 2.0, 0.0])
    sem = np.array([0.3, 0.3, 0.3])  # the semantic side cannot tell them apart
    got = fusion.convex(lex, sem, alpha=0.5)
    assert got.tolist() == [1.0, 0.75, 0.5]
