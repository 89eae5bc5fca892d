"""Retrieval quality on a BEIR data set through paperfeed's own ingest, index and search code.

Usage: .venv/bin/python benchmarks/beir.py DIR [--split train] [--work DIR] [--tune]

The corpus is stored as papers (store.upsert_papers; corpus ids are no arXiv ids, so a mapping paper
id -> corpus ids is kept: a few corpus documents share a title and merge into one paper), indexed
with SearchIndex.build (BM25 + all-MiniLM-L6-v2 vectors, kept under --work so a rerun reuses them),
and every query goes through ranking.search_papers. Raw bm25s (its own tokenizer, English stop words
and PyStemmer stemming, default parameters) runs on the same corpus in the same script. Prints one
line per method: `hybrid nDCG@10=0.7123 R@100=0.9345`. --tune also prints the grid used to choose
the default fusion (alpha for convex, k for RRF).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scifact import Qrels, Queries, load_beir, ndcg_at_k, recall_at_k

from paperfeed.core.models import Paper
from paperfeed.core.settings import load_settings
from paperfeed.index import SearchIndex, open_search_index
from paperfeed.ranking import fusion
from paperfeed.ranking.search import search_papers
from paperfeed.store import open_store

K = 100


def build(
    directory: Path, work: Path, split: str
) -> tuple[SearchIndex, dict[int, list[str]], Queries, Qrels]:
    """Store and index the corpus under `work` (reused when already there)."""
    corpus, queries, qrels = load_beir(directory, split)
    work.mkdir(parents=True, exist_ok=True)
    settings = load_settings({"data_dir": str(work)}, environ={})
    store = open_store(settings.db_url)
    if store.papers.count_papers() == 0:
        batch = [Paper(title=t or f"untitled {cid}", abstract=x, source="beir", comment=cid)
                 for cid, (t, x) in corpus.items()]
        for i in range(0, len(batch), 2000):
            store.papers.upsert_papers(batch[i : i + 2000])
    mapping: dict[int, list[str]] = {}
    for p in store.papers.iter_papers():
        mapping.setdefault(int(p.id or 0), [])
    # the comment holds the first corpus id of each paper; recover all ids by title
    from paperfeed.core.models import normalise_title

    by_title: dict[str, list[str]] = {}
    for cid, (t, _) in corpus.items():
        by_title.setdefault(normalise_title(t or f"untitled {cid}"), []).append(cid)
    for p in store.papers.iter_papers():
        mapping[int(p.id or 0)] = by_title.get(p.title_key, [])
    index = open_search_index(settings, store)
    if index.lexical.n_alive != store.papers.count_papers():
        index.build(embed=False)
    if index.semantic_available() and index.semantic.count() < index.lexical.n_alive:
        started = time.monotonic()
        index.embed()
        print(
            f"# embedded {index.semantic.count()} papers in {time.monotonic() - started:.0f}s",
            file=sys.stderr,
        )
    return index, mapping, queries, qrels


def run_paperfeed(
    index: SearchIndex, mapping: dict[int, list[str]], queries: Queries, **kw: object
) -> dict[str, list[str]]:
    """One run: query id -> corpus ids, best first."""
    run: dict[str, list[str]] = {}
    for qid, text in queries.items():
        res = search_papers(index, text, k=K, **kw)  # type: ignore[arg-type]
        ranked: list[str] = []
        for h in res.hits:
            ranked.extend(mapping.get(h.paper_id, []))
        run[qid] = ranked
    return run


def run_bm25s(directory: Path, split: str) -> dict[str, list[str]]:
    """Plain bm25s on the same corpus: title + text, English stop words, Snowball stemmer."""
    import bm25s
    import Stemmer

    corpus, queries, _ = load_beir(directory, split)
    ids = list(corpus)
    texts = [f"{corpus[i][0]} {corpus[i][1]}" for i in ids]
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    qids = list(queries)
    qtok = bm25s.tokenize(
        [queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False
    )
    docs, _ = retriever.retrieve(qtok, k=K, show_progress=False)
    return {q: [ids[int(d)] for d in docs[i]] for i, q in enumerate(qids)}


def line(name: str, run: dict[str, list[str]], qrels: Qrels) -> str:
    """`name nDCG@10=… R@100=…`."""
    return (
        f"{name} nDCG@10={ndcg_at_k(run, qrels, 10):.4f} R@100={recall_at_k(run, qrels, 100):.4f}"
    )


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--split", default="train")
    ap.add_argument(
        "--work", type=Path, default=None, help="Where the store and index are kept (reused)."
    )
    ap.add_argument("--tune", action="store_true", help="Also print the fusion grid.")
    args = ap.parse_args()
    work = (
        args.work
        or Path(__file__).resolve().parent.parent / "bench-output" / f"beir-{args.directory.name}"
    )
    index, mapping, queries, qrels = build(args.directory, work, args.split)
    semantic = index.semantic.count() > 0
    print(
        line("lexical", run_paperfeed(index, mapping, queries, mode="lexical"), qrels), flush=True
    )
    if semantic:
        print(
            line("semantic", run_paperfeed(index, mapping, queries, mode="semantic"), qrels),
            flush=True,
        )
        print(line("hybrid", run_paperfeed(index, mapping, queries), qrels), flush=True)
        print(
            line("rrf", run_paperfeed(index, mapping, queries, fusion_method="rrf"), qrels),
            flush=True,
        )
        print(
            line("convex", run_paperfeed(index, mapping, queries, fusion_method="convex"), qrels),
            flush=True,
        )
    else:
        print("# semantic extra not installed: semantic/hybrid/rrf/convex skipped", flush=True)
    print(line("bm25s", run_bm25s(args.directory, args.split), qrels), flush=True)
    if args.tune and semantic:
        for alpha in np.round(np.arange(0.1, 0.95, 0.1), 2):
            run = run_paperfeed(index, mapping, queries, fusion_method="convex", alpha=float(alpha))
            print(line(f"tune convex alpha={alpha:.1f}", run, qrels), flush=True)
        for k in (10, 30, 60, 100):
            saved = fusion.RRF_K
            fusion.RRF_K = float(k)
            try:
                run = run_paperfeed(index, mapping, queries, fusion_method="rrf")
            finally:
                fusion.RRF_K = saved
            print(line(f"tune rrf k={k}", run, qrels), flush=True)


if __name__ == "__main__":
    main()
