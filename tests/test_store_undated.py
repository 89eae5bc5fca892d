"""Undated papers (migration 0005): no invented day, kept out of day lists and trending, votes
kept."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import text

from paperfeed.core.models import Paper
from paperfeed.store import Store, open_store


def test_0005_clears_first_seen_days_and_keeps_votes(store_url: str) -> None:
    old = open_store(store_url, migrate=False)
    try:
        old.migrate("0004")
        # Raw rows in the 0004 shape: today's upsert and accounts write columns (doi, sessions, ...)
        # that 0004 lacks. 0004's code stored an undated paper with its first-seen day as its day.
        seen = datetime(2026, 11, 30, 10, tzinfo=UTC)
        with old.engine.begin() as conn:
            insert = text(
                "INSERT INTO papers (arxiv_id, version, title, title_key, abstract, published, day,"
                " first_seen_at, updated_at, content_hash) VALUES (:arxiv_id, :version, :title,"
                " :title_key, 'Text.', :published, :day, :seen, :seen, :hash)"
            )
            conn.execute(
                insert,
                [
                    {
                        "arxiv_id": "2502.00001",
                        "version": 1,
                        "title": "Dated paper",
                        "title_key": "dated paper",
                        "published": date(2025, 2, 3),
                        "day": date(2025, 2, 3),
                        "seen": seen,
                        "hash": "d" * 40,
                    },
                    {
                        "arxiv_id": None,
                        "version": None,
                        "title": "A listing-page paper without any date",
                        "title_key": "a listing page paper without any date",
                        "published": None,
                        "day": date(2026, 11, 30),
                        "seen": seen,
                        "hash": "x" * 40,
                    },
                ],
            )
            conn.execute(
                text(
                    "INSERT INTO paper_versions (paper_id, version, seen_at, source)"
                    " SELECT id, 1, first_seen_at, 'jsonl' FROM papers WHERE version = 1"
                )
            )
            undated_id = conn.execute(
                text("SELECT id FROM papers WHERE arxiv_id IS NULL")
            ).scalar_one()
            conn.execute(text(
                "INSERT INTO users (username, email, password_hash, is_admin, created_at)"
                " VALUES ('ann', 'ann@example.org', 'x', 0, :seen)"), {"seen": seen})
            user_id = conn.execute(text("SELECT id FROM users WHERE username = 'ann'")).scalar_one()
            conn.execute(
                text("INSERT INTO votes (user_id, paper_id, created_at) VALUES (:u, :p, :seen)"),
                {"u": user_id, "p": undated_id, "seen": seen},
            )
        with old.engine.connect() as conn:  # 0004 gave it its first-seen day
            assert (
                conn.execute(text(f"SELECT day FROM papers WHERE id = {undated_id}")).scalar_one()
                is not None
            )
        old.migrate()
        with old.engine.connect() as conn:
            days: dict[str, object] = dict(
                conn.execute(text("SELECT title, day FROM papers")).all()
            )
        assert days["A listing-page paper without any date"] is None
        assert str(days["Dated paper"]).startswith("2025-02-03")
        # the schema change cascaded nothing
        assert old.votes.vote_counts([undated_id]) == {undated_id: 1}
        old.downgrade("0004")
        with old.engine.connect() as conn:
            assert (
                conn.execute(text("SELECT count(*) FROM papers WHERE day IS NULL")).scalar_one()
                == 0
            )
        old.migrate()
        assert old.votes.vote_counts([undated_id]) == {undated_id: 1}
        assert not [p for p in old.check() if "sources" not in p and "source" not in p]
    finally:
        old.close()


def test_undated_papers_stay_out_of_days_and_trending_facts(store: Store) -> None:
    store.papers.upsert_papers(
        [
            Paper(
                title="Featured",
                arxiv_id="2602.00001",
                featured_on=date(2026, 2, 27),
                external_upvotes=5,
            ),
            Paper(title="Undated listing paper", abstract="Found by search only."),
        ]
    )
    p = store.papers.find_by_title("Undated listing paper")
    assert p is not None and p.day is None
    assert store.papers.paper_days() == [date(2026, 2, 27)]
    assert [v.day for v in store.votes.paper_votes()] == [date(2026, 2, 27)]
    assert [x.title for x in store.papers.list_papers(since=date(2000, 1, 1))] == ["Featured"]
    # undated last
    assert [x.title for x in store.papers.list_papers()] == ["Featured", "Undated listing paper"]
