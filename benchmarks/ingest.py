"""Ingest benchmark: the 74k arXiv file into SQLite and PostgreSQL; papers/s with and without the
index refresh.

Usage: python benchmarks/ingest.py [PATH] [--pg URL] Each backend runs in a fresh child process (so
its peak RSS is its own) on a fresh database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "arxiv-74k.jsonl.gz"
CHILD = """
import json, sys, time, resource
from paperfeed.core.settings import load_settings
from paperfeed.delivery.app.indexing import refresh_index_after_ingest
from paperfeed.delivery.app.ingest import ingest_targets
from paperfeed.store import open_store
url, path = sys.argv[1], sys.argv[2]
settings = load_settings({"database_url": url, "data_dir": sys.argv[3]}, environ={})
store = open_store(url)
t = time.perf_counter()
report = ingest_targets(store, settings, [path])
seconds = time.perf_counter() - t
t1 = time.perf_counter()
refresh_index_after_ingest(settings, store)  # what `paperfeed ingest` runs next: the lexical index
refresh = time.perf_counter() - t1
t2 = time.perf_counter()
again = ingest_targets(store, settings, [path])
reingest = time.perf_counter() - t2
print(json.dumps({"papers": store.count_papers(), "seconds": seconds, "refresh_seconds": refresh,
                  "reingest_seconds": reingest,
                  "new": report.counts.new, "unchanged_on_reingest": again.counts.unchanged,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_child(url: str, path: Path, data_dir: str) -> dict[str, float]:
    """Ingest in a child process and return its measurements."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(path), data_dir],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    """Run the benchmark on each backend and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "PAPERFEED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite", run_child(f"sqlite:///{tmp}/bench.db", args.path, tmp)))
    try:
        from sqlalchemy import create_engine, text

        schema = f"pf_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(
                    (
                        "PostgreSQL",
                        run_child(f"{args.pg}?options=-csearch_path%3D{schema}", args.path, tmp),
                    )
                )
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    except (ImportError, OSError, SQLAlchemyError) as exc:  # PostgreSQL is optional here
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
    print(f"ingest of {args.path.name}, {platform.node()}, {os.cpu_count()} cores, {date.today()}")
    print("| backend | papers | store s | papers/s | + index refresh s | papers/s with it "
          "| re-ingest s (all unchanged) | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        both = r["seconds"] + r["refresh_seconds"]
        print(
            f"| {name} | {r['papers']:,} | {r['seconds']:.1f} | {r['papers'] / r['seconds']:,.0f} "
            f"| {r['refresh_seconds']:.1f} | {r['papers'] / both:,.0f} "
            f"| {r['reingest_seconds']:.1f} | {r['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
