"""Embedding throughput and quality: papers/s, SciFact-train semantic nDCG@10 / Recall@100, query
latency.

Usage: .venv/bin/python benchmarks/embed.py [--configs torch-fp32,onnx-fp32,onnx-int8] [--limit N]

One line per configuration. torch-fp32 (sentence-transformers on torch, the reference) runs only
when torch and sentence-transformers are importable: `pip install '.[bench]'` (paperfeed itself
never needs them). Docs are embedded as paper_text(title, text).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the reference must not fetch anything either

from _scifact import SCIFACT_DIR, Corpus, Qrels, Queries, load_beir, ndcg_at_k, recall_at_k

from paperfeed.index.embedder import (
    MAX_LENGTH,
    load_embedder,
    model_dir,
    paper_text,
)

EmbedFn = Callable[[Sequence[str]], np.ndarray]
QueryFn = Callable[[str], np.ndarray]


def torch_config(batch_size: int) -> tuple[EmbedFn, QueryFn] | None:
    """sentence-transformers fp32 on torch, as the model's authors run it; None without torch."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    model = SentenceTransformer(str(model_dir()), device="cpu")
    model.max_seq_length = MAX_LENGTH

    def embed(texts: Sequence[str]) -> np.ndarray:
        out: np.ndarray = np.asarray(
            model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                         show_progress_bar=False),
            dtype=np.float32,
        )
        return out

    def query(text: str) -> np.ndarray:
        vec: np.ndarray = embed([text])[0]
        return vec

    return embed, query


def onnx_config(
    cache: Path, precision: str, max_length: int, batch_size: int
) -> tuple[EmbedFn, QueryFn]:
    """The paperfeed embedder."""
    emb = load_embedder(cache, device="cpu", precision=precision, max_length=max_length)
    return (lambda texts: emb.embed(texts, batch_size=batch_size)), emb.embed_query


def subset(corpus: Corpus, qrels: Qrels, limit: int) -> Corpus:
    """All judged docs plus random others, up to limit (for quick runs)."""
    judged = {d for rels in qrels.values() for d in rels if d in corpus}
    rest = sorted(set(corpus) - judged)
    random.Random(0).shuffle(rest)
    keep = judged | set(rest[: max(0, limit - len(judged))])
    return {d: corpus[d] for d in corpus if d in keep}


def evaluate(
    name: str, fns: tuple[EmbedFn, QueryFn], corpus: Corpus, queries: Queries, qrels: Qrels
) -> dict[str, float | str]:
    """Embed corpus and queries, rank by dot product, measure speed and quality."""
    embed, query = fns
    doc_ids = list(corpus)
    texts = [paper_text(*corpus[d]) for d in doc_ids]
    embed(texts[:8])  # warm-up: first-run allocations are not throughput
    t0 = time.perf_counter()
    docs = embed(texts)
    secs = time.perf_counter() - t0
    qids = list(queries)
    qvecs = embed([queries[q] for q in qids])
    scores = qvecs @ docs.T
    top = np.argsort(-scores, axis=1)[:, :100]
    run = {q: [doc_ids[j] for j in top[i]] for i, q in enumerate(qids)}
    lat = []
    for q in qids[:200]:
        t = time.perf_counter()
        query(queries[q])
        lat.append((time.perf_counter() - t) * 1000)
    return {
        "config": name,
        "papers_per_s": len(texts) / secs,
        "ndcg10": ndcg_at_k(run, qrels, 10),
        "recall100": recall_at_k(run, qrels, 100),
        "query_ms_p50": float(np.percentile(lat, 50)),
        "query_ms_p95": float(np.percentile(lat, 95)),
        "docs": len(texts),
    }


def main() -> None:
    """Run the configurations and print one line each."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SCIFACT_DIR)
    ap.add_argument("--configs", default="torch-fp32,onnx-fp32,onnx-int8")
    ap.add_argument("--limit", type=int, default=0, help="docs to keep (0 = all)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-length", type=int, default=MAX_LENGTH)
    ap.add_argument("--cache", type=Path, default=None, help="model cache dir (default: temp)")
    ap.add_argument("--json", type=Path, default=None, help="also write results here")
    args = ap.parse_args()

    corpus, queries, qrels = load_beir(args.data, "train")
    if args.limit:
        corpus = subset(corpus, qrels, args.limit)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="paperfeed-embed-bench-"))
    print(f"{len(corpus)} docs, {len(queries)} queries, max_length {args.max_length}, "
          f"batch {args.batch_size}, cpus {len(os.sched_getaffinity(0))}", flush=True)
    results = []
    for name in args.configs.split(","):
        if name == "torch-fp32":
            fns = torch_config(32)  # sentence-transformers' own default batch size
            if fns is None:
                print("torch-fp32: skipped (torch / sentence-transformers not installed)")
                continue
        elif name.startswith("onnx-"):
            fns = onnx_config(cache, name.removeprefix("onnx-"), args.max_length, args.batch_size)
        else:
            raise SystemExit(f"unknown config {name!r}")
        r = evaluate(name, fns, corpus, queries, qrels)
        results.append(r)
        print(f"{r['config']:<12} {r['papers_per_s']:7.1f} papers/s  nDCG@10 {r['ndcg10']:.4f}  "
              f"R@100 {r['recall100']:.4f}  query p50 {r['query_ms_p50']:.1f} ms "
              f"p95 {r['query_ms_p95']:.1f} ms", flush=True)
    base = next((r for r in results if r["config"] == "torch-fp32"), None)
    if base is not None:
        for r in results:
            if r is not base:
                print(
                    f"{r['config']:<12} speed-up "
                    f"x{float(r['papers_per_s']) / float(base['papers_per_s']):.2f}"
                    f"  nDCG@10 delta {float(r['ndcg10']) - float(base['ndcg10']):+.4f}"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
