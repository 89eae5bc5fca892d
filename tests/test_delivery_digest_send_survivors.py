"""Digests are never sent to an unverified address (issue 22): a digest composed while the address
was confirmed is held back when the confirmation is gone by the time it is sent (an address change
clears it).

Through a real SMTP server, on both backends.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import update

from paperfeed.core.settings import Settings
from paperfeed.delivery.jobs.digests import run_digests
from paperfeed.store import Store
from paperfeed.store.schema import users
from tests._digest_fixtures import SinkHandler, add_user, at, smtp_settings, topic_papers


def test_digests_never_sent_to_unverified_users(store: Store, settings: Settings,
                                                smtp_sink: tuple[SinkHandler, int]) -> None:
    sink, port = smtp_sink
    s = smtp_settings(settings, port)
    store.papers.upsert_papers(
        topic_papers("language", 6, 0, date(2026, 3, 10)), now=at("2026-03-10", 3)
    )
    ada, bob = add_user(store, "ada"), add_user(store, "bob")
    for u in (ada, bob):
        store.subscriptions.follow(u.id, "category", "cs.CL")
    composed = run_digests(s, store, now=at("2026-03-10", 8), send=False)
    assert composed.composed == 2 and not sink.received
    with store.engine.begin() as conn:  # ada's address is no longer confirmed when the sender runs
        conn.execute(update(users).where(users.c.id == ada.id).values(email_verified_at=None))
    sent = run_digests(s, store, now=at("2026-03-10", 9), compose=False)
    assert sent.sent == 1 and set(sink.by_recipient()) == {"bob@example.org"}
