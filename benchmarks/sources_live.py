"""Followed sources (issue #9): records/s through the OAI-PMH path on a 10k-record replay, and the
time from a paper appearing at the source to the Daily page and search (lexical at once, semantic
once embedded).

The replaying server (tests/replay_server.py) plays arXiv's OAI-PMH on 127.0.0.1 from the real
listing crawl ../shared/data/arxiv-74k.jsonl.gz, 1,000 records per ListRecords page like arXiv's
endpoint, with no pacing (arxiv_delay 0: the real 3 s between pages would be ~30 s for 10 pages).
Reference: the bulk ingest of the same records from a JSON Lines file (`paperfeed ingest`).

python benchmarks/sources_live.py [--records 10000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from paperfeed.core.settings import Settings
from paperfeed.delivery.app.ingest import ingest_records
from paperfeed.delivery.jobs.harvest import run_source
from paperfeed.index import open_search_index
from paperfeed.ranking.search import search_papers
from paperfeed.sources import read_records
from paperfeed.sources.arxiv_oai import parse_list_records
from paperfeed.sources.http import HttpClient
from paperfeed.store import open_store
from tests.replay_server import Listed, Replay, replaying

SHARED = ROOT.parent / "shared" / "data"


def _catalogue(path: Path, n: int) -> tuple[list[Listed], list[Listed]]:
    """The first n papers by announcement day, and the papers of the next announcement day."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            rows.append(
                Listed(
                    rec["id"],
                    date.fromisoformat(rec["first_seen_date"]),
                    rec["title"],
                    rec["abstract"],
                    tuple(rec["authors"]),
                    tuple(rec.get("arxiv_categories") or ()),
                    rec.get("comment"),
                )
            )
    rows.sort(key=lambda p: (p.day, p.id))
    first = rows[:n]
    last_day = first[-1].day
    first = [p for p in first if p.day < last_day] if len(rows) > n else first  # whole days only
    next_day = rows[len(first)].day
    return first, [p for p in rows[len(first):] if p.day == next_day]


def _settings(server_base: str, data_dir: Path, db_url: str, today: date) -> Settings:
    return Settings(
        data_dir=str(data_dir),
        database_url=db_url,
        arxiv_oai_url=server_base + "/oai",
        arxiv_delay=0.0,
        http_retries=1,
        sources_today=today.isoformat(),
        sources_initial_days=400,
        sources_catchup_days=400,
        worker_embed_batch=1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--data", type=Path, default=SHARED / "arxiv-74k.jsonl.gz")
    args = parser.parse_args()
    first, next_day = _catalogue(args.data, args.records)
    world = Replay(arxiv=first + next_day, today=first[-1].day, oai_page_size=1000)
    tmp = Path(tempfile.mkdtemp(prefix="pf-bench-sources-"))
    db_url = args.database_url or f"sqlite:///{tmp / 'paperfeed.db'}"
    with replaying(world) as server:
        settings = _settings(server.base, tmp / "data", db_url, world.today)
        store = open_store(db_url)
        source = store.sources.add_source("arxiv-oai-cs", "arxiv-oai", {"set": "cs"})
        with HttpClient(settings) as http:
            started = time.perf_counter()
            run = run_source(store, settings, source, http=http)
            harvest_s = time.perf_counter() - started
        assert run.error is None, run.error
        n = run.counts.new
        print(
            f"OAI-PMH path: {n:,} records in {run.pages} pages, {harvest_s:.2f} s = "
            f"{n / harvest_s:,.0f} records/s"
            f" ({store.backend})"
        )
        # The parser alone, over the same pages.
        pages, token = [], None
        with HttpClient(settings) as http:
            while True:
                query = {"verb": "ListRecords", "resumptionToken": token} if token else {
                    "verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs"}
                pages.append(http.get(settings.arxiv_oai_url, params=query).content)
                token = parse_list_records(pages[-1], "x").resumption_token
                if not token:
                    break
        started = time.perf_counter()
        parsed = sum(len(parse_list_records(p, "x").records) for p in pages)
        parse_s = time.perf_counter() - started
        print(
            f"  parse only: {parsed:,} records in {parse_s:.2f} s = {parsed / parse_s:,.0f} "
            "records/s"
        )
        # Reference: the same records as a JSON Lines file through the bulk ingest.
        ref_file = tmp / "same.jsonl"
        with ref_file.open("w", encoding="utf-8") as fh:
            for p in first:
                fh.write(
                    json.dumps(
                        {
                            "id": p.id,
                            "title": p.title,
                            "abstract": p.abstract,
                            "authors": list(p.authors),
                            "arxiv_categories": list(p.categories),
                            "comment": p.comment,
                            "first_seen_date": p.day.isoformat(),
                        }
                    )
                    + "\n"
                )
        ref_store = open_store(f"sqlite:///{tmp / 'ref.db'}") if not args.database_url else None
        if ref_store is not None:
            started = time.perf_counter()
            report = ingest_records(ref_store, read_records(ref_file), settings.ingest_batch_size)
            ref_s = time.perf_counter() - started
            print(
                f"  reference, bulk JSONL ingest: {report.counts.new:,} in {ref_s:.2f} s ="
                f" {report.counts.new / ref_s:,.0f} records/s; OAI path / reference = "
                f"{ref_s / harvest_s:.2f}"
            )
            ref_store.close()
        store.close()
    # Latency: the next announcement day appears at the source, on the 10k store (lexical) and on a
    # store of the last two days, fully embedded (semantic), as the background embedding leaves it.
    base_days = sorted({p.day for p in first})[-2:]
    _latency("10k", first, next_day, tmp / "lat10k.db", tmp, embed=False)
    _latency(
        "2 days",
        [p for p in first if p.day in base_days],
        next_day,
        tmp / "lat2d.db",
        tmp,
        embed=True,
    )


def _latency(
    label: str, base: list[Listed], new: list[Listed], db: Path, tmp: Path, embed: bool
) -> None:
    world = Replay(arxiv=base + new, today=base[-1].day, oai_page_size=1000)
    db_url = f"sqlite:///{db}"
    with replaying(world) as server:
        settings = _settings(server.base, tmp / f"data-{db.stem}", db_url, world.today)
        store = open_store(db_url)
        source = store.sources.add_source("arxiv-oai-cs", "arxiv-oai", {"set": "cs"})
        with HttpClient(settings) as http:
            run_source(store, settings, source, http=http)
        index = open_search_index(settings, store, auto_refresh=False)
        index.build(embed=embed and index.semantic_available())
        world.today = new[0].day
        settings = _settings(server.base, tmp / f"data-{db.stem}", db_url, world.today)
        probe = new[len(new) // 2]
        appeared = time.perf_counter()
        with HttpClient(settings) as http:
            again = run_source(
                store, settings, store.sources.get_source("arxiv-oai-cs") or source, http=http
            )
        harvested = time.perf_counter()
        listed = store.papers.list_papers(since=probe.day, until=probe.day, limit=5000)
        assert any(p.arxiv_id == probe.id for p in listed), "not on the Daily page"
        on_daily = time.perf_counter()
        index.refresh()
        found = search_papers(index, f'"{probe.title}"', k=5, mode="lexical")
        lexical = time.perf_counter()
        pid = store.papers.get_paper_by_arxiv(probe.id).id  # type: ignore[union-attr]
        assert pid in {h.paper_id for h in found.hits}, "not found by words"
        line = (
            f"Latency, {label} base ({len(base):,} papers), {again.counts.new} new on "
            f"{world.today}:"
            f" harvested {harvested - appeared:.2f} s, on the Daily page "
            f"{on_daily - appeared:.2f} s,"
            f" lexically searchable {lexical - appeared:.2f} s"
        )
        if embed and index.semantic_available():
            embedded = index.embed()
            hits = search_papers(index, probe.abstract[:500], k=10, mode="semantic")
            assert pid in {h.paper_id for h in hits.hits}, "not found by meaning"
            took = time.perf_counter() - appeared
            line += f", semantically searchable {took:.2f} s ({embedded} embedded)"
        print(line)
        store.close()


if __name__ == "__main__":
    main()
