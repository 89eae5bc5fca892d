"""Title -> abstract retrieval on the 699 listing-page papers: MRR@10 and Recall@1 per search mode.

Usage: .venv/bin/python benchmarks/search_listing.py [--work DIR]

Definition. Each unique paper of ../shared/data/hf-pages is stored with its abstract only: the
title is replaced by "§" (which yields no index terms) and a synthetic arXiv id (0001.NNNNN) keeps
the papers apart, so BM25 and the vectors see the abstract alone. Each real title is then a query
through ranking.search_papers (k=10); the one relevant document is the paper itself.
MRR@10 = mean of 1/rank (0 when not in the top 10); Recall@1 = share ranked first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_common import ROOT

from paperfeed.core.models import Paper, normalise_title
from paperfeed.core.settings import load_settings
from paperfeed.index import open_search_index
from paperfeed.ranking.search import search_papers
from paperfeed.store import open_store

PAGES = ROOT.parent / "shared" / "data" / "hf-pages"
HEADER = (
    "new",
    "Get trending papers",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
)


def listing_pairs(directory: Path = PAGES) -> list[tuple[str, str]]:
    """(title, abstract) of each unique paper on the saved listing pages."""
    seen: dict[str, tuple[str, str]] = {}
    for path in sorted(directory.glob("*.txt")):
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        body: list[str] = []
        for ln in lines:
            if ln.startswith("Subscribe") and len(ln) > len("Subscribe"):
                body.append(ln[len("Subscribe"):])
            elif not body and (ln.startswith(HEADER) or len(ln) <= 6):
                continue  # header lines and the date ("Aug 6")
            else:
                body.append(ln)
        for i in range(0, len(body) - 1, 2):
            title, abstract = body[i], body[i + 1]
            seen.setdefault(normalise_title(title), (title, abstract))
    return list(seen.values())


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=ROOT / "bench-output" / "listing")
    args = ap.parse_args()
    pairs = listing_pairs()
    settings = load_settings({"data_dir": str(args.work)}, environ={})
    args.work.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.db_url)
    if store.papers.count_papers() == 0:
        store.papers.upsert_papers(
            [
                Paper(title="§", abstract=a, arxiv_id=f"0001.{i + 1:05d}", source="bench")
                for i, (_, a) in enumerate(pairs)
            ]
        )
    index = open_search_index(settings, store)
    if index.lexical.n_alive != len(pairs):
        index.build(embed=False)
    if index.semantic_available() and index.semantic.count() < len(pairs):
        index.embed()
    want = {f"0001.{i + 1:05d}": t for i, (t, _) in enumerate(pairs)}
    by_id = {p.arxiv_id: int(p.id or 0) for p in store.papers.iter_papers()}
    modes = ["lexical"] + (["semantic", "hybrid"] if index.semantic.count() else [])
    print(f"# {len(pairs)} unique listing papers")
    for mode in modes:
        rr, r1 = 0.0, 0
        for arxiv_id, title in want.items():
            hits = search_papers(index, title, k=10, mode=mode).hits
            ranked = [h.paper_id for h in hits]
            target = by_id[arxiv_id]
            if target in ranked:
                rank = ranked.index(target) + 1
                rr += 1.0 / rank
                r1 += rank == 1
        n = len(want)
        print(f"{mode} MRR@10={rr / n:.4f} R@1={r1 / n:.4f}", flush=True)


if __name__ == "__main__":
    main()
