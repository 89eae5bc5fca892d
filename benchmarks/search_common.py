"""Helpers shared by the search benchmarks: real arXiv records as Papers, query sets, timing,
memory."""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Self

import numpy as np

from paperfeed.core.models import Paper

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout, or wherever PAPERFEED_SHARED_DATA points (a git worktree)
SHARED = Path(os.environ.get("PAPERFEED_SHARED_DATA", ROOT.parent / "shared" / "data"))
ARXIV = SHARED / "arxiv-74k.jsonl.gz"


def arxiv_records(path: Path = ARXIV) -> list[dict[str, object]]:
    """The raw 74k arXiv listing records."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def to_paper(rec: dict[str, object]) -> Paper:
    """One listing record as a Paper (the benchmark does not depend on the sources package)."""
    day = rec.get("first_seen_date")
    return Paper(
        title=str(rec["title"]),
        abstract=" ".join(str(rec.get("abstract") or "").split()),
        arxiv_id=str(rec["id"]),
        authors=tuple(rec.get("authors") or ()),  # type: ignore[arg-type]
        categories=tuple(rec.get("arxiv_categories") or ()),  # type: ignore[arg-type]
        published=date.fromisoformat(str(day)) if day else None,
        source="bench",
    )


def synthetic_papers(records: list[dict[str, object]], n: int, seed: int = 42) -> Iterator[Paper]:
    """n deterministic papers (Random(seed)) recombined from real titles, abstract sentences,
    authors."""
    rnd = random.Random(seed)
    titles = [str(r["title"]).split() for r in records]
    sentences = [
        s for r in records for s in str(r.get("abstract") or "").replace("\n", " ").split(". ") if s
    ]
    for i in range(n):
        t = rnd.choice(titles)
        u = rnd.choice(titles)
        cut = rnd.randint(1, max(1, len(t) - 1))
        title = " ".join(t[:cut] + u[min(cut, len(u) - 1):])
        abstract = ". ".join(rnd.choice(sentences) for _ in range(rnd.randint(4, 8))) + "."
        src = records[rnd.randrange(len(records))]
        yield Paper(
            id=i + 1,
            title=title,
            abstract=abstract,
            authors=tuple(src.get("authors") or ())[:6],  # type: ignore[arg-type]
            categories=tuple(src.get("arxiv_categories") or ()),  # type: ignore[arg-type]
            published=date(2015, 1, 1).fromordinal(
                date(2015, 1, 1).toordinal() + rnd.randrange(4000)
            ),
            source="synthetic",
        )


def queries(records: list[dict[str, object]], n: int, seed: int = 7) -> list[str]:
    """n keyword queries: 2-5 consecutive words of random real titles."""
    rnd = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        words = str(rnd.choice(records)["title"]).split()
        if len(words) < 3:
            continue
        size = rnd.randint(2, min(5, len(words)))
        start = rnd.randrange(len(words) - size + 1)
        out.append(" ".join(words[start : start + size]))
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    arr = np.asarray(samples) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def dir_size_mb(path: Path) -> float:
    """Total size of the files under a directory, in MiB."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


class Timer:
    """with Timer() as t: ...; t.seconds."""

    def __enter__(self) -> Self:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
