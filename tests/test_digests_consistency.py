"""One query engine: a saved search picks the same papers in the digest as /search over the same
window."""

from __future__ import annotations

from datetime import date

from paperfeed.core.settings import Settings
from paperfeed.delivery.jobs.digests import run_digests
from paperfeed.store import Store
from tests._digest_fixtures import add_user, at, topic_papers
from tests.web_fixtures import make_app

QUERIES = [
    "diffusion",
    "language models -medicine",
    '"large language model" question',
    "robot arm cat:cs.RO",
    "author:shared diffusion video",
    "diffusion OR nothing-matches-this",
]


def test_saved_search_gives_the_digest_the_papers_search_gives_for_the_window(settings: Settings,
                                                                             store: Store) -> None:
    old_day, new_day = date(2026, 3, 1), date(2026, 3, 10)
    store.papers.upsert_papers(
        topic_papers("diffusion", 12, 0, old_day) + topic_papers("language", 12, 100, old_day),
        now=at("2026-03-01", 3),
    )
    users = []
    for i, q in enumerate(QUERIES):
        user = add_user(store, f"u{i}", sections=("searches",), max_papers=200)
        store.subscriptions.add_saved_search(user.id, q, name=f"s{i}")
        users.append(user)
    run_digests(settings, store, now=at("2026-03-01", 8), send=False)  # covers the old papers
    store.papers.upsert_papers(
        topic_papers("diffusion", 9, 200, new_day)
        + topic_papers("language", 9, 300, new_day)
        + topic_papers("robots", 9, 400, new_day),
        now=at("2026-03-10", 3),
    )
    # the window: the new day's papers
    run_digests(settings, store, now=at("2026-03-10", 8), send=False)

    with make_app(settings, store) as client:
        for user, q in zip(users, QUERIES, strict=True):
            latest = store.deliveries.delivery_log(user_id=user.id)[0]
            assert latest.window_start == at("2026-03-01", 8)
            in_digest = [int(it["paper_id"]) for it in latest.items]
            r = client.get("/api/v1/search", params={"q": q, "since": new_day.isoformat(),
                                                     "until": new_day.isoformat(), "limit": 100})
            assert r.status_code == 200, r.text
            on_site = [p["id"] for p in r.json()["papers"]]
            assert in_digest == on_site, q
            assert on_site or q.endswith("-this")  # most queries do find papers
    assert any(store.deliveries.delivery_log(user_id=u.id)[0].items for u in users)
