"""Derive the bundled sample (the listing pages' unique papers) with paperfeed's own parser.

Usage: python scripts/make_sample.py ../shared/data/hf-pages paperfeed/data/sample-hf-pages.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from paperfeed.core.errors import RecordError
from paperfeed.core.models import normalise_title
from paperfeed.sources import read_records


def main() -> None:
    """Write one JSON line per unique title, in first-seen order."""
    pages, out = Path(sys.argv[1]), Path(sys.argv[2])
    seen: set[str] = set()
    lines = []
    for page in sorted(pages.glob("*.txt")):
        for rec in read_records(page):
            if isinstance(rec, RecordError):
                raise SystemExit(f"bad record in the listing pages: {rec}")
            key = normalise_title(rec.title)
            if key in seen:
                continue
            seen.add(key)
            lines.append(json.dumps({"title": rec.title, "abstract": rec.abstract, "source_page": page.name}, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} papers written to {out}")


if __name__ == "__main__":
    main()
