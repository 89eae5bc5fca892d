"""`paperfeed subscribe`, `digest preview|send|log` and `paperfeed worker --once`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.cli.main import cli
from paperfeed.delivery.jobs.worker import cycle
from paperfeed.index import open_search_index
from paperfeed.store import Store
from tests._digest_fixtures import SinkHandler, at, smtp_settings, topic_papers


def _run(settings: Settings, *args: str) -> tuple[int, str]:
    env = {"PAPERFEED_SECRET_KEY": "c" * 40, "PAPERFEED_MAILER": "file",
           "PAPERFEED_MAIL_DIR": str(Path(settings.data_dir) / "outbox")}
    result = CliRunner(env=env).invoke(
        cli, [*args, "--data-dir", settings.data_dir, "--database-url", settings.db_url]
    )
    return result.exit_code, result.output


def test_subscribe_preview_send_log(settings: Settings, store: Store) -> None:
    store.papers.upsert_papers(
        topic_papers("language", 6, 0, date(2026, 3, 10)), now=at("2026-03-10", 2)
    )
    store.users.create_user("zoe", "zoe@example.org", "x")
    # no digest before the address is confirmed
    assert _run(settings, "users", "verify", "zoe")[0] == 0
    assert (
        _run(
            settings, "subscribe", "set", "zoe", "--tz", "Europe/Paris", "--hour", "8", "--max", "3"
        )[0]
        == 0
    )
    code, out = _run(settings, "subscribe", "search", "zoe", "language", "model", "--name", "LLMs")
    assert code == 0 and "saved search" in out
    assert _run(settings, "subscribe", "follow", "zoe", "author", "Shared Person")[0] == 0
    code, out = _run(settings, "subscribe", "show", "zoe", "--json")
    data = json.loads(out)
    assert data["subscription"]["timezone"] == "Europe/Paris" and data["authors"] == [
        "Shared Person"
    ]
    code, out = _run(settings, "digest", "preview", "zoe", "--now", "2026-03-10T09:00")
    assert code == 0 and "LLMs" in out
    code, out = _run(settings, "digest", "send", "--now", "2026-03-10T06:00")  # 07:00 Paris not yet
    assert code == 0 and "0 composed" in out
    code, out = _run(settings, "digest", "send", "--now", "2026-03-10T09:00", "--json")
    assert code == 0 and json.loads(out)["sent"] == 1
    assert len(list((Path(settings.data_dir) / "outbox").glob("*.eml"))) == 1
    code, out = _run(settings, "digest", "log")
    assert code == 0 and "zoe" in out and "sent" in out
    assert _run(settings, "subscribe", "remove", "zoe", "--author", "Nobody")[0] == 1
    assert _run(settings, "subscribe", "set", "nobody")[0] == 2


def test_worker_ingests_configured_sources_then_sends(
    settings: Settings, store: Store, tmp_path: Path, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"2603.{i:05d}",
                    "title": f"Language model number {i}",
                    "abstract": "A language model.",
                    "authors": ["Ann Bee"],
                    "arxiv_categories": ["cs.CL"],
                }
            )
            for i in range(5)
        )
        + "\n"
    )
    s = smtp_settings(settings, port, worker_sources=str(feed), worker_ingest_minutes=60.0)
    user = store.users.create_user("yan", "yan@example.org", "x")
    store.comments.mark_email_verified(user.id, user.email)
    store.subscriptions.save_subscription(user.id, send_hour=0)
    store.subscriptions.follow(user.id, "category", "cs.CL")
    s = with_overrides(s, worker_embed_batch=3)
    first = cycle(s, store)
    assert first.ingested and first.ingested.startswith("5 new") and first.digests.sent == 1, first
    assert first.embedded == 3  # the background embedding job: a batch per cycle, resumed next time
    index = open_search_index(s, store)
    assert index.lexical.n_alive == 5 and index.semantic.count() == 3
    again = cycle(s, store)
    # ingest not due yet; digest already sent
    assert again.ingested is None and again.digests.sent == 0
    assert again.embedded == 2 and cycle(s, store).embedded == 0
    assert len(sink.received) == 1
