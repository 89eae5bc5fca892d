"""Author pages before and after the identity rules (issue 19 item 3), on real author lists.

python benchmarks/authors_identity.py paperfeed/data/sample-feed.jsonl.gz
../shared/data/arxiv-74k.jsonl.gz     [--sample 50] [--seed 19] [--show "Wei Wang" --show "Jingxuan
Wei"]

Before: one page per loose key (initials + family name, the old `author_key`), so "Jingxuan Wei" and
"Jerry Wei" (both "j wei") were one page. After: `paperfeed.core.authors.identities` per block
(first initial + family name), as the author page resolves a name (no claims in these files).

Counted per
file:
pages, pages that join more than one spelling key ("merged"), and merged pages
that join two different full given names ("conflicting": always a wrong merge). Then a random
sample of initialled spellings joined to a full name, each with the shared co-authors and both
papers' titles, to be checked by hand (BENCHMARKS.md lists the verdicts).

Reads the files with paperfeed's own parsers; no store needed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.core.authors import Name, Occurrence, author_key, identities, parse_name
from paperfeed.core.models import Paper
from paperfeed.sources import read_records


def occurrences(papers: list[Paper]) -> list[tuple[Occurrence, Name]]:
    """Every author name of every paper (paper = its position in the list)."""
    out = []
    for i, p in enumerate(papers):
        for j, name in enumerate(p.authors):
            parsed = parse_name(name)
            if parsed is not None:
                others = tuple(a for k, a in enumerate(p.authors) if k != j)
                out.append((Occurrence(i, name, others), parsed))
    return out


def page_stats(pages: dict[str, list[Name]]) -> tuple[int, int, int]:
    """(pages, merged pages, conflicting pages) of a grouping of names."""
    merged = conflicting = 0
    for names in pages.values():
        keys = {n.key for n in names}
        full = {n.key for n in names if not n.initialled}
        merged += len(keys) > 1
        conflicting += len(full) > 1
    return len(pages), merged, conflicting


def measure(path: Path, sample: int, seed: int, show: list[str]) -> None:
    """Print the before/after counts and the sample of joins for one file."""
    started = time.monotonic()
    papers = [r for r in read_records(path) if isinstance(r, Paper)]
    occ = occurrences(papers)
    print(
        f"\n## {path.name}: {len(papers)} papers, {len(occ)} author names "
        f"(read in {time.monotonic() - started:.1f}s)"
    )
    before: dict[str, list[Name]] = defaultdict(list)
    blocks: dict[str, list[int]] = defaultdict(list)
    for i, (o, n) in enumerate(occ):
        before[author_key(o.spelling)].append(n)
        blocks[n.block].append(i)
    started = time.monotonic()
    after: dict[str, list[Name]] = defaultdict(list)
    joins: list[tuple[int, str, list[str]]] = []
    identity_of: dict[int, str] = {}
    slowest = (0.0, "", 0)
    for block, members in blocks.items():
        t0 = time.monotonic()
        res = identities([occ[i][0] for i in members])
        slowest = max(slowest, (time.monotonic() - t0, block, len(members)))
        for local, i in enumerate(members):
            identity_of[i] = res.identity[local]
            after[res.identity[local]].append(occ[i][1])
            if local in res.joined:
                joins.append((i, res.identity[local], res.joined[local]))
    seconds = time.monotonic() - started
    initialled = sum(n.initialled for _, n in occ)
    b, a = page_stats(before), page_stats(after)
    print(
        f"initialled names: {initialled} ({100 * initialled / max(1, len(occ)):.1f}%); "
        f"joined to a full name: {len(joins)}; identities resolved in {seconds:.1f}s "
        f"(slowest block {slowest[1]!r}: {slowest[2]} names in {slowest[0] * 1000:.0f} ms)"
    )
    print("| | pages | merged pages (>1 spelling key) | conflicting (two full first names) |")
    print("|---|---|---|---|")
    print(f"| before (initials + family) | {b[0]} | {b[1]} | {b[2]} |")
    print(f"| after (identities) | {a[0]} | {a[1]} | {a[2]} |")
    for name in show:
        parsed = parse_name(name)
        if parsed is None:
            continue
        old = {n.key for n in before.get(author_key(name), [])}
        ident = next((identity_of[i] for i, (_, n) in enumerate(occ) if n.key == parsed.key), None)
        new = {n.key for n in after.get(ident or "", [])}
        print(
            f"- {name!r}: before {len(old)} spelling keys on one page; after {len(new)} "
            f"({sorted(new)[:6]})"
        )
    rnd = random.Random(seed)
    picked = rnd.sample(joins, min(sample, len(joins)))
    print(f"\nsample of {len(picked)} joins (seed {seed}):")
    for n, (i, ident, shared) in enumerate(picked, 1):
        o = occ[i][0]
        target = ident.partition(":")[2]
        # a paper of the person that names the same co-author, for the hand check
        other = next(
            (
                papers[occ[j][0].paper]
                for j in blocks[occ[i][1].block]
                if identity_of.get(j) == ident
                and not occ[j][1].initialled
                and set(shared) & set(occ[j][0].coauthors)
            ),
            None,
        )
        print(
            f'{n}. {o.spelling!r} on {papers[o.paper].arxiv_id} "{papers[o.paper].title[:70]}" -> '
            f"{target!r}; shared {shared[:3]}; there: {other.arxiv_id if other else '?'} "
            f'"{(other.title if other else "")[:70]}"'
        )


def main() -> None:
    """Parse the arguments and measure each file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--show", action="append", default=[])
    args = ap.parse_args()
    for path in args.files:
        measure(
            path, args.sample, args.seed, args.show or ["Wei Wang", "Jingxuan Wei", "Jerry Wei"]
        )


if __name__ == "__main__":
    main()
