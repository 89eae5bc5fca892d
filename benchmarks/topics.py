"""Emerging topics on the 74k real arXiv papers: clustering time, peak RSS and cluster quality.

    python benchmarks/topics.py ../shared/data/arxiv-74k.jsonl.gz [--weeks 12] [--minilm]

Quality: adjusted mutual information (AMI) and purity of the clusters against the papers' arXiv
primary categories, next to a random assignment with the same cluster sizes (the baseline a
clustering must beat). Categories are a coarse, skewed reference (half the papers are cs.CV), so
the absolute AMI is modest by construction; what matters is the margin over random and how
embeddings compare with the LSA fallback on the same papers.

1. all papers, LSA vectors (TF-IDF + TruncatedSVD, the fallback the job uses without embeddings);
2. the job's window (the last `--weeks` weeks): the whole `rank_topics` (cluster, c-TF-IDF names,
   weekly counts, growth), with the top topics printed;
3. with `--minilm`: the window's papers embedded by paperfeed's own MiniLM embedder (vectors cached
   under bench-output/), clustered the same way, compared with LSA on the same papers.

Reads the papers with paperfeed's own parsers; no store needed. Run it under `nice`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.core.models import Paper
from paperfeed.ranking.topics import (
    TopicParams,
    auto_clusters,
    cluster,
    growth_label,
    lsa_vectors,
    rank_topics,
    week_start,
)
from paperfeed.sources import read_records

OUT = ROOT / "bench-output"


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def quality(labels: np.ndarray, truth: list[str], seed: int = 0) -> dict[str, float]:
    """AMI and purity against the reference labels, and the same for a random assignment of equal
    sizes."""
    from sklearn.metrics import adjusted_mutual_info_score

    def purity(lab: np.ndarray) -> float:
        total = 0
        for c in np.unique(lab):
            total += Counter(truth[i] for i in np.flatnonzero(lab == c)).most_common(1)[0][1]
        return total / len(truth)

    shuffled = np.random.default_rng(seed).permutation(labels)
    return {
        "ami": float(adjusted_mutual_info_score(truth, labels)),
        "purity": purity(labels),
        "random_ami": float(adjusted_mutual_info_score(truth, shuffled)),
        "random_purity": purity(shuffled),
        "majority_share": Counter(truth).most_common(1)[0][1] / len(truth),
    }


def show(name: str, q: dict[str, float], seconds: float, n: int, k: int) -> None:
    """One result line."""
    print(
        f"{name}: {n} papers, k={k}, {seconds:.1f}s; AMI {q['ami']:.3f} (random "
        f"{q['random_ami']:.3f}); "
        f"purity {q['purity']:.3f} (random {q['random_purity']:.3f}, majority class "
        f"{q['majority_share']:.3f}); "
        f"peak RSS {peak_rss_mib():.0f} MiB",
        flush=True,
    )


def text_of(p: Paper) -> str:
    """What the job clusters and names: the title twice, then the abstract."""
    return f"{p.title}. {p.title}. {p.abstract}"


def minilm_vectors(papers: list[Paper], cache: Path) -> np.ndarray:
    """The papers' MiniLM vectors by paperfeed's embedder, cached (keyed by the arXiv ids)."""
    ids = np.asarray([p.arxiv_id or "" for p in papers])
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        if data["ids"].shape == ids.shape and (data["ids"] == ids).all():
            return np.asarray(data["vectors"], dtype=np.float32)
    from paperfeed.index.embedder import load_embedder, paper_text

    emb = load_embedder(OUT / "models")
    texts = [paper_text(p.title, p.abstract) for p in papers]
    started = time.monotonic()
    parts = []
    for i in range(0, len(texts), 256):
        parts.append(emb.embed(texts[i : i + 256]))
        done = min(i + 256, len(texts))
        rate = done / (time.monotonic() - started)
        print(f"  embedded {done}/{len(texts)} ({rate:.0f} papers/s)", file=sys.stderr, flush=True)
    vecs = np.concatenate(parts).astype(np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, ids=ids, vectors=vecs)
    print(f"MiniLM embedding: {len(texts)} papers in {time.monotonic() - started:.0f}s", flush=True)
    return vecs


def main() -> None:
    """Run the benchmark and print the figures for BENCHMARKS.md."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("data", type=Path)
    ap.add_argument("--weeks", type=int, default=12)
    ap.add_argument(
        "--minilm", action="store_true", help="also cluster the window by MiniLM embeddings"
    )
    ap.add_argument("--skip-all", action="store_true", help="skip part 1 (all 74k papers)")
    args = ap.parse_args()

    started = time.monotonic()
    papers = [
        r for r in read_records(args.data) if isinstance(r, Paper) and r.day and r.primary_category
    ]
    print(f"read {len(papers)} papers in {time.monotonic() - started:.1f}s", flush=True)

    if not args.skip_all:
        t0 = time.monotonic()
        vecs = lsa_vectors([text_of(p) for p in papers])
        t_lsa = time.monotonic() - t0
        k = auto_clusters(len(papers))
        t0 = time.monotonic()
        labels = cluster(vecs, k)
        t_km = time.monotonic() - t0
        print(f"all papers: LSA vectors {t_lsa:.1f}s, MiniBatchKMeans {t_km:.1f}s", flush=True)
        show(
            "all papers, LSA",
            quality(labels, [p.primary_category or "" for p in papers]),
            t_lsa + t_km,
            len(papers),
            k,
        )

    until = max(p.day for p in papers if p.day)
    since = week_start(until) - timedelta(days=7 * (args.weeks - 1))
    window = [p for p in papers if p.day and since <= p.day <= until]
    truth = [p.primary_category or "" for p in window]
    texts = [text_of(p) for p in window]
    params = TopicParams()
    k = auto_clusters(len(window))
    t0 = time.monotonic()
    wvecs = lsa_vectors(texts)
    t_lsa = time.monotonic() - t0
    t0 = time.monotonic()
    topics = rank_topics(wvecs, texts, [p.day or until for p in window],
                         [p.external_upvotes or 0 for p in window], list(range(len(window))),
                         [p.categories for p in window], params, end=until)
    t_rank = time.monotonic() - t0
    print(
        f"window {since} .. {until}: {len(window)} papers; LSA {t_lsa:.1f}s, rank_topics "
        f"(cluster + names + growth) {t_rank:.1f}s; peak RSS {peak_rss_mib():.0f} MiB",
        flush=True,
    )
    labels = np.empty(len(window), dtype=np.int64)
    for t in topics:
        labels[list(t.paper_ids)] = t.id
    show("window, LSA", quality(labels, truth), t_lsa + t_rank, len(window), k)
    for t in topics[:10]:
        print(f"  {t.id:>2} {growth_label(t.growth):>6} {t.papers:>5} papers  {t.name}  "
              f"[{', '.join(c for c, _ in t.categories[:2])}]  weekly {list(t.weekly_papers[-4:])}")

    if args.minilm:
        mvecs = minilm_vectors(window, OUT / f"topics-minilm-{since}-{until}.npz")
        t0 = time.monotonic()
        mtopics = rank_topics(mvecs, texts, [p.day or until for p in window],
                              [p.external_upvotes or 0 for p in window], list(range(len(window))),
                              [p.categories for p in window], params, end=until)
        t_rank = time.monotonic() - t0
        mlabels = np.empty(len(window), dtype=np.int64)
        for t in mtopics:
            mlabels[list(t.paper_ids)] = t.id
        show("window, MiniLM", quality(mlabels, truth), t_rank, len(window), k)
        for t in mtopics[:10]:
            print(
                f"  {t.id:>2} {growth_label(t.growth):>6} {t.papers:>5} papers  {t.name}  "
                f"[{', '.join(c for c, _ in t.categories[:2])}]  weekly "
                f"{list(t.weekly_papers[-4:])}"
            )
    print(f"total {time.monotonic() - started:.0f}s, peak RSS {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
