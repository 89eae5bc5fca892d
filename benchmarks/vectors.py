"""Vector search at scale: exact vs the large-collection path (int8 scan + exact re-scoring).

Usage: .venv/bin/python benchmarks/vectors.py [--n 1000000] [--dim 384] [--queries 100]

Random unit vectors from numpy default_rng(42) (the hardest case for any approximation: no
clusters), saved through paperfeed.index.vectors and searched memory-mapped, as the app does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.index import vectors as V


def main() -> None:
    """Build, then time exact and int8 search and measure recall@10 of the latter."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--dir", type=Path, default=None, help="where to save (default: temp)")
    args = ap.parse_args()

    rng = np.random.default_rng(42)
    t = time.perf_counter()
    mat = rng.standard_normal((args.n, args.dim), dtype=np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    print(f"generated {args.n}x{args.dim} in {time.perf_counter() - t:.1f}s", flush=True)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp) / "vectors"
        t = time.perf_counter()
        V.create_vectors(d, model="random", dim=args.dim).append(np.arange(args.n), mat)
        del mat
        print(f"saved in {time.perf_counter() - t:.1f}s", flush=True)
        idx = V.open_vectors(d)
        idx.exact_search(queries[0], 10)  # page the memory map in

        lat, truth = [], []
        for q in queries:
            t = time.perf_counter()
            truth.append([p for p, _ in idx.exact_search(q, 10)])
            lat.append((time.perf_counter() - t) * 1000)
        print(
            f"exact      p50 {np.percentile(lat, 50):7.1f} ms  p95 {np.percentile(lat, 95):7.1f} ms"
            f"  recall@10 1.000",
            flush=True,
        )

        if not V.large_available():
            print("int8 scan: skipped (usearch not installed)")
            return
        t = time.perf_counter()
        idx.int8_codes()
        print(f"int8 codes built in {time.perf_counter() - t:.1f}s", flush=True)
        idx.int8_search(queries[0], 10)
        lat, rec = [], []
        for q, want in zip(queries, truth, strict=False):
            t = time.perf_counter()
            got = [p for p, _ in idx.int8_search(q, 10)]
            lat.append((time.perf_counter() - t) * 1000)
            rec.append(len(set(got) & set(want)) / 10)
        print(
            f"int8 scan  p50 {np.percentile(lat, 50):7.1f} ms  p95 {np.percentile(lat, 95):7.1f} ms"
            f"  recall@10 {np.mean(rec):.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
