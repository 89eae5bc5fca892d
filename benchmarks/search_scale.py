"""Search at scale: N synthetic papers (default 1M) made deterministically from the real records.

Usage: .venv/bin/python benchmarks/search_scale.py [--papers 1000000] [--queries 300] [--work DIR]
       [--memory-mb 2048]

Papers come from search_common.synthetic_papers (Random(42): titles spliced from two real titles,
abstracts of 4-8 real abstract sentences, real author lists and categories, random days). They are
indexed straight from the generator by paperfeed's bounded-memory segment builder (runs within
--memory-mb, merged on disk); the store is left empty because a SQLite ingest of 1M papers is the
ingest benchmark's business, not search's.

Vectors: random vectors have no neighbourhood structure (every point is about equally far from
every other), which no approximate index - and no real corpus - has. So each paper's vector is a
mixture of the real MiniLM vectors of three of 4,000 real arXiv papers (Dirichlet weights,
default_rng(42)) plus noise, appended 250k at a time: the HNSW graph is built incrementally as
they arrive, exactly as an embedding job grows it. Queries are embedded by the real model, so
latency includes it, and recall@10 of the vector search is measured against exact search for them.

Each phase runs in its own process, so the build's peak memory and the serving memory are
measured apart: build-lexical, build-vectors, serve (latencies, serving RSS, recall).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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

PHASES = ["build-lexical", "build-vectors", "serve"]
BASE_PAPERS = 4000
APPEND_STEP = 250_000


def _status_mb() -> dict[str, float]:
    """This process's memory lines of /proc/self/status (VmRSS, VmHWM, RssAnon, RssFile), in MiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
            key, value = line.split(":")
            out[key] = int(value.split()[0]) / 1024
    return out


def _rss_mb() -> tuple[float, float]:
    """Current and peak resident memory of this process (VmRSS, VmHWM), in MiB."""
    out = _status_mb()
    return out.get("VmRSS", 0.0), out.get("VmHWM", 0.0)


def base_vectors(records: list[dict[str, object]], cache: Path) -> np.ndarray:
    """Real MiniLM vectors of 4,000 real papers (every 18th record), cached under bench-output/."""
    if cache.is_file():
        return np.load(cache)
    from paperfeed.index.embedder import load_embedder, paper_text

    picked = [records[i] for i in range(0, 18 * BASE_PAPERS, 18)][:BASE_PAPERS]
    emb = load_embedder(ROOT / "bench-output" / "models", device="cpu", precision="int8")
    vecs = emb.embed([paper_text(str(r["title"]), str(r.get("abstract") or "")) for r in picked])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vecs)
    return vecs


def mixed_vectors(base: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """n unit vectors, each a Dirichlet mixture of three real vectors plus a little noise."""
    pick = rng.integers(0, len(base), (n, 3))
    w = rng.dirichlet((1.0, 1.0, 1.0), n).astype(np.float32)
    v = np.einsum("nk,nkd->nd", w, base[pick])
    v += 0.02 * rng.standard_normal(v.shape).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.astype(np.float32)


def phase_build_lexical(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from paperfeed.index.lexical_build import build_segment

    records = arxiv_records()
    name = "main-scale"
    with Timer() as t:
        meta = build_segment(synthetic_papers(records, args.papers), root / name,
                             memory_mb=args.memory_mb,
                             extra_meta={"watermark": None, "built_at": "benchmark"})
    (root / "current.json").write_text(json.dumps({"main": name, "delta": None, "synced_to": None}))
    return {
        "papers": meta["n_docs"],
        "tokens": meta["n_tokens"],
        "runs": meta["runs"],
        "seconds": t.seconds,
        "disk_mib": dir_size_mb(root / name),
        "peak_rss_mib": peak_rss_mb(),
    }


def phase_build_vectors(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from paperfeed.index import vectors as V
    from paperfeed.index.embedder import load_embedder
    from paperfeed.index.segment import load_segment

    records = arxiv_records()
    base = base_vectors(records, ROOT / "bench-output" / f"base-vectors-{BASE_PAPERS}.npy")
    emb = load_embedder(ROOT / "bench-output" / "models", device="cpu", precision="int8")
    # synthetic_papers numbers papers 1..N, so this phase may run beside the lexical build
    ids = np.arange(1, args.papers + 1, dtype=np.int64)
    if (root / "main-scale" / "segment.json").exists():
        assert np.array_equal(np.asarray(load_segment(root / "main-scale").paper_ids), ids)
    del records
    idx = V.create_vectors(root / "vectors", model=emb.name, dim=emb.dim)
    rng = np.random.default_rng(42)
    graph_seconds = 0.0
    with Timer() as t:
        for start in range(0, len(ids), APPEND_STEP):
            chunk = ids[start : start + APPEND_STEP]
            v = mixed_vectors(base, rng, len(chunk))
            before = (idx.meta.get("ann") or {}).get("graph")
            s = time.perf_counter()
            idx.append(chunk, v)  # grows the HNSW graph once past the threshold
            if (idx.meta.get("ann") or {}).get("graph") != before:
                graph_seconds += time.perf_counter() - s
            print(
                f"  vectors {start + len(chunk):,}: graph {idx.meta.get('ann', {}).get('graph')} "
                f"tail {idx.ann_tail():,} rss {_rss_mb()[0]:.0f} MiB",
                file=sys.stderr,
                flush=True,
            )
        idx.build_ann(force=True)  # fold the last tail in, as the embedding job does when it ends
    graph = idx.meta["ann"]["graph"]
    return {"vectors": len(idx), "seconds": t.seconds, "graph_append_seconds": graph_seconds,
            "disk_mib": dir_size_mb(root / "vectors"),
            "graph_mib": (root / "vectors" / graph).stat().st_size / 2**20,
            "peak_rss_mib": peak_rss_mb()}


def phase_serve(args: argparse.Namespace, root: Path, settings: Any) -> dict[str, Any]:
    from paperfeed.index import open_search_index
    from paperfeed.ranking.search import search_papers
    from paperfeed.store import open_store

    records = arxiv_records()
    qs = queries(records, args.queries)
    del records
    store = open_store(settings.db_url)
    index = open_search_index(settings, store)
    emb = index.embedder()
    assert emb is not None, "the semantic extra is needed for the query embedding"
    with Timer() as t:
        search_papers(index, "first semantic search", mode="semantic")
    first = t.seconds
    search_papers(index, "warm up", mode="lexical")
    lex: list[float] = []
    for q in qs:
        s = time.perf_counter()
        search_papers(index, q, k=10, mode="lexical")
        lex.append(time.perf_counter() - s)
    search_papers(index, "warm up")
    hyb: list[float] = []
    for q in qs:
        index._query_cache.clear()
        s = time.perf_counter()
        search_papers(index, q, k=10)
        hyb.append(time.perf_counter() - s)
    rss, hwm = _rss_mb()
    # Resident pages of the memory-mapped index files (RssFile) are page cache the kernel can drop
    # and share between workers; RssAnon is what this process holds privately.
    status = _status_mb()
    # recall@10 of the vector search against exact search, for the real query embeddings
    l50, l95 = percentiles(lex)
    h50, h95 = percentiles(hyb)
    out = {"papers": index.lexical.n_alive, "first_semantic_s": first, "lexical_p50": l50,
           "lexical_p95": l95, "hybrid_p50": h50, "hybrid_p95": h95, "serving_rss_mib": rss,
           "serving_peak_rss_mib": hwm, "serving_anon_mib": status.get("RssAnon", 0.0),
           "serving_file_mib": status.get("RssFile", 0.0), "vectors": index.semantic.count()}
    vi = index.semantic._index
    if vi is None or not len(vi):
        return out  # lexical only: "hybrid" fell back to lexical
    qv = np.stack([emb.embed_query(q) for q in qs]).astype(np.float32)
    approx = [[pid for pid, _ in vi.search(q, 10)] for q in qv]
    sem: list[float] = []
    for q in qv[:100]:
        s = time.perf_counter()
        vi.search(q, 10)
        sem.append(time.perf_counter() - s)
    best = np.full((len(qv), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(qv), 10), dtype=np.int64)
    step = 200_000
    for start in range(0, len(vi), step):
        rows = np.arange(start, min(start + step, len(vi)))
        scores = qv @ vi.take(rows).T
        allv = np.concatenate([best, scores], axis=1)
        alli = np.concatenate([best_ids, np.broadcast_to(vi.ids[rows], scores.shape)], axis=1)
        top = np.argpartition(-allv, 9, axis=1)[:, :10]
        best = np.take_along_axis(allv, top, 1)
        best_ids = np.take_along_axis(alli, top, 1)
    recall = float(
        np.mean(
            [len(set(a) & set(b.tolist())) / 10 for a, b in zip(approx, best_ids, strict=False)]
        )
    )
    s50, s95 = percentiles(sem)
    return {**out, "vector_p50": s50, "vector_p95": s95, "recall_at_10": recall,
            "vector_tail": vi.ann_tail(), "ef_sweep": _ef_sweep(vi, qv, best_ids, args.ef_sweep)}


def _ef_sweep(vi: Any, qv: np.ndarray, exact_ids: np.ndarray, efs: str) -> list[dict[str, float]]:
    """recall@10 and mean vector-search time for each HNSW ef (candidates explored per query)."""
    from paperfeed.index import ann

    default = ann.EXPANSION_SEARCH
    rows = []
    try:
        for ef in (int(x) for x in efs.split(",") if x.strip()):
            ann.EXPANSION_SEARCH = ef
            start = time.perf_counter()
            approx = [[pid for pid, _ in vi.search(q, 10)] for q in qv]
            ms = (time.perf_counter() - start) / len(qv) * 1000
            recall = float(
                np.mean(
                    [
                        len(set(a) & set(b.tolist())) / 10
                        for a, b in zip(approx, exact_ids, strict=False)
                    ]
                )
            )
            rows.append({"ef": ef, "recall_at_10": recall, "mean_ms": ms})
            print(
                f"  ef {ef}: recall@10 {recall:.4f}, {ms:.1f} ms a query",
                file=sys.stderr,
                flush=True,
            )
    finally:
        ann.EXPANSION_SEARCH = default
    return rows


def main() -> None:
    """Entry point: run the three phases as child processes and print their figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--memory-mb", type=int, default=2048)
    ap.add_argument("--ann-threshold", type=int, default=None,
                    help="Vectors above which the HNSW graph is used (default: paperfeed's).")
    ap.add_argument(
        "--ef-sweep",
        default="512,1024,2048,3072,4096",
        help="HNSW ef values whose recall@10 the serve phase also measures ('' for none).",
    )
    ap.add_argument("--phase", choices=PHASES, default=None)
    ap.add_argument("--phases", default=",".join(PHASES),
                    help="Phases to run, comma-separated (a phase whose output exists is skipped).")
    args = ap.parse_args()
    if args.ann_threshold is not None:
        from paperfeed.index import vectors as V

        V.LARGE_THRESHOLD = args.ann_threshold
    work = args.work or ROOT / "bench-output" / f"scale-{args.papers}"
    settings = load_settings({"data_dir": str(work)}, environ={})
    root = settings.data_path / "index"
    if args.phase:
        root.mkdir(parents=True, exist_ok=True)
        if args.phase == "build-lexical":
            out = phase_build_lexical(args, root)
        elif args.phase == "build-vectors":
            out = phase_build_vectors(args, root)
        else:
            out = phase_serve(args, root, settings)
        print("RESULT " + json.dumps(out), flush=True)
        return
    results: dict[str, Any] = {}
    for phase in args.phases.split(","):
        if phase == "build-lexical" and (root / "current.json").exists():
            continue
        if phase == "build-vectors" and (root / "vectors" / "meta.json").exists():
            continue
        cmd = [
            sys.executable,
            __file__,
            "--phase",
            phase,
            "--papers",
            str(args.papers),
            "--queries",
            str(args.queries),
            "--work",
            str(work),
            "--memory-mb",
            str(args.memory_mb),
            "--ef-sweep",
            args.ef_sweep,
        ]
        if args.ann_threshold is not None:
            cmd += ["--ann-threshold", str(args.ann_threshold)]
        print(f"== {phase}", flush=True)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
        results[phase] = json.loads(line[len("RESULT "):])
        print(json.dumps(results[phase], indent=1), flush=True)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    if "serve" not in results:
        return
    lx, vc, sv = results.get("build-lexical"), results.get("build-vectors"), results["serve"]
    if lx:
        print(
            f"lexical build: {lx['papers']:,} papers, {lx['tokens']:,} tokens, {lx['runs']} runs "
            "in "
            f"{lx['seconds']:.0f}s; {lx['disk_mib']:.0f} MiB on disk; peak RSS "
            f"{lx['peak_rss_mib']:.0f} MiB"
        )
    if vc:
        print(
            f"vectors: {vc['vectors']:,} in {vc['seconds']:.0f}s (graph "
            f"{vc['graph_append_seconds']:.0f}s);"
            f" {vc['disk_mib']:.0f} MiB on disk (graph {vc['graph_mib']:.0f} MiB); peak RSS "
            f"{vc['peak_rss_mib']:.0f} MiB"
        )
    print(
        f"papers={sv['papers']:,} lexical p50={sv['lexical_p50']:.1f}ms "
        f"p95={sv['lexical_p95']:.1f}ms"
    )
    print(
        f"papers={sv['papers']:,} hybrid p50={sv['hybrid_p50']:.1f}ms p95={sv['hybrid_p95']:.1f}ms "
        f"(real query embedding)"
    )
    if "recall_at_10" not in sv:
        print(f"no vectors: lexical only; serving RSS {sv['serving_rss_mib']:.0f} MiB")
        return
    print(
        f"vector search p50={sv['vector_p50']:.1f}ms p95={sv['vector_p95']:.1f}ms; recall@10 vs "
        "exact "
        f"{sv['recall_at_10']:.4f}; serving RSS {sv['serving_rss_mib']:.0f} MiB "
        f"(peak {sv['serving_peak_rss_mib']:.0f} MiB; private {sv.get('serving_anon_mib', 0):.0f} "
        "MiB, "
        f"mapped index files {sv.get('serving_file_mib', 0):.0f} MiB)"
    )


if __name__ == "__main__":
    main()
