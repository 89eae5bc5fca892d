"""Derive the bundled sample feed from the shared real data with paperfeed's own parsers and store.

Usage: python scripts/make_sample.py ../shared/data paperfeed/data/sample-feed.jsonl.gz

1. Hugging Face Daily Papers (hf-daily/*: Feb 2026 and Dec 2023 - Apr 2024): the featured day,
   real upvotes, authors, arXiv ids, GitHub links.
2. The arXiv listing metadata (arxiv-74k.jsonl.gz) of those same arXiv ids only: categories,
   comments (which often carry the code link) and the listing day as `published`, and arXiv's
   abstract for the papers whose Hugging Face record had none (its `abstract` was only the
   one-line AI summary, which is kept as `ai_summary`, never as the abstract).
3. The saved listing pages (hf-pages/*.txt): 699 papers with title and abstract only. Their day is
   unknown, so they stay undated (searchable, kept out of the day lists) unless a title matches a
   paper from 1-2.

All of it goes through `read_records` and `store.papers.upsert_papers` (a temporary SQLite file), so
the merge rules are paperfeed's own; the result is written as generic JSON Lines (the shape
`paperfeed papers show --json` prints), gzip with a fixed timestamp so a rebuild is byte-identical.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tqdm import tqdm

from paperfeed.core.errors import RecordError
from paperfeed.core.models import Paper
from paperfeed.sources import read_records
from paperfeed.store import open_store

BATCH = 500


def _papers(records: Iterable[Paper | RecordError], what: str) -> Iterator[Paper]:
    """Papers only; a bad record in the shared data is reported and skipped."""
    for rec in records:
        if isinstance(rec, RecordError):
            print(f"skipped in {what}: {rec}", file=sys.stderr)
            continue
        yield rec


def _batched(items: Iterable[Paper], size: int = BATCH) -> Iterator[list[Paper]]:
    batch: list[Paper] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def record_of(p: Paper) -> dict[str, Any]:
    """A stored paper as one generic JSON Lines record (the bulk reader's field names)."""
    rec: dict[str, Any] = {
        "arxiv_id": p.arxiv_id,
        "version": p.version,
        "title": p.title,
        "abstract": p.abstract,
        "authors": list(p.authors),
        "categories": list(p.categories),
        "published": p.published.isoformat() if p.published else None,
        "comment": p.comment,
        "abs_url": p.abs_url,
        "pdf_url": p.pdf_url,
        "code_url": p.code_url,
        "featured_on": p.featured_on.isoformat() if p.featured_on else None,
        "upvotes": p.external_upvotes,
        "dois": list(p.dois),
        "ai_summary": p.ai_summary,
        "project_page": p.project_page,
        "organization": p.organization,
        "organization_name": p.organization_name,
        "github_stars": p.github_stars,
    }
    return {k: v for k, v in rec.items() if v not in (None, [], "")}


def main() -> None:
    """Build the sample and print what it holds."""
    shared, out = Path(sys.argv[1]), Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'sample.db'}")
        daily_files = sorted((shared / "hf-daily").glob("*.json*"))
        ids: set[str] = set()
        with tqdm(desc="hf-daily", unit=" papers", disable=None) as bar:
            for f in daily_files:
                for batch in _batched(_papers(read_records(f), f.name)):
                    store.papers.upsert_papers(batch)
                    ids.update(p.arxiv_id for p in batch if p.arxiv_id)
                    bar.update(len(batch))
        dump = shared / "arxiv-74k.jsonl.gz"
        matched = 0
        no_abstract = {p.arxiv_id for p in store.papers.iter_papers() if not p.abstract}
        scan = _papers(read_records(dump), dump.name)
        with tqdm(scan, desc="arXiv metadata", unit=" records", disable=None) as bar:
            wanted = (p for p in bar if p.arxiv_id in ids)
            for batch in _batched(wanted):
                # Only categories, comment and the listing day are taken from arXiv's record (and
                # its abstract where Hugging Face had none); title, abstract and authors stay
                # Hugging Face's (they are arXiv's too).
                store.papers.upsert_papers([
                    Paper(title=p.title, arxiv_id=p.arxiv_id, categories=p.categories,
                          comment=p.comment, published=p.published, source=p.source,
                          abstract=p.abstract if p.arxiv_id in no_abstract else "")
                    for p in batch
                ])
                matched += len(batch)
        pages = sorted((shared / "hf-pages").glob("*.txt"))
        with tqdm(desc="listing pages", unit=" papers", disable=None) as bar:
            for page in pages:
                for batch in _batched(_papers(read_records(page), page.name)):
                    store.papers.upsert_papers(batch)
                    bar.update(len(batch))
        papers = sorted(
            store.papers.iter_papers(),
            key=lambda p: (p.day is None, str(p.day), p.arxiv_id or "", p.title),
        )
        store.close()
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        for p in papers:
            gz.write((json.dumps(record_of(p), ensure_ascii=False) + "\n").encode("utf-8"))
    out.write_bytes(buf.getvalue())
    days = sorted({p.day for p in papers if p.day})
    undated = sum(1 for p in papers if p.day is None)
    print(
        f"{len(papers)} papers ({len(papers) - undated} on {len(days)} days "
        f"{days[0]}..{days[-1]}, {undated} undated; {matched} with arXiv metadata) "
        f"written to {out} ({out.stat().st_size / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main()
