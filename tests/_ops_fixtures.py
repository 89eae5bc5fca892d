"""Helpers for the operations tests: a second empty database next to the test's, seeded stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine, text

from paperfeed.core.models import IngestCounts, Paper
from paperfeed.store import Store
from tests.conftest import PG_URL


def seed(store: Store, papers: int = 60, users: int = 5) -> list[int]:
    """Papers (two sources), users and votes; the paper ids."""
    store.papers.upsert_papers([
        Paper(title=f"Seed paper {i} on graphs", abstract=f"Abstract {i} about message passing.",
              arxiv_id=f"2501.{i:05d}", version=1, authors=("Ada Lovelace",), categories=("cs.LG",),
              published=date(2025, 1, 1 + i % 28), source="jsonl" if i % 2 else "hf-daily")
        for i in range(papers)
    ])
    ids = [p.id for p in store.papers.list_papers(limit=papers) if p.id is not None]
    run = store.runs.start_run("seed.jsonl")
    store.runs.finish_run(run, store_counts(papers))
    for u in range(users):
        user = store.users.create_user(
            f"user{u}", f"user{u}@example.org", "argon2-hash-placeholder"
        )
        for pid in ids[u::7]:
            store.votes.add_vote(user.id, pid)
    return ids


def store_counts(n: int) -> IngestCounts:
    """IngestCounts with n new papers."""
    return IngestCounts(new=n)


def write_jsonl(path: Path, start: int, n: int) -> Path:
    """A JSONL file of n arXiv-like records (ids from `start`)."""
    import json

    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(
            json.dumps(
                {
                    "id": f"2502.{i:05d}",
                    "title": f"Ingested paper {i}",
                    "abstract": "Loaded while a backup runs.",
                    "authors": ["Grace Hopper"],
                    "categories": ["cs.DB"],
                    "published": date.today().isoformat(),
                }
            )
            + "\n"
            for i in range(start, start + n)
        )
    return path


@contextmanager
def empty_database_like(store_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same backend: a new SQLite file, or a new PostgreSQL database whose
    search_path names the same schema (pg_restore keeps schema names)."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored' / 'paperfeed.db'}"
        return
    options = parse_qs(urlsplit(store_url).query).get("options", [""])[0]
    name = f"pf_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}?options={options.replace('=', '%3D')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL naming a fresh PostgreSQL schema that does not exist yet (db copy creates it)."""
    if not PG_URL:
        pytest.skip("db copy between backends needs PAPERFEED_TEST_POSTGRES_URL")
    schema = f"pf_copy_{uuid.uuid4().hex[:10]}"
    yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()
