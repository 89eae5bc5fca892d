"""Followed sources, the use cases: adding and validating, settings-file declarations, the harvest
lock (never two harvests of one source at once), health and `status --check`, CLI exit codes."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperfeed.core.errors import BadRequest, ConfigError, Conflict
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app import sources as uc
from paperfeed.delivery.cli.main import cli
from paperfeed.delivery.jobs.harvest import run_source
from paperfeed.store import Store
from paperfeed.store.runs import now_utc
from paperfeed.store.sources import LeaseLost
from tests.sources_server import Reply, quick_client, serve, settings_for


def test_add_validates_and_names(store: Store) -> None:
    assert uc.add_source(store, "arxiv", ("cs.CL", "cs.LG")).name == "arxiv-cs.CL_cs.LG"
    assert (
        uc.add_source(store, "arxiv-oai", set_spec="physics:hep-th").name
        == "arxiv-oai-physics-hep-th"
    )
    assert uc.add_source(store, "hf-daily").params == {}
    with pytest.raises(Conflict, match="already followed"):
        uc.add_source(store, "hf-daily")
    for kind, cats, set_spec, message in [
        ("arxiv", (), None, "at least one --category"),
        ("arxiv", ("not a category",), None, "not an arXiv category"),
        ("arxiv-oai", ("cs.CL",), None, "takes --set"),
        ("hf-daily", (), "cs", "takes no --category or --set"),
        ("rss", (), None, "valid: arxiv, arxiv-oai, hf-daily"),
    ]:
        with pytest.raises(BadRequest, match=message):
            uc.add_source(store, kind, cats, set_spec)


def test_settings_declare_sources(store: Store, settings: Settings) -> None:
    declared = with_overrides(
        settings, sources="arxiv category=cs.CL,cs.LG; arxiv-oai set=cs name=oai; hf-daily"
    )
    names = [s.name for s in uc.list_sources(store, declared)]
    assert names == ["arxiv-cs.CL_cs.LG", "hf-daily", "oai"]
    assert all(s.origin == "settings" for s in store.sources.list_sources())
    with pytest.raises(BadRequest, match="declared by the `sources` setting"):
        uc.remove_source(store, declared, "oai")
    uc.remove_source(store, settings, "oai")  # once the declaration is gone, it can go
    with pytest.raises(ConfigError, match="unknown key 'cat'"):
        uc.declared_sources(with_overrides(settings, sources="arxiv cat=cs.CL"))


def test_never_two_harvests_of_one_source(store: Store) -> None:
    source = store.sources.add_source("hf", "hf-daily", {})

    def never_dead(holder: str) -> bool:
        return False

    assert store.sources.claim_source(source.id, "host-a:1:1", 60, never_dead)
    # another machine waits
    assert not store.sources.claim_source(source.id, "host-b:2:2", 60, never_dead)
    assert store.sources.claim_source(source.id, "host-a:1:1", 60, never_dead)  # renewing its own
    # The holder's lock is taken over once it is dead; its next page then writes nothing.
    assert store.sources.claim_source(
        source.id, "host-b:2:2", 60, lambda holder: holder == "host-a:1:1"
    )
    with pytest.raises(LeaseLost):
        store.sources.commit_page(
            source.id, "host-a:1:1", [Paper(title="Late", arxiv_id="2501.00001")], {"x": 1}, 60
        )
    assert store.papers.count_papers() == 0 and store.sources.get_source("hf").cursor == {}  # type: ignore[union-attr]
    store.sources.commit_page(
        source.id,
        "host-b:2:2",
        [Paper(title="On time", arxiv_id="2501.00002", source="hf-daily")],
        {"last_day": "2026-02-02"},
        60,
    )
    assert store.papers.count_papers() == 1 and store.sources.get_source("hf").cursor == {  # type: ignore[union-attr]
        "last_day": "2026-02-02"
    }


def test_busy_source_is_skipped_and_failure_keeps_the_cursor(store: Store) -> None:
    with serve() as server:
        settings = settings_for(server, sources_today="2026-02-03", sources_initial_days=2)
        source = store.sources.add_source("hf", "hf-daily", {})
        assert store.sources.claim_source(source.id, "elsewhere:1:1", 600, lambda h: False)
        with quick_client(settings) as http:
            busy = run_source(store, settings, source, http=http)
            assert busy.busy and not server.requests
            store.sources.release_source(source.id, "elsewhere:1:1")
            server.add("/api/daily_papers", Reply(b"[]", content_type="application/json"),
                       Reply(b"gateway down", 502, content_type="text/plain"))
            failed = run_source(store, settings, source, http=http)
    assert failed.error and "502" in failed.error and failed.pages == 1
    after = store.sources.get_source("hf")
    assert after is not None and after.cursor == {"last_day": "2026-02-02"}  # the day that was read
    assert after.failing and after.last_error and after.lease_holder is None


def test_status_check_exits_nonzero_when_stale(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    source = store.sources.add_source("hf", "hf-daily", {})
    store.sources.record_source_run(source.id, {"new": 0}, now=now_utc() - timedelta(hours=50))
    args = ["--data-dir", settings.data_dir, "--database-url", settings.db_url]
    stale = CliRunner().invoke(cli, ["status", "--check", *args])
    assert stale.exit_code == 4 and "STALE" in stale.output
    store.sources.record_source_run(source.id, {"new": 3})
    fresh = CliRunner().invoke(cli, ["status", "--check", "--json", *args])
    assert fresh.exit_code == 0 and json.loads(fresh.output)["sources"][0]["stale"] is False
    env = {"PAPERFEED_DATA_DIR": settings.data_dir, "PAPERFEED_DATABASE_URL": settings.db_url}
    listed = CliRunner(env=env).invoke(cli, ["sources"])  # no subcommand: the health list
    assert listed.exit_code == 0 and listed.output.startswith("hf "), listed.output


def test_ingest_exit_codes_tell_nothing_new_from_all_rejected(
    settings: Settings, tmp_path: Path
) -> None:
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps({"id": "2501.00001", "title": "A paper"}) + "\n")
    bad.write_text(json.dumps({"id": "not-an-id", "title": "A paper"}) + "\n" + '{"title": ""}\n')
    args = ["--data-dir", settings.data_dir, "--database-url", settings.db_url, "--no-index"]

    def code(path: Path) -> int:
        return CliRunner().invoke(cli, ["ingest", str(path), *args]).exit_code

    assert code(good) == 0  # papers stored
    assert code(good) == 1  # nothing new
    assert code(bad) == 3  # every record rejected


def test_sources_cli_round_trip(settings: Settings) -> None:
    args = ["--data-dir", settings.data_dir, "--database-url", settings.db_url]
    env = {"PAPERFEED_DATA_DIR": settings.data_dir, "PAPERFEED_DATABASE_URL": settings.db_url}
    added = CliRunner(env=env).invoke(
        cli, ["sources", "add", "arxiv", "--category", "cs.CL", "--json", *args]
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["name"] == "arxiv-cs.CL"
    shown = CliRunner().invoke(cli, ["sources", "show", "arxiv-cs.CL", *args])
    assert "kind: arxiv" in shown.output
    missing = CliRunner().invoke(cli, ["sources", "show", "nope", *args])
    assert missing.exit_code == 2 and "followed: arxiv-cs.CL" in missing.output
    assert CliRunner().invoke(cli, ["sources", "remove", "arxiv-cs.CL", *args]).exit_code == 0
    assert CliRunner().invoke(cli, ["sources", "list", *args]).exit_code == 1  # none followed


def test_user_agent_carries_the_contact_address() -> None:
    from paperfeed.sources.http import HttpClient

    with HttpClient(Settings(contact_email="lab@example.org")) as http:
        assert http.client.headers["User-Agent"].endswith("mailto:lab@example.org")


def test_harvest_keeps_arxiv_pacing_and_retry_after(store: Store) -> None:
    """A followed arXiv source goes through the shared HTTP client: 3 s (here 0.2 s) between
    requests, and a 503's Retry-After is waited out before the page is asked again."""
    from tests.sources_server import Sleeps

    doc = (
        b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
        b"%s<resumptionToken>%s</resumptionToken></ListRecords></OAI-PMH>"
    )
    rec = (
        b"<record><header><identifier>oai:arXiv.org:2501.0000%d</identifier><datestamp>2025-01-06</datestamp>"
        b'</header><metadata><arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2501.0000%d</id>'
        b"<created>2025-01-05</created><title>Paper "
        b"%d</title><abstract>A.</abstract></arXiv></metadata></record>"
    )
    with serve() as server:
        server.add("/oai", Reply(doc % (rec % (1, 1, 1), b"t1")),
                   Reply(b"busy", 503, headers={"Retry-After": "7"}, content_type="text/plain"),
                   Reply(doc % (rec % (2, 2, 2), b"")))
        settings = settings_for(server, arxiv_delay=0.2, sources_today="2025-01-06")
        sleeps = Sleeps()
        source = store.sources.add_source("oai", "arxiv-oai", {"set": "cs"})
        with quick_client(settings, sleeps) as http:
            run = run_source(store, settings, source, http=http)
    assert run.error is None and run.counts.new == 2
    assert 7.0 in sleeps.waits  # Retry-After honoured
    assert any(0.0 < w <= 0.2 for w in sleeps.waits)  # the pacing gap before a following request
    queries = [r.query for r in server.paths("/oai")]
    assert queries[0] == {"verb": "ListRecords", "metadataPrefix": "arXiv", "from": "2025-01-05",
                          "until": "2025-01-06", "set": "cs"}
    assert queries[1] == queries[2] == {"verb": "ListRecords", "resumptionToken": "t1"}
    assert store.sources.get_source("oai").cursor == {"from": "2025-01-06"}  # type: ignore[union-attr]


def test_catch_up_is_bounded_by_the_setting(store: Store) -> None:
    with serve() as server:
        server.add("/api/daily_papers", Reply(b"[]", content_type="application/json"))
        settings = settings_for(
            server, sources_today="2026-02-20", sources_catchup_days=3, hf_refresh_days=1
        )
        source = store.sources.add_source("hf", "hf-daily", {})
        store.sources.claim_source(source.id, "me:1:1", 60, lambda h: False)
        # seven weeks away
        store.sources.commit_page(source.id, "me:1:1", [], {"last_day": "2026-01-01"}, 60)
        store.sources.release_source(source.id, "me:1:1")
        with quick_client(settings) as http:
            run = run_source(store, settings, store.sources.get_source("hf") or source, http=http)
    assert [r.query["date"] for r in server.paths("/api/daily_papers")] == [
        "2026-02-17",
        "2026-02-18",
        "2026-02-19",
        "2026-02-20",
    ]
    assert run.notes == [
        "gap 2026-01-01 .. 2026-02-16 is older than sources_catchup_days, not read"
    ]
    assert store.sources.get_source("hf").cursor == {"last_day": "2026-02-20"}  # type: ignore[union-attr]


def test_sources_declared_in_the_settings_file(store: Store, tmp_path: Path) -> None:
    from paperfeed.core.settings import load_settings

    (tmp_path / "paperfeed.toml").write_text('sources = "arxiv category=cs.CL; hf-daily name=hf"\n')
    settings = load_settings({"data_dir": str(tmp_path)}, environ={})
    assert [s.name for s in uc.list_sources(store, settings)] == ["arxiv-cs.CL", "hf"]
