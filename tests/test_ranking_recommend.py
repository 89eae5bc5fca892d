"""Recommendations: a per-user ridge model over paper features, with "less like this" as
negatives."""

from __future__ import annotations

import numpy as np

from paperfeed.index.text import analyse
from paperfeed.ranking.recommend import (
    Background,
    Example,
    lexical_features,
    recommend,
    vector_features,
)

RNG = np.random.default_rng(7)
D = 48
CENTRES = {t: RNG.standard_normal(D) for t in "ABC"}


def _papers(topic: str, n: int, start: int) -> tuple[list[int], list[np.ndarray]]:
    vecs = [CENTRES[topic] + 0.9 * RNG.standard_normal(D) for _ in range(n)]
    return list(range(start, start + n)), vecs


def _space() -> tuple[dict[str, list[int]], object, object]:
    ids: list[int] = []
    vecs: list[np.ndarray] = []
    by: dict[str, list[int]] = {}
    for k, t in enumerate("ABC"):
        cand_ids, cand_vecs = _papers(t, 60, 1000 * (k + 1))  # new papers (candidates)
        ex_ids, ex_vecs = _papers(t, 10, 1000 * (k + 1) + 500)  # older papers (examples)
        by[t] = cand_ids
        by[t + "_ex"] = ex_ids
        ids += cand_ids + ex_ids
        vecs += cand_vecs + ex_vecs
    feats = vector_features(ids, np.stack(vecs).astype(np.float32))
    pool = [i for t in "ABC" for i in by[t]]
    bg = Background(feats.matrix[[feats.row_of[i] for i in pool]])
    return by, feats, bg


def test_learns_the_topic_of_the_upvotes() -> None:
    by, feats, bg = _space()
    pool = by["A"] + by["B"] + by["C"]
    recs = recommend(feats, bg, [Example(i, "upvoted") for i in by["A_ex"][:5]], pool, 20)  # type: ignore[arg-type]
    assert len(recs) == 20
    precision = sum(r.paper_id in by["A"] for r in recs) / 20
    assert precision >= 0.9
    assert all(
        r.similar_to and r.similar_to[0][1] == "upvoted" and r.similar_to[0][0] in by["A_ex"]
        for r in recs[:5]
    )
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)


def test_less_like_this_changes_what_comes_next() -> None:
    by, feats, bg = _space()
    pool = by["A"] + by["B"] + by["C"]
    likes = [Example(i, "upvoted") for i in by["A_ex"][:4] + by["B_ex"][:4]]
    before = recommend(feats, bg, likes, pool, 30)  # type: ignore[arg-type]
    b_before = sum(r.paper_id in by["B"] for r in before)
    assert b_before >= 8
    after = recommend(feats, bg, likes + [Example(i, "less") for i in by["B"][:2]], pool, 30)  # type: ignore[arg-type]
    b_after = sum(r.paper_id in by["B"] for r in after)
    assert b_after < b_before / 2
    assert recommend(feats, bg, [Example(by["B"][0], "less")], pool, 5) == []  # type: ignore[arg-type]


def test_lexical_features_stand_in_for_vectors() -> None:
    texts = {
        1: "diffusion model image generation denoising",
        2: "diffusion model video generation",
        3: "protein folding structure",
        4: "language model reasoning chain of thought",
        5: "denoising diffusion for audio generation",
        6: "protein structure prediction",
        7: "large language model alignment",
        8: "image diffusion sampling speed",
    }
    tf = [{st: analyse(t).count(st) for st in analyse(t)} for t in texts.values()]
    feats = lexical_features(list(texts), tf)
    assert feats.space == "lexical" and np.allclose(
        np.linalg.norm(feats.matrix, axis=1), 1.0, atol=1e-5
    )
    bg = Background(feats.matrix)
    recs = recommend(
        feats,
        bg,
        [Example(1, "upvoted"), Example(2, "more")],
        [3, 4, 5, 6, 7, 8],
        6,
        min_score=-1e9,
    )
    assert {r.paper_id for r in recs[:2]} == {5, 8}
    assert recs[0].similar_to[0][0] in (1, 2)
