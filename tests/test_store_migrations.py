"""Migrations keep data: upgrade a populated database, and step down and up again."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from paperfeed.core.models import Paper
from paperfeed.store import open_store


def test_upgrade_populated_database_keeps_papers(store_url: str) -> None:
    old = open_store(store_url, migrate=False)
    try:
        old.migrate("0001")
        assert old.current_revision() == "0001"
        old.upsert_papers([Paper(title=f"Paper {i}", arxiv_id=f"2501.{i:05d}", version=1, source="jsonl", published=date(2025, 1, 2)) for i in range(50)])
        old.start_run("seed")
        old.migrate()
        assert old.current_revision() == old.head_revision()
        assert old.count_papers() == 50
        assert old.get_paper_by_arxiv("2501.00007") is not None
        assert old.check() == []
        # Down to the first schema and back up: papers stay.
        old.downgrade("0001")
        with old.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM papers")).scalar_one() == 50
        old.migrate()
        assert old.count_papers() == 50 and old.check() == []
    finally:
        old.close()


def test_check_reports_an_unmigrated_database(store_url: str) -> None:
    s = open_store(store_url, migrate=False)
    try:
        assert any("db migrate" in p for p in s.check())
    finally:
        s.close()
