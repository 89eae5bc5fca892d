"""Migrations keep data: upgrade a populated database, and step down and up again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from paperfeed.store import Store, open_store


def test_upgrade_populated_database_keeps_papers(store_url: str) -> None:
    old = open_store(store_url, migrate=False)
    try:
        old.migrate("0001")
        assert old.current_revision() == "0001"
        _seed_0001(old, 50)  # with 0001's own columns: today's code writes columns added later
        old.runs.start_run("seed")
        old.migrate()
        assert old.current_revision() == old.head_revision()
        assert old.papers.count_papers() == 50
        assert old.papers.get_paper_by_arxiv("2501.00007") is not None
        assert old.check() == []
        # Down to the first schema and back up: papers stay.
        old.downgrade("0001")
        with old.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM papers")).scalar_one() == 50
        old.migrate()
        assert old.papers.count_papers() == 50 and old.check() == []
    finally:
        old.close()


def _seed_0001(store: Store, n: int) -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        for i in range(n):
            pid = conn.execute(
                text(
                    "INSERT INTO papers (arxiv_id, version, title, title_key, day, first_seen_at, "
                    "updated_at,"
                    " content_hash) VALUES (:a, 1, :t, :k, :d, :n, :n, 'x') RETURNING id"
                ),
                {
                    "a": f"2501.{i:05d}",
                    "t": f"Paper {i}",
                    "k": f"paper {i}",
                    "d": now.date(),
                    "n": now,
                },
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO paper_sources (paper_id, source, first_seen_at) VALUES (:p, "
                    "'jsonl', :n)"
                ),
                {"p": pid, "n": now},
            )
            conn.execute(
                text(
                    "INSERT INTO paper_versions (paper_id, version, seen_at, source) VALUES (:p, "
                    "1, :n, 'jsonl')"
                ),
                {"p": pid, "n": now},
            )


def test_check_reports_an_unmigrated_database(store_url: str) -> None:
    s = open_store(store_url, migrate=False)
    try:
        assert any("db migrate" in p for p in s.check())
    finally:
        s.close()
