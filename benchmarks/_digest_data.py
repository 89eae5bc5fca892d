"""The digest benchmark's data: a store of the 74k real arXiv papers and Random(42) users with
subscriptions, saved searches, follows, upvotes, collections and feedback."""

from __future__ import annotations

import gzip
import json
import random
import resource
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
    "diffusion",
    "video generation",
    "image editing",
    "3d reconstruction",
    "gaussian splatting",
    "nerf",
    "object detection",
    "semantic segmentation",
    "depth estimation",
    "pose estimation",
    "tracking",
    "autonomous driving",
    "point cloud",
    "medical image",
    "remote sensing",
    "super resolution",
    "image restoration",
    "vision language",
    "multimodal",
    "visual question answering",
    "captioning",
    "text to image",
    "text to video",
    "large language model",
    "reasoning",
    "chain of thought",
    "reinforcement learning",
    "rlhf",
    "preference optimization",
    "alignment",
    "safety",
    "jailbreak",
    "hallucination",
    "retrieval augmented generation",
    "rag",
    "agents",
    "tool use",
    "code generation",
    "math reasoning",
    "instruction tuning",
    "fine-tuning",
    "lora",
    "quantization",
    "pruning",
    "distillation",
    "mixture of experts",
    "long context",
    "attention",
    "transformer",
    "state space model",
    "mamba",
    "tokenization",
    "machine translation",
    "multilingual",
    "low-resource",
    "speech recognition",
    "speech synthesis",
    "audio",
    "music",
    "summarization",
    "question answering",
    "dialogue",
    "sentiment",
    "named entity recognition",
    "information extraction",
    "knowledge graph",
    "graph neural network",
    "recommendation",
    "federated learning",
    "privacy",
    "adversarial",
    "robustness",
    "uncertainty",
    "calibration",
    "continual learning",
    "few-shot",
    "zero-shot",
    "self-supervised",
    "contrastive learning",
    "representation learning",
    "benchmark",
    "evaluation",
    "dataset",
    "synthetic data",
    "data augmentation",
    "domain adaptation",
    "out-of-distribution",
    "anomaly detection",
    "time series",
    "forecasting",
    "robotics",
    "manipulation",
    "embodied",
    "navigation",
    "world model",
    "planning",
    "scientific discovery",
    "protein",
    "molecule",
    "chemistry",
    "weather",
    "education",
    "legal",
    "finance",
    "healthcare",
    "clinical",
    "interpretability",
    "mechanistic",
    "explainability",
    "fairness",
    "bias",
    "watermark",
    "deepfake",
    "efficient inference",
    "speculative decoding",
    "kv cache",
    "scaling laws",
    "pretraining",
    "optimization",
]
CATEGORIES = [
    "cs.CV",
    "cs.CL",
    "cs.AI",
    "cs.LG",
    "cs.RO",
    "cs.IR",
    "eess.IV",
    "cs.MM",
    "stat.ML",
    "cs.CR",
]
ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Africa/Nairobi",
    "Pacific/Auckland",
]


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
    return Paper(
        title=" ".join(str(rec["title"]).split()),
        abstract=" ".join(str(rec.get("abstract") or "").split()),
        arxiv_id=str(rec["id"]),
        version=1,
        authors=tuple(rec.get("authors") or ()),
        categories=tuple(rec.get("arxiv_categories") or ()) + tuple(rec.get("other_classes") or ()),
        published=date.fromisoformat(day) if day else None,
        abs_url=rec.get("abs"),
        pdf_url=rec.get("pdf"),
        source="jsonl",
    )


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
            seen = (
                datetime.combine(day, datetime.min.time(), tzinfo=UTC)
                if day
                else now - timedelta(days=30)
            )
            for i in range(0, len(group), 2000):
                store.papers.upsert_papers(
                    group[i : i + 2000], now=min(seen, now - timedelta(days=1))
                )
        store.papers.upsert_papers(new, now=now - timedelta(hours=3))
        print(
            f"ingested {store.papers.count_papers():,} papers in {time.perf_counter() - t:.1f}s",
            flush=True,
        )
    return settings, old, new


def make_users(store: Any, n: int, old: list[Paper], new: list[Paper], now: datetime) -> None:
    """Random(42) users with subscriptions, saved searches, follows, upvotes, collections,
    feedback."""
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
    rows: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in ("users", "subs", "searches", "cats", "authors", "votes", "colls", "cp", "fb")
    }
    for uid in range(1, n + 1):
        tz = rng.choice(ZONES)
        local_hour = now.astimezone(ZoneInfo(tz)).hour
        rows["users"].append(
            {
                "id": uid,
                "username": f"user{uid:05d}",
                "email": f"user{uid:05d}@example.org",
                "password_hash": "x",
                "created_at": created,
            }
        )
        rows["subs"].append(
            {
                "user_id": uid,
                "frequency": "daily",
                "send_hour": rng.randint(0, local_hour),
                "weekday": 0,
                "timezone": tz,
                "max_papers": rng.choice([10, 20, 20, 30]),
                "sections": json.dumps(
                    ["trending", "searches", "categories", "authors", "recommended"]
                ),
                "active": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        for q in rng.sample(TOPICS, rng.randint(1, 3)):
            cat = rng.choice(cats) if rng.random() < 0.2 else None
            rows["searches"].append(
                {
                    "user_id": uid,
                    "name": q,
                    "query": q,
                    "category": cat,
                    "author": None,
                    "created_at": created,
                }
            )
        for c in rng.sample(cats, rng.randint(0, 3)):
            rows["cats"].append({"user_id": uid, "category": c, "created_at": created})
        if rng.random() < 0.3:
            rows["authors"].append(
                {"user_id": uid, "author": rng.choice(authors), "created_at": created}
            )
        liked = rng.sample(cats, rng.randint(1, 2))
        picked: set[int] = set()
        for _ in range(rng.randint(5, 40)):
            picked.add(rng.choice(old_by_cat[rng.choice(liked)]))
        for pid in picked:
            rows["votes"].append({"user_id": uid, "paper_id": pid, "created_at": created})
        if rng.random() < 0.3:
            cid = len(rows["colls"]) + 1
            rows["colls"].append(
                {
                    "id": cid,
                    "user_id": uid,
                    "name": "reading list",
                    "description": "",
                    "is_public": 0,
                    "created_at": created,
                }
            )
            for pid in rng.sample(old_by_cat[liked[0]], 5):
                rows["cp"].append({"collection_id": cid, "paper_id": pid, "added_at": created})
        if rng.random() < 0.2:
            other = [c for c in cats if c not in liked]
            rows["fb"].append(
                {
                    "user_id": uid,
                    "paper_id": rng.choice(old_by_cat[rng.choice(other)]),
                    "signal": -1,
                    "created_at": created,
                }
            )
    with store.engine.begin() as conn:
        for table, key in (
            (users, "users"),
            (subscriptions, "subs"),
            (saved_searches, "searches"),
            (followed_categories, "cats"),
            (followed_authors, "authors"),
            (votes, "votes"),
            (collections, "colls"),
            (collection_papers, "cp"),
            (digest_feedback, "fb"),
        ):
            if rows[key]:
                conn.execute(insert(table), rows[key])
    print(
        f"users: {n:,}; saved searches {len(rows['searches']):,}, follows "
        f"{len(rows['cats']) + len(rows['authors']):,}, "
        f"upvotes {len(rows['votes']):,}",
        flush=True,
    )
