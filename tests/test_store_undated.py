"""Undated papers (migration 0005): no invented day, kept out of day lists and trending, votes kept."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from paperfeed.core.models import Paper
from paperfeed.store import Store, open_store


def test_0005_clears_first_seen_days_and_keeps_votes(store_url: str) -> None:
    old = open_store(store_url, migrate=False)
    try:
        old.migrate("0004")
        old.upsert_papers([Paper(title="Dated paper", arxiv_id="2502.00001", version=1, published=date(2025, 2, 3), source="jsonl")])
        with old.engine.begin() as conn:  # as 0004's code stored it: the first-seen day as its day
            conn.execute(text(
                "INSERT INTO papers (title, title_key, abstract, day, first_seen_at, updated_at, content_hash) "
                "VALUES ('A listing-page paper without any date', 'a listing page paper without any date', "
                "'Text.', '2026-11-30', '2026-11-30 10:00:00', '2026-11-30 10:00:00', 'x')"
            ))
        undated = old.find_by_title("A listing-page paper without any date")
        assert undated is not None and undated.id is not None
        user = old.create_user("ann", "ann@example.org", "x" * 20)
        old.add_vote(user.id, undated.id)
        with old.engine.connect() as conn:  # 0004 gave it its first-seen day
            assert conn.execute(text(f"SELECT day FROM papers WHERE id = {undated.id}")).scalar_one() is not None
        old.migrate()
        with old.engine.connect() as conn:
            days = dict(conn.execute(text("SELECT title, day FROM papers")).all())
        assert days["A listing-page paper without any date"] is None
        assert str(days["Dated paper"]).startswith("2025-02-03")
        assert old.vote_counts([undated.id]) == {undated.id: 1}  # the schema change cascaded nothing
        old.downgrade("0004")
        with old.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM papers WHERE day IS NULL")).scalar_one() == 0
        old.migrate()
        assert old.vote_counts([undated.id]) == {undated.id: 1}
        assert not [p for p in old.check() if "sources" not in p and "source" not in p]
    finally:
        old.close()


def test_undated_papers_stay_out_of_days_and_trending_facts(store: Store) -> None:
    store.upsert_papers([
        Paper(title="Featured", arxiv_id="2602.00001", featured_on=date(2026, 2, 27), external_upvotes=5),
        Paper(title="Undated listing paper", abstract="Found by search only."),
    ])
    p = store.find_by_title("Undated listing paper")
    assert p is not None and p.day is None
    assert store.paper_days() == [date(2026, 2, 27)]
    assert [v.day for v in store.paper_votes()] == [date(2026, 2, 27)]
    assert [x.title for x in store.list_papers(since=date(2000, 1, 1))] == ["Featured"]
    assert [x.title for x in store.list_papers()] == ["Featured", "Undated listing paper"]  # undated last
