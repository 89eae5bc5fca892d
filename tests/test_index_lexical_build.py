"""Bounded-memory lexical builds: runs merged on disk score exactly like a one-shot build."""

from __future__ import annotations

import gzip
import json
import random
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.index import open_search_index
from paperfeed.index.lexical import LexicalIndex
from paperfeed.index.lexical_build import SegmentBuilder, build_segment
from paperfeed.index.segment import load_segment, write_segment
from paperfeed.index.text import analyse, document_terms
from paperfeed.ranking.search import search_papers
from paperfeed.store import Store
from tests._search_fixtures import corpus

SAMPLE = Path(__file__).resolve().parents[1] / "paperfeed" / "data" / "sample-feed.jsonl.gz"


FIRST = ["Ada", "Alan", "Grace", "Yann", "Fei-Fei", "Jürgen", "Yoshua", "Kaiming", "Ilya", "Léon"]
LAST = ["Lovelace", "Turing", "Hopper", "LeCun", "Li", "Schmidhuber", "Bengio", "He", "Bottou"]
CATEGORIES = ["cs.CL", "cs.LG", "cs.CV", "stat.ML", "cs.AI", "cs.IR", "math.OC", "q-bio.NC"]


def _records() -> list[dict[str, object]]:
    """The bundled sample's real papers (titles and abstracts)."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _papers(records: list[dict[str, object]], n: int) -> list[Paper]:
    """n deterministic papers spliced from real titles, abstract sentences and authors."""
    rnd = random.Random(42)
    titles = [str(r["title"]).split() for r in records]
    sentences = [s for r in records for s in str(r.get("abstract") or "").split(". ") if s]
    out = []
    for i in range(n):
        t, u = rnd.choice(titles), rnd.choice(titles)
        cut = rnd.randint(1, max(1, len(t) - 1))
        out.append(
            Paper(
                id=i + 1,
                title=" ".join(t[:cut] + u[min(cut, len(u) - 1) :]),
                abstract=". ".join(rnd.choice(sentences) for _ in range(rnd.randint(2, 5))),
                authors=tuple(
                    f"{rnd.choice(FIRST)} {rnd.choice(LAST)}" for _ in range(rnd.randint(1, 6))
                ),
                categories=tuple(rnd.sample(CATEGORIES, rnd.randint(1, 3))),
                published=date.fromordinal(date(2015, 1, 1).toordinal() + rnd.randrange(4000)),
                source="test",
            )
        )
    return out


def _queries(records: list[dict[str, object]], n: int) -> list[str]:
    rnd = random.Random(7)
    out: list[str] = []
    while len(out) < n:
        words = str(rnd.choice(records)["title"]).split()
        if len(words) < 3:
            continue
        size = rnd.randint(2, min(5, len(words)))
        start = rnd.randrange(len(words) - size + 1)
        out.append(" ".join(words[start : start + size]))
    return out


def _top10(index: LexicalIndex, query: str) -> list[int]:
    scores = index.scores(analyse(query))
    hit = np.flatnonzero(scores > 0)
    order = np.lexsort((index.paper_ids[hit], -scores[hit]))[:10]
    return [int(index.paper_ids[hit[i]]) for i in order]


def test_segmented_build_scores_exactly_like_one_shot(tmp_path: Path) -> None:
    records = _records()
    papers = _papers(records, 3000)
    write_segment(papers, tmp_path / "one-shot")
    seen: list[str] = []
    meta = build_segment(iter(papers), tmp_path / "runs", run_tokens=15_000,
                         progress=lambda stage, done, total: seen.append(stage))
    assert meta["runs"] >= 15 and meta["compactions"] >= 1  # many runs, merged in the background
    assert not (tmp_path / "runs" / "runs").exists()  # run files are gone after the merge
    assert "tokenising" in seen and "merging matrix" in seen
    one, seg = load_segment(tmp_path / "one-shot"), load_segment(tmp_path / "runs")
    assert one.vocab == seg.vocab
    for name in ("data", "indices", "indptr", "paper_ids", "days", "title_hashes", "text_hashes"):
        assert np.array_equal(np.asarray(getattr(one, name)), np.asarray(getattr(seg, name))), name
    for inv in ("categories", "authors"):
        a, b = getattr(one, inv), getattr(seg, inv)
        assert (
            a.vocab == b.vocab
            and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.rows, b.rows)
        )
    a_idx, b_idx = LexicalIndex(one), LexicalIndex(seg)
    queries = _queries(records, 1000)
    same = [_top10(a_idx, q) == _top10(b_idx, q) for q in queries]
    assert all(same)
    assert sum(bool(_top10(a_idx, q)) for q in queries) > 900  # the queries do match papers


def test_memory_ceiling_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 64 MiB"):
        build_segment([], tmp_path / "x", memory_mb=10)


def test_store_build_uses_the_ceiling_and_searches_the_same(
    settings: Settings, store: Store
) -> None:
    store.papers.upsert_papers(corpus())
    small = with_overrides(settings, index_memory_mb=64)
    index = open_search_index(small, store)
    index.build(embed=False)
    main = index.lexical.main
    assert main is not None and main.meta["memory_mb"] == 64 and main.meta["runs"] >= 1
    ids = [p.id for p in store.papers.iter_papers() if p.id is not None]
    assert sorted(main.paper_ids.tolist()) == sorted(ids)
    hits = search_papers(index, "transformer", mode="lexical").hits
    assert hits and all(h.lexical and h.lexical > 0 for h in hits)
    # an empty store builds an empty, loadable segment
    assert build_segment([], settings.data_path / "empty")["n_docs"] == 0
    assert load_segment(settings.data_path / "empty").n_docs == 0


def test_builder_term_ids_are_document_terms_in_first_seen_order(tmp_path: Path) -> None:
    """The builder looks each folded word up once; the ids it gives equal document_terms' stems
    numbered in first-seen order (stop words dropped, title repeated, accents folded)."""
    papers = [
        *_papers(_records(), 300),
        Paper(
            id=1000,
            title="The Schölkopf kernel OF the kernels",
            abstract="and the of a",
            authors=("Léon Bottou",),
        ),
    ]
    builder = SegmentBuilder(tmp_path / "seg")
    try:
        vocab: dict[str, int] = {}
        for p in papers:
            want = [
                vocab.setdefault(t, len(vocab))
                for t in document_terms(p.title, p.abstract, p.authors)
            ]
            assert builder._term_ids(p) == want
        assert builder.vocab == vocab
    finally:
        builder.close()
