"""Digest benchmark: compose and send 10,000 personal digests over the 74k real arXiv papers.

Usage: .venv/bin/python benchmarks/digest.py [--users 10000] [--new 1000] [--work DIR] [--no-send]

The store holds /work/shared/data/arxiv-74k.jsonl.gz; the most recent ~1,000 papers (by
first_seen_date) arrive "today", the rest on their own days before. Users come from Random(42): a
daily subscription in one of a dozen time zones with a random send hour already passed, 1-3 saved
searches drawn from a pool of 120 topic queries (some with a category filter), 0-3 followed
categories, sometimes a followed author, 5-40 upvotes of older papers on one or two of their topics,
and sometimes a collection and a "less like this". Compose time is the job's compose phase (claims,
profiles, pool, selection incl. recommendations, storing the selection) plus building each message
(templates, MIME); sending is timed apart, against an aiosmtpd sink running in its own process on
127.0.0.1. Peak RSS is this process's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from _digest_data import ROOT, build_store, make_users, peak_rss_mb

from paperfeed.delivery.jobs.digests import (
    DigestReport,
    compose_due,
    holder_id,
    open_index,
    send_ready,
)
from paperfeed.delivery.mail.mailer import SMTPMailer
from paperfeed.store import open_store


def _sink(port: int, ready: Any, counter: Any) -> None:
    import asyncio

    from aiosmtpd.controller import Controller

    class Count:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    loop = asyncio.new_event_loop()
    controller = Controller(Count(), loop=loop, hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def main() -> None:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--new", type=int, default=1_000)
    ap.add_argument("--work", type=Path, default=ROOT / "bench-output" / "digest")
    ap.add_argument("--no-send", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    now = datetime(2026, 7, 2, 12, tzinfo=UTC)
    settings, old, new = build_store(args.work, args.new, now)
    store = open_store(settings.db_url)
    from sqlalchemy import text

    # a fresh run each time: no users or digests from the last one
    with store.engine.begin() as conn:
        for table in (
            "digest_items",
            "digest_deliveries",
            "digest_feedback",
            "collection_papers",
            "collections",
            "votes",
            "followed_authors",
            "followed_categories",
            "saved_searches",
            "subscriptions",
            "users",
        ):
            conn.execute(text(f"DELETE FROM {table}"))
    del old[:-20000]
    make_users(store, args.users, old, new, now)
    report = DigestReport()
    holder = holder_id()
    # Saved searches run on the search index, which ingest keeps fresh: bring it up to date
    # before the clock starts (the first run builds it over the 74k papers).
    t = time.perf_counter()
    index = open_index(settings, store)
    print(
        f"search index refreshed in {time.perf_counter() - t:.1f}s (not part of compose)",
        flush=True,
    )
    t = time.perf_counter()
    compose_due(settings, store, now, holder, report, index=index)
    select_s = time.perf_counter() - t
    print(
        f"compose phase: {report.composed:,} digests ({report.empty:,} empty) from "
        f"{report.pool_papers:,} new papers "
        f"in {select_s:.1f}s; peak RSS {peak_rss_mb():.0f} MiB",
        flush=True,
    )
    result: dict[str, Any] = {
        "users": args.users,
        "pool_papers": report.pool_papers,
        "composed": report.composed,
        "empty": report.empty,
        "select_seconds": round(select_s, 2),
    }
    if not args.no_send:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ctx = mp.get_context("spawn")
        ready, counter = ctx.Event(), ctx.Value("i", 0)
        proc = ctx.Process(target=_sink, args=(port, ready, counter), daemon=True)
        proc.start()
        ready.wait(30)
        from paperfeed.core.settings import with_overrides

        smtp = with_overrides(
            settings, mailer="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
        )
        mailer = SMTPMailer(smtp)
        t = time.perf_counter()
        send_ready(smtp, store, mailer, now, holder, report)
        wall = time.perf_counter() - t
        mailer.close()
        time.sleep(0.5)
        received = counter.value
        proc.terminate()
        print(
            f"send phase: {report.sent:,} sent ({received:,} received by the sink) in {wall:.1f}s: "
            f"building messages {report.render_seconds:.1f}s, SMTP {report.send_seconds:.1f}s; "
            f"{report.sent / max(wall, 1e-9):.0f} digests/s",
            flush=True,
        )
        result.update(
            {
                "sent": report.sent,
                "received": received,
                "render_seconds": round(report.render_seconds, 2),
                "smtp_seconds": round(report.send_seconds, 2),
                "send_wall_seconds": round(wall, 2),
                "compose_total_seconds": round(select_s + report.render_seconds, 2),
            }
        )
    result["peak_rss_mb"] = round(peak_rss_mb())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
