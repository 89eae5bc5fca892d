"""Search speed on the 74k real arXiv papers: lexical q/s vs raw bm25s, hybrid latency, build time,
RSS.

Usage: .venv/bin/python benchmarks/search_speed.py [--queries 500] [--real-vectors 1000] [--work
DIR]

The papers go through store.upsert_papers and SearchIndex.build (timed). Vectors: --real-vectors
papers (a Random(42) sample) are embedded with the real model; every other paper gets a random unit
vector from numpy's default_rng(42) (embedding 74k papers takes hours on 2 CPU cores). Query
embedding is always the real model, so hybrid latency includes it. Queries are 2-5 consecutive words
of random real titles; each is run once, the query-embedding cache cleared before each.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_common import (
    ROOT,
    Timer,
    arxiv_records,
    dir_size_mb,
    peak_rss_mb,
    percentiles,
    queries,
    to_paper,
)

from paperfeed.core.settings import load_settings
from paperfeed.index import open_search_index
from paperfeed.ranking.search import search_papers
from paperfeed.store import open_store


def _tantivy_text(q: str) -> str:
    # tantivy's query parser reads "word:" as a field and "(" as grouping: give it the words only
    return " ".join(re.findall(r"\w+", q))


def reference_qps(
    records: list[dict[str, object]], qs: list[str], ours: Callable[[], float]
) -> dict[str, float]:
    """q/s of bm25s (numba and numpy backends) and tantivy on the same texts and queries, with
    tokenisation; `ours` (paperfeed's q/s) is run right before and right after each, as
    "paperfeed@NAME" (their mean):

    on a machine shared with other jobs only adjacent runs compare.
    """
    import bm25s
    import Stemmer
    import tantivy

    out: dict[str, float] = {}
    stemmer = Stemmer.Stemmer("english")
    texts = [f"{r['title']} {r['abstract']} {' '.join(r.get('authors') or [])}" for r in records]  # type: ignore[arg-type]

    def tok(q: str) -> object:
        return bm25s.tokenize([q], stopwords="en", stemmer=stemmer, show_progress=False)

    for backend in ("numba", "numpy"):
        with Timer() as t:
            retriever = bm25s.BM25(backend=backend)
            retriever.index(
                bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
                show_progress=False,
            )
        out[f"bm25s-{backend} build"] = t.seconds
        for q in qs[:5]:  # numba compiles on the first calls
            retriever.retrieve(
                tok(q), k=10, show_progress=False, backend_selection=backend, n_threads=1
            )
        before = ours()
        with Timer() as t:
            for q in qs:
                retriever.retrieve(
                    tok(q), k=10, show_progress=False, backend_selection=backend, n_threads=1
                )
        out[f"bm25s-{backend}"] = len(qs) / t.seconds
        out[f"paperfeed@bm25s-{backend}"] = (before + ours()) / 2
        del retriever
    with Timer() as t:
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("body", stored=False, tokenizer_name="en_stem")
        sb.add_integer_field("row", stored=True, fast=True)
        ix = tantivy.Index(sb.build())
        writer = ix.writer(heap_size=200_000_000, num_threads=1)
        for i, text in enumerate(texts):
            writer.add_document(tantivy.Document(body=text, row=i))
        writer.commit()
        writer.wait_merging_threads()
        ix.reload()
    out["tantivy build"] = t.seconds
    searcher = ix.searcher()
    before = ours()
    with Timer() as t:
        for q in qs:
            query, _errors = ix.parse_query_lenient(_tantivy_text(q), ["body"])
            hits = searcher.search(query, 10).hits
            [searcher.doc(addr)["row"] for _, addr in hits]  # the ids, as a caller needs them
    out["tantivy"] = len(qs) / t.seconds
    out["paperfeed@tantivy"] = (before + ours()) / 2
    return out


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--real-vectors", type=int, default=1000)
    ap.add_argument("--work", type=Path, default=ROOT / "bench-output" / "speed-74k")
    ap.add_argument(
        "--lexical-only", action="store_true", help="skip vectors and hybrid latency (a quick run)"
    )
    args = ap.parse_args()
    records = arxiv_records()
    settings = load_settings({"data_dir": str(args.work)}, environ={})
    args.work.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.db_url)
    if store.papers.count_papers() < len(records):
        with Timer() as t:
            papers = [to_paper(r) for r in records]
            for i in range(0, len(papers), 2000):
                store.papers.upsert_papers(papers[i : i + 2000])
        print(f"store ingest: {store.papers.count_papers()} papers in {t.seconds:.1f}s")
    index = open_search_index(settings, store)
    with Timer() as t:
        index.build(embed=False)
    lex_dir = settings.data_path / "index" / str(index._pointer["main"])
    print(f"lexical build: {index.lexical.n_alive} papers in {t.seconds:.1f}s, "
          f"{dir_size_mb(lex_dir):.0f} MiB on disk")
    from dataclasses import replace

    from search_common import synthetic_papers

    tag = f"zq{int(time.time())}x"  # new words each run, so a rerun ingests new papers too
    fresh = [
        replace(p, id=None, title=f"{p.title} {tag}{i}")
        for i, p in enumerate(synthetic_papers(records, 100, seed=5))
    ]
    store.papers.upsert_papers(fresh)
    with Timer() as t:
        index.refresh()
    found = search_papers(index, f"{tag}42", mode="lexical").total
    print(
        f"refresh after ingesting 100 new papers: {t.seconds * 1000:.0f} ms (new paper found: "
        f"{found == 1})"
    )
    emb = None if args.lexical_only else index.embedder()
    if args.lexical_only:
        print("--lexical-only: hybrid skipped")
    elif emb is None:
        print("semantic extra missing: hybrid skipped")
    elif index.semantic.count() < index.lexical.n_alive:
        ids = index.lexical.paper_ids.copy()
        rnd = random.Random(42)
        real = sorted(rnd.sample(list(map(int, ids)), min(args.real_vectors, len(ids))))
        with Timer() as t:
            index.embed(limit=None) if args.real_vectors >= len(ids) else None
            from paperfeed.index.embedder import paper_text

            index.semantic.ensure_model(emb.name, emb.dim)
            got = index.store.papers.get_papers(real)
            vecs = emb.embed([paper_text(got[i].title, got[i].abstract) for i in real])
        print(
            f"real embedding: {len(real)} papers in {t.seconds:.1f}s "
            f"({len(real) / t.seconds:.1f}/s)"
        )
        rest = np.setdiff1d(ids, np.asarray(real))
        rng = np.random.default_rng(42)
        fill = rng.standard_normal((len(rest), emb.dim)).astype(np.float32)
        fill /= np.linalg.norm(fill, axis=1, keepdims=True)
        all_ids = np.concatenate([np.asarray(real, dtype=np.int64), rest])
        all_vecs = np.concatenate([vecs, fill])
        index.semantic.append(all_ids.tolist(), all_vecs)
        print(f"vectors: {len(real)} real + {len(rest)} deterministic random (default_rng(42))")
    qs = queries(records, args.queries)
    search_papers(index, "warm up", mode="lexical")
    with Timer() as t:
        for q in qs:
            search_papers(index, q, k=10, mode="lexical")
    pf_qps = len(qs) / t.seconds
    lat: list[float] = []
    emb_lat: list[float] = []
    if emb is not None:
        search_papers(index, "warm up")
        for q in qs:
            index._query_cache.clear()
            s = time.perf_counter()
            emb.embed_query(q)
            emb_lat.append(time.perf_counter() - s)
        for q in qs:
            index._query_cache.clear()
            s = time.perf_counter()
            search_papers(index, q, k=10)
            lat.append(time.perf_counter() - s)
    rss_paperfeed = peak_rss_mb()

    def ours() -> float:
        with Timer() as t:
            for q in qs:
                search_papers(index, q, k=10, mode="lexical")
        return len(qs) / t.seconds

    refs = reference_qps(records, qs, ours)
    print(f"lexical paperfeed q/s={pf_qps:.0f} (first run, before the references)")
    for name in ("bm25s-numba", "bm25s-numpy", "tantivy"):
        mine = refs[f"paperfeed@{name}"]
        print(
            f"lexical paperfeed q/s={mine:.0f} {name} q/s={refs[name]:.0f} "
            f"ratio={mine / refs[name]:.2f}"
            + (
                f" ({len(qs)} queries, k=10, one at a time; paperfeed run right before and after)"
                if name == "bm25s-numba"
                else ""
            )
        )
    print(
        "reference builds: "
        + ", ".join(f"{k} {v:.1f}s" for k, v in refs.items() if k.endswith("build"))
    )
    if lat:
        p50, p95 = percentiles(lat)
        e50, e95 = percentiles(emb_lat)
        print(
            f"hybrid latency p50={p50:.1f}ms p95={p95:.1f}ms (query embedding alone "
            f"p50={e50:.1f}ms p95={e95:.1f}ms)"
        )
    print(
        f"peak RSS: {rss_paperfeed:.0f} MiB after paperfeed build+search, {peak_rss_mb():.0f} MiB "
        "after the references"
    )


if __name__ == "__main__":
    main()
