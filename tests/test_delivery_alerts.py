"""Lifecycle alerts end to end through the live-source replay: a stored, upvoted paper comes back
from the arXiv API in a newer version; exactly one alert, and harvesting again gives no second."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from paperfeed.core.settings import load_settings
from paperfeed.delivery.app import alerts
from paperfeed.delivery.app.sources import add_source
from paperfeed.delivery.jobs.harvest import run_sources
from paperfeed.store import open_store
from tests.conftest import shared_file
from tests.replay_server import Replay, load_arxiv, replaying

MON = date(2025, 3, 24)


def test_replayed_new_version_alerts_its_upvoter_once(store_url: str, tmp_path: Path) -> None:
    world = Replay(
        arxiv=load_arxiv(shared_file("arxiv-74k.jsonl.gz"), MON, MON, primary="cs.CL"), today=MON
    )
    with replaying(world) as server:
        settings = load_settings(
            {"data_dir": str(tmp_path / "data"), "database_url": store_url},
            environ={**server.env(), "PAPERFEED_SOURCES_INITIAL_DAYS": "1"},
        )
        store = open_store(store_url)
        try:
            add_source(store, "arxiv", ("cs.CL",))
            first = run_sources(store, settings)
            assert first[0].error is None and first[0].counts.new == len(world.arxiv)
            # The paper the API lists first (newest day, highest id): a replacement would be
            # re-read.
            target = max(world.arxiv, key=lambda p: (p.day, p.id))
            stored = store.papers.get_paper_by_arxiv(target.id)
            assert stored is not None and stored.id is not None and stored.version == 1
            ada = store.users.create_user("ada", "ada@example.org", "h")
            bob = store.users.create_user("bob", "bob@example.org", "h")
            store.votes.add_vote(ada.id, stored.id)
            assert store.alerts.alerts([ada.id]) == []  # the first ingest was no event
            world.arxiv[world.arxiv.index(target)] = replace(target, version=2)
            for _ in range(2):  # the harvest that brings v2, then one that brings nothing new
                runs = run_sources(store, settings)
                assert runs[0].error is None
                found = store.alerts.alerts([ada.id])
                assert [(a.kind, a.key, a.paper_id, a.why) for a in found] == [
                    ("new_version", "2", stored.id, "upvoted")
                ]
            assert store.alerts.alerts([bob.id]) == []
            assert store.papers.get_paper_by_arxiv(target.id).version == 2  # type: ignore[union-attr]
            assert store.papers.count_papers() == len(world.arxiv) and store.check() == []
            notes = alerts.alert_notes(store, ada)
            assert [(n.text, n.new) for n in notes] == [("new version v2", True)]
            assert [n.new for n in alerts.alert_notes(store, ada)] == [False]
        finally:
            store.close()
