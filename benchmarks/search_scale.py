"""Search at scale: N synthetic papers (default 1M) made deterministically from the real records.

Usage: .venv/bin/python benchmarks/search_scale.py [--papers 1000000] [--queries 300] [--work DIR]

Papers come from search_common.synthetic_papers (Random(42): titles spliced from two real titles,
abstracts of 4-8 real abstract sentences, real author lists and categories, random days). They are
indexed with paperfeed's own segment writer straight from the generator: the store is left empty
because a SQLite ingest of 1M papers is the ingest benchmark's business, not search's (ranking
reads the store only for phrase checks, which these queries do not use). Vectors are random unit
vectors (default_rng(42)); the query is embedded with the real model, so latency includes it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
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
    synthetic_papers,
)

from paperfeed.core.settings import load_settings
from paperfeed.index import open_search_index
from paperfeed.index.segment import write_segment
from paperfeed.ranking.search import search_papers
from paperfeed.store import open_store


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--dim", type=int, default=384)
    args = ap.parse_args()
    work = args.work or ROOT / "bench-output" / f"scale-{args.papers}"
    settings = load_settings({"data_dir": str(work)}, environ={})
    work.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.db_url)
    records = arxiv_records()
    root = settings.data_path / "index"
    root.mkdir(parents=True, exist_ok=True)
    pointer = root / "current.json"
    if not pointer.exists():
        name = "main-scale"
        shutil.rmtree(root / name, ignore_errors=True)
        with Timer() as t:
            meta = write_segment(synthetic_papers(records, args.papers), root / name,
                                 extra_meta={"watermark": None, "built_at": "benchmark"})
        print(f"lexical build: {meta['n_docs']} papers, {meta['n_tokens']} tokens in {t.seconds:.0f}s, "
              f"{dir_size_mb(root / name):.0f} MiB on disk, peak RSS so far {peak_rss_mb():.0f} MiB", flush=True)
        pointer.write_text(json.dumps({"main": name, "delta": None, "synced_to": None}))
    index = open_search_index(settings, store)
    emb = index.embedder()
    dim = emb.dim if emb is not None else args.dim
    model = emb.name if emb is not None else "random"
    if index.semantic.count() < index.lexical.n_alive:
        with Timer() as t:
            index.semantic.ensure_model(model, dim)
            rng = np.random.default_rng(42)
            ids = index.lexical.paper_ids
            vi = index.semantic._index
            assert vi is not None
            step = 250_000
            for start in range(0, len(ids), step):
                v = rng.standard_normal((min(step, len(ids) - start), dim)).astype(np.float32)
                v /= np.linalg.norm(v, axis=1, keepdims=True)
                vi.append(ids[start : start + step], v)
            index.semantic.reload()
        print(f"vectors: {index.semantic.count()} random unit vectors written in {t.seconds:.0f}s", flush=True)
    if emb is not None:
        with Timer() as t:  # the first semantic search builds whatever the vector index keeps for big sizes
            search_papers(index, "first semantic search", mode="semantic")
        print(f"first semantic search (one-off structures built): {t.seconds:.1f}s", flush=True)
    qs = queries(records, args.queries)
    search_papers(index, "warm up", mode="lexical")
    lex: list[float] = []
    for q in qs:
        s = time.perf_counter()
        search_papers(index, q, k=10, mode="lexical")
        lex.append(time.perf_counter() - s)
    hyb: list[float] = []
    if emb is not None:
        search_papers(index, "warm up")
        for q in qs:
            index._query_cache.clear()
            s = time.perf_counter()
            search_papers(index, q, k=10)
            hyb.append(time.perf_counter() - s)
    l50, l95 = percentiles(lex)
    print(f"papers={index.lexical.n_alive} lexical p50={l50:.1f}ms p95={l95:.1f}ms")
    if hyb:
        h50, h95 = percentiles(hyb)
        print(f"papers={index.lexical.n_alive} hybrid p50={h50:.1f}ms p95={h95:.1f}ms (real query embedding)")
    lex_dir = root / "main-scale"
    print(f"index size: lexical {dir_size_mb(lex_dir):.0f} MiB, vectors {dir_size_mb(root / 'vectors'):.0f} MiB; "
          f"peak RSS {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
