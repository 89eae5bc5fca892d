"""Digest benchmark: compose and send 10,000 personal digests over the 74k real arXiv papers.

Usage: .venv/bin/python benchmarks/digest.py [--users 10000] [--new 1000] [--work DIR] [--no-send]

The store holds /work/shared/data/arxiv-74k.jsonl.gz; the most recent ~1,000 papers (by
first_seen_date) arrive "today", the rest on their own days before. Users come from Random(42):
a daily subscription in one of a dozen time zones with a random send hour already passed, 1-3
saved searches drawn from a pool of 120 topic queries (some with a category filter), 0-3
followed categories, sometimes a followed author, 5-40 upvotes of older papers on one or two of
their topics, and sometimes a collection and a "less like this". Compose time is the job's
compose phase (claims, profiles, pool, selection incl. recommendations, storing the selection)
plus building each message (templates, MIME); sending is timed apart, against an aiosmtpd sink
running in its own process on 127.0.0.1. Peak RSS is this process's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing as mp
import random
import resource
import socket
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from paperfeed.core.models import Paper
from paperfeed.core.settings import load_settings
from paperfeed.delivery.digests import DigestReport, compose_due, holder_id, open_index, send_ready
from paperfeed.delivery.email.mailer import SMTPMailer
from paperfeed.store import open_store
from paperfeed.store.schema import (
    collection_papers,
    collections,
    digest_feedback,
    followed_authors,
    followed_categories,
    saved_searches,
    subscriptions,
    users,
    votes,
)

ROOT = Path(__file__).resolve().parent.parent
ARXIV = ROOT.parent / "shared" / "data" / "arxiv-74k.jsonl.gz"
TOPICS = [
    "diffusion", "video generation", "image editing", "3d reconstruction", "gaussian splatting", "nerf",
    "object detection", "semantic segmentation", "depth estimation", "pose estimation", "tracking",
    "autonomous driving", "point cloud", "medical image", "remote sensing", "super resolution", "image restoration",
    "vision language", "multimodal", "visual question answering", "captioning", "text to image", "text to video",
    "large language model", "reasoning", "chain of thought", "reinforcement learning", "rlhf", "preference optimization",
    "alignment", "safety", "jailbreak", "hallucination", "retrieval augmented generation", "rag", "agents",
    "tool use", "code generation", "math reasoning", "instruction tuning", "fine-tuning", "lora", "quantization",
    "pruning", "distillation", "mixture of experts", "long context", "attention", "transformer", "state space model",
    "mamba", "tokenization", "machine translation", "multilingual", "low-resource", "speech recognition",
    "speech synthesis", "audio", "music", "summarization", "question answering", "dialogue", "sentiment",
    "named entity recognition", "information extraction", "knowledge graph", "graph neural network",
    "recommendation", "federated learning", "privacy", "adversarial", "robustness", "uncertainty", "calibration",
    "continual learning", "few-shot", "zero-shot", "self-supervised", "contrastive learning", "representation learning",
    "benchmark", "evaluation", "dataset", "synthetic data", "data augmentation", "domain adaptation",
    "out-of-distribution", "anomaly detection", "time series", "forecasting", "robotics", "manipulation",
    "embodied", "navigation", "world model", "planning", "scientific discovery", "protein", "molecule", "chemistry",
    "weather", "education", "legal", "finance", "healthcare", "clinical", "interpretability", "mechanistic",
    "explainability", "fairness", "bias", "watermark", "deepfake", "efficient inference", "speculative decoding",
    "kv cache", "scaling laws", "pretraining", "optimization",
]
CATEGORIES = ["cs.CV", "cs.CL", "cs.AI", "cs.LG", "cs.RO", "cs.IR", "eess.IV", "cs.MM", "stat.ML", "cs.CR"]
ZONES = ["UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
         "Asia/Shanghai", "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo", "Africa/Nairobi", "Pacific/Auckland"]


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def records() -> list[dict[str, Any]]:
    """The raw arXiv listing records, oldest first_seen_date first."""
    with gzip.open(ARXIV, "rt", encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh if line.strip()]
    recs.sort(key=lambda r: (r.get("first_seen_date") or "", r["id"]))
    return recs


def to_paper(rec: dict[str, Any]) -> Paper:
    """A listing record as a Paper."""
    day = rec.get("first_seen_date")
    return Paper(title=" ".join(str(rec["title"]).split()), abstract=" ".join(str(rec.get("abstract") or "").split()),
                 arxiv_id=str(rec["id"]), version=1, authors=tuple(rec.get("authors") or ()),
                 categories=tuple(rec.get("arxiv_categories") or ()) + tuple(rec.get("other_classes") or ()),
                 published=date.fromisoformat(day) if day else None, abs_url=rec.get("abs"), pdf_url=rec.get("pdf"),
                 source="jsonl")


def build_store(work: Path, n_new: int, now: datetime) -> tuple[Any, list[Paper], list[Paper]]:
    """Ingest the 74k papers (the newest n_new arrive today); reuse the database when it exists."""
    settings = load_settings({"data_dir": str(work), "secret_key": "b" * 48}, environ={})
    fresh = not (work / "paperfeed.db").exists()
    store = open_store(settings.db_url)
    recs = records()
    papers = [to_paper(r) for r in recs]
    old, new = papers[:-n_new], papers[-n_new:]
    if fresh:
        t = time.perf_counter()
        by_day: dict[date | None, list[Paper]] = {}
        for p in old:
            by_day.setdefault(p.published, []).append(p)
        for day, group in by_day.items():
            seen = datetime.combine(day, datetime.min.time(), tzinfo=UTC) if day else now - timedelta(days=30)
            for i in range(0, len(group), 2000):
                store.papers.upsert_papers(group[i : i + 2000], now=min(seen, now - timedelta(days=1)))
        store.papers.upsert_papers(new, now=now - timedelta(hours=3))
        print(f"ingested {store.papers.count_papers():,} papers in {time.perf_counter() - t:.1f}s", flush=True)
    return settings, old, new


def make_users(store: Any, n: int, old: list[Paper], new: list[Paper], now: datetime) -> None:
    """Random(42) users with subscriptions, saved searches, follows, upvotes, collections, feedback."""
    rng = random.Random(42)
    by_arxiv = {}
    with store.engine.connect() as conn:
        from sqlalchemy import select

        from paperfeed.store.schema import papers as papers_t
        by_arxiv = {a: i for i, a in conn.execute(select(papers_t.c.id, papers_t.c.arxiv_id))}
    old_by_cat: dict[str, list[int]] = {}
    for p in old[-20000:]:
        if p.categories and p.arxiv_id in by_arxiv:
            old_by_cat.setdefault(p.categories[0], []).append(by_arxiv[p.arxiv_id])
    cats = [c for c in CATEGORIES if len(old_by_cat.get(c, [])) > 50]
    authors = [a for p in new for a in p.authors[:2]]
    created = now - timedelta(days=100)
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in
                                              ("users", "subs", "searches", "cats", "authors", "votes", "colls", "cp", "fb")}
    for uid in range(1, n + 1):
        tz = rng.choice(ZONES)
        local_hour = now.astimezone(ZoneInfo(tz)).hour
        rows["users"].append({"id": uid, "username": f"user{uid:05d}", "email": f"user{uid:05d}@example.org",
                              "password_hash": "x", "created_at": created})
        rows["subs"].append({"user_id": uid, "frequency": "daily", "send_hour": rng.randint(0, local_hour),
                             "weekday": 0, "timezone": tz, "max_papers": rng.choice([10, 20, 20, 30]),
                             "sections": json.dumps(["trending", "searches", "categories", "authors", "recommended"]),
                             "active": 1, "created_at": created, "updated_at": created})
        for q in rng.sample(TOPICS, rng.randint(1, 3)):
            cat = rng.choice(cats) if rng.random() < 0.2 else None
            rows["searches"].append({"user_id": uid, "name": q, "query": q, "category": cat, "author": None,
                                     "created_at": created})
        for c in rng.sample(cats, rng.randint(0, 3)):
            rows["cats"].append({"user_id": uid, "category": c, "created_at": created})
        if rng.random() < 0.3:
            rows["authors"].append({"user_id": uid, "author": rng.choice(authors), "created_at": created})
        liked = rng.sample(cats, rng.randint(1, 2))
        picked: set[int] = set()
        for _ in range(rng.randint(5, 40)):
            picked.add(rng.choice(old_by_cat[rng.choice(liked)]))
        for pid in picked:
            rows["votes"].append({"user_id": uid, "paper_id": pid, "created_at": created})
        if rng.random() < 0.3:
            cid = len(rows["colls"]) + 1
            rows["colls"].append({"id": cid, "user_id": uid, "name": "reading list", "description": "", "is_public": 0,
                                  "created_at": created})
            for pid in rng.sample(old_by_cat[liked[0]], 5):
                rows["cp"].append({"collection_id": cid, "paper_id": pid, "added_at": created})
        if rng.random() < 0.2:
            other = [c for c in cats if c not in liked]
            rows["fb"].append({"user_id": uid, "paper_id": rng.choice(old_by_cat[rng.choice(other)]), "signal": -1,
                               "created_at": created})
    with store.engine.begin() as conn:
        for table, key in ((users, "users"), (subscriptions, "subs"), (saved_searches, "searches"),
                           (followed_categories, "cats"), (followed_authors, "authors"), (votes, "votes"),
                           (collections, "colls"), (collection_papers, "cp"), (digest_feedback, "fb")):
            if rows[key]:
                conn.execute(insert(table), rows[key])
    print(f"users: {n:,}; saved searches {len(rows['searches']):,}, follows {len(rows['cats']) + len(rows['authors']):,}, "
          f"upvotes {len(rows['votes']):,}", flush=True)


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

    with store.engine.begin() as conn:  # a fresh run each time: no users or digests from the last one
        for table in ("digest_items", "digest_deliveries", "digest_feedback", "collection_papers", "collections",
                      "votes", "followed_authors", "followed_categories", "saved_searches", "subscriptions", "users"):
            conn.execute(text(f"DELETE FROM {table}"))
    del old[:-20000]
    make_users(store, args.users, old, new, now)
    report = DigestReport()
    holder = holder_id()
    # Saved searches run on the search index, which ingest keeps fresh: bring it up to date
    # before the clock starts (the first run builds it over the 74k papers).
    t = time.perf_counter()
    index = open_index(settings, store)
    print(f"search index refreshed in {time.perf_counter() - t:.1f}s (not part of compose)", flush=True)
    t = time.perf_counter()
    compose_due(settings, store, now, holder, report, index=index)
    select_s = time.perf_counter() - t
    print(f"compose phase: {report.composed:,} digests ({report.empty:,} empty) from {report.pool_papers:,} new papers "
          f"in {select_s:.1f}s; peak RSS {peak_rss_mb():.0f} MiB", flush=True)
    result: dict[str, Any] = {"users": args.users, "pool_papers": report.pool_papers, "composed": report.composed,
                              "empty": report.empty, "select_seconds": round(select_s, 2)}
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

        smtp = with_overrides(settings, mailer="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)
        mailer = SMTPMailer(smtp)
        t = time.perf_counter()
        send_ready(smtp, store, mailer, now, holder, report)
        wall = time.perf_counter() - t
        mailer.close()
        time.sleep(0.5)
        received = counter.value
        proc.terminate()
        print(f"send phase: {report.sent:,} sent ({received:,} received by the sink) in {wall:.1f}s: "
              f"building messages {report.render_seconds:.1f}s, SMTP {report.send_seconds:.1f}s; "
              f"{report.sent / max(wall, 1e-9):.0f} digests/s", flush=True)
        result.update({"sent": report.sent, "received": received, "render_seconds": round(report.render_seconds, 2),
                       "smtp_seconds": round(report.send_seconds, 2), "send_wall_seconds": round(wall, 2),
                       "compose_total_seconds": round(select_s + report.render_seconds, 2)})
    result["peak_rss_mb"] = round(peak_rss_mb())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
