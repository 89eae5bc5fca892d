"""arXivRaw against arXiv format (issue 20): bytes and time per ListRecords page, the same records.

The replaying server (tests/replay_server.py) writes the same real records of the listing crawl
../shared/data/arxiv-74k.jsonl.gz in both formats, 1,000 records per page like arXiv's endpoint:
arXiv format (one <author> element per author, <created>) and arXivRaw (the authors as one string,
<submitter>, one <version> with date and size per version). Measured per page: the answer's bytes
(plain and gzip, as arXiv sends it with Accept-Encoding: gzip), parsing it with paperfeed's parser,
and the whole harvest (request on 127.0.0.1, parse, merge into SQLite, cursor commit) through a
followed source. Pacing is off (the real 3 s between two requests is the same for both formats).

python benchmarks/oai_prefix.py [--pages 10] [--data ../shared/data/arxiv-74k.jsonl.gz]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.core.settings import load_settings
from paperfeed.delivery.jobs.harvest import run_source
from paperfeed.sources.arxiv_oai import parse_list_records
from paperfeed.sources.http import HttpClient, RateLimiter
from paperfeed.store import open_store
from tests.replay_server import Replay, load_arxiv, replaying

PAGE = 1000


def main() -> None:
    """Print one Markdown table row per format."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument(
        "--data", type=Path, default=ROOT.parent / "shared" / "data" / "arxiv-74k.jsonl.gz"
    )
    args = parser.parse_args()
    records = load_arxiv(args.data, date(2025, 3, 18), date(2026, 7, 1))
    records = sorted(records, key=lambda p: (p.day, p.id))[: args.pages * PAGE]
    last = max(p.day for p in records)
    world = Replay(arxiv=records, today=last, oai_page_size=PAGE)
    print(f"{len(records)} records announced {records[0].day} .. {last}, {PAGE} per page")
    print(
        "| format | bytes/page | gzip bytes/page | parse ms/page (median) | harvest s/page "
        "(request+parse+merge+commit) |"
    )
    print("|---|---:|---:|---:|---:|")
    for prefix in ("arXiv", "arXivRaw"):
        sizes, zipped, parse_ms = [], [], []
        token = None
        while True:
            q = (
                {"verb": "ListRecords", "resumptionToken": token}
                if token
                else {
                    "verb": "ListRecords",
                    "metadataPrefix": prefix,
                    "from": str(records[0].day),
                    "until": str(last),
                }
            )
            _, body = world.oai(q)
            data = body.encode("utf-8")
            sizes.append(len(data))
            zipped.append(len(gzip.compress(data, 6)))
            started = time.perf_counter()
            page = parse_list_records(data, "bench")
            parse_ms.append((time.perf_counter() - started) * 1000)
            assert not page.error and len(page.records) <= PAGE
            token = page.resumption_token
            if not token:
                break
        with tempfile.TemporaryDirectory() as tmp, replaying(world) as server:
            env = {
                **server.env(),
                "PAPERFEED_SOURCES_TODAY": str(last),
                "PAPERFEED_SOURCES_CATCHUP_DAYS": "1000",
                "PAPERFEED_SOURCES_INITIAL_DAYS": str((last - records[0].day).days + 1),
            }
            settings = load_settings(
                {"data_dir": tmp, "database_url": f"sqlite:///{tmp}/b.db"}, environ=env
            )
            store = open_store(settings.database_url)
            source = store.sources.add_source("oai", "arxiv-oai", {"prefix": prefix})
            started = time.perf_counter()
            with HttpClient(settings, limiter=RateLimiter()) as http:
                run = run_source(store, settings, source, http=http)
            seconds = time.perf_counter() - started
            assert run.error is None and run.counts.new == len(records), run.summary
            store.close()
        print(
            f"| {prefix} | {statistics.mean(sizes):,.0f} | {statistics.mean(zipped):,.0f} | "
            f"{statistics.median(parse_ms):.0f} | {seconds / run.pages:.2f} |"
        )


if __name__ == "__main__":
    main()
