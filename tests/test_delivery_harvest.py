"""Followed sources against arXiv's own error answers, replayed from a local server over real
listing data (../shared/data/arxiv-74k.jsonl.gz), on both backends: a resumption token refused for
ever ends the run in bounded requests with exit 5; an unknown set fails (when harvested and when
added); `status --check` fails on a failing source; arXivRaw brings versions, withdrawals and a new-
version alert; runs record what they committed and every request they sent."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from paperfeed.core.errors import BadRequest
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings, load_settings
from paperfeed.delivery.app import sources as uc
from paperfeed.delivery.cli.main import cli
from paperfeed.delivery.jobs.harvest import run_source
from paperfeed.sources.arxiv_oai import list_sets
from paperfeed.sources.http import HttpClient, RateLimiter
from paperfeed.store import Store
from paperfeed.store.alert_schema import paper_events
from tests.conftest import shared_file
from tests.replay_server import Replay, ReplayServer, load_arxiv, replaying

MON = date(2025, 3, 24)


def listing_replay() -> Replay:
    """cs.CL papers announced 24-26 March 2025, from the real listing crawl, 10 per OAI page."""
    return Replay(
        arxiv=load_arxiv(
            shared_file("arxiv-74k.jsonl.gz"), MON, MON + timedelta(days=2), primary="cs.CL"
        ),
        today=MON,
        oai_page_size=10,
    )


@pytest.fixture
def world() -> Replay:
    """The real listing replay (listing_replay)."""
    return listing_replay()


def _env(server: ReplayServer, store_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **server.env(),
        "PAPERFEED_DATABASE_URL": store_url,
        "PAPERFEED_DATA_DIR": str(data_dir),
        "PAPERFEED_SOURCES_INITIAL_DAYS": "1",
        "PAPERFEED_HTTP_RETRIES": "0",
    }
    env.update(extra)
    return env


def _settings(env: dict[str, str]) -> Settings:
    return load_settings({}, environ=env)


def _client(settings: Settings) -> HttpClient:
    return HttpClient(settings, limiter=RateLimiter())


def test_a_token_refused_for_ever_ends_the_run_in_bounded_requests(
    world: Replay, store: Store, store_url: str, tmp_path: Path
) -> None:
    world.refuse_tokens = True
    with replaying(world) as server:
        env = _env(server, store_url, tmp_path)
        uc.add_source(store, "arxiv-oai", set_spec="cs", name="oai")
        result = CliRunner().invoke(cli, ["sources", "run", "oai"], env=env)
        assert result.exit_code == 5, result.output
        oai = server.paths("/oai")
        # 1 + sources_oai_max_restarts (2) harvests, each its first page and the refused token.
        assert len(oai) == 6
        assert sum("resumptionToken" in r.query for r in oai) == 3
        source = store.sources.get_source("oai")
        assert (
            source is not None and source.failing and source.lease_holder is None
        )  # lock released
        assert "resumption token refused 3 times" in (source.last_error or "")
        assert "The value of the resumptionToken argument is invalid or expired." in (
            source.last_error or ""
        )
        run = store.runs.recent_runs(1)[0]
        assert run.status == "failed" and run.finished_at is not None  # the run row is closed
        assert run.counts.new == 10  # the first page, committed before the token was refused
        assert source.last_counts["requests"] == 6 and source.last_counts["pages"] == 3
        check = CliRunner().invoke(cli, ["status", "--check"], env=env)
        assert check.exit_code == 6 and "failing: oai" in check.output


def test_every_loop_is_bounded_by_the_run_request_budget(
    world: Replay, store: Store, store_url: str, tmp_path: Path
) -> None:
    world.refuse_tokens = True
    with replaying(world) as server:
        env = _env(
            server,
            store_url,
            tmp_path,
            PAPERFEED_SOURCES_OAI_MAX_RESTARTS="1000",
            PAPERFEED_SOURCES_MAX_REQUESTS="25",
        )
        settings = _settings(env)
        source = uc.add_source(store, "arxiv-oai", set_spec="cs", name="oai")
        with _client(settings) as http:
            run = run_source(store, settings, source, http=http)
        assert run.error and "25 requests sent" in run.error and "sources_max_requests" in run.error
        assert len(server.paths("/oai")) == 25 and run.requests == 25


def test_an_unknown_set_fails_and_an_empty_day_is_quiet(
    world: Replay, store: Store, store_url: str, tmp_path: Path
) -> None:
    with replaying(world) as server:
        env = _env(server, store_url, tmp_path)
        settings = _settings(env)
        typo = store.sources.add_source(
            "oai-typo", "arxiv-oai", {"set": "cz", "prefix": "arXivRaw"}
        )
        with _client(settings) as http:
            failed = run_source(store, settings, typo, http=http)
            assert (
                failed.error
                and "unknown set" in failed.error
                and "doesn't match any sets" in failed.error
            )
            assert store.sources.get_source("oai-typo").failing  # type: ignore[union-attr]
            # sources add asks ListSets and refuses a set arXiv does not list.
            with pytest.raises(BadRequest, match="arXiv lists no set 'cz'.*cs"):
                uc.add_source(
                    store,
                    "arxiv-oai",
                    set_spec="cz",
                    known_sets=lambda: list_sets(http, settings.arxiv_oai_url),
                )
            assert (
                uc.add_source(
                    store,
                    "arxiv-oai",
                    set_spec="cs",
                    known_sets=lambda: list_sets(http, settings.arxiv_oai_url),
                ).name
                == "arxiv-oai-cs"
            )
            cli_add = CliRunner().invoke(
                cli, ["sources", "add", "arxiv-oai", "--set", "cz"], env=env
            )
            assert cli_add.exit_code == 2 and "arXiv lists no set 'cz'" in cli_add.output
            # A day with nothing announced (Sunday) is a quiet day, not a failure.
            quiet_settings = _settings({**env, "PAPERFEED_SOURCES_TODAY": "2025-03-23"})
            world.today = date(2025, 3, 23)
            quiet = run_source(
                store, quiet_settings, store.sources.get_source("arxiv-oai-cs"), http=http  # type: ignore[arg-type]
            )
            assert quiet.error is None and quiet.counts.new == 0


def test_a_followed_source_harvests_arxivraw_with_versions(
    world: Replay, store: Store, store_url: str, tmp_path: Path
) -> None:
    first, second = sorted((p for p in world.arxiv if p.day == MON), key=lambda p: p.id)[:2]
    world.arxiv = [
        replace(first, revisions=(MON + timedelta(days=1),)),
        replace(second, revisions=(MON + timedelta(days=1),), withdrawn=True),
        *(p for p in world.arxiv if p.id not in (first.id, second.id)),
    ]
    with replaying(world) as server:
        env = _env(server, store_url, tmp_path)
        added = CliRunner().invoke(
            cli, ["sources", "add", "arxiv-oai", "--set", "cs", "--json"], env=env
        )
        assert added.exit_code == 0, added.output
        assert json.loads(added.output)["params"] == {
            "set": "cs",
            "prefix": "arXivRaw",
        }  # the default
        assert CliRunner().invoke(cli, ["sources", "run"], env=env).exit_code == 0
        assert all(
            r.query.get("metadataPrefix") in (None, "arXivRaw") for r in server.paths("/oai")
        )
        paper = store.papers.get_paper_by_arxiv(first.id)
        assert paper is not None and paper.version == 1 and paper.versions == (1,)
        world.today = MON + timedelta(days=1)
        next_day = {**env, "PAPERFEED_SOURCES_TODAY": world.today.isoformat()}
        assert CliRunner().invoke(cli, ["sources", "run"], env=next_day).exit_code == 0
    paper = store.papers.get_paper_by_arxiv(first.id)
    assert paper is not None and paper.version == 2 and paper.versions == (1, 2)
    assert (
        paper.published == MON and paper.updated == MON + timedelta(days=1) and not paper.withdrawn
    )
    gone = store.papers.get_paper_by_arxiv(second.id)
    assert gone is not None and gone.withdrawn and gone.version == 2  # arXiv's 0 kb version
    with store.engine.connect() as conn:
        events = conn.execute(
            select(paper_events.c.kind, paper_events.c.key, paper_events.c.paper_id)
        ).all()
    assert ("new_version", "2", paper.id) in [tuple(e) for e in events]
    assert not [e for e in events if e[0] == "new_version" and e[1] == "1"]


def test_failed_requests_are_counted(
    world: Replay, store: Store, store_url: str, tmp_path: Path
) -> None:
    world.down = True
    with replaying(world) as server:
        settings = _settings(_env(server, store_url, tmp_path, PAPERFEED_HTTP_RETRIES="2"))
        source = uc.add_source(store, "arxiv-oai", set_spec="cs", name="oai")
        with _client(settings) as http:
            run = run_source(store, settings, source, http=http)
    assert run.error and "HTTP 503" in run.error
    assert run.pages == 0 and run.requests == 3  # the first try and two retries
    assert "0 pages, 3 requests" in run.summary


def test_a_run_row_holds_what_its_committed_pages_stored(store: Store) -> None:
    """What a run killed with kill -9 leaves: its row still 'running', with the counts of every page
    committed before (each page's counts go in with the page, in its transaction)."""
    source = store.sources.add_source("hf", "hf-daily", {})
    assert store.sources.claim_source(source.id, "me:1:1", 60, lambda holder: False)
    run_id = store.runs.start_run("source:hf")
    page = [Paper(title=f"P{i}", arxiv_id=f"2501.0000{i}", source="hf-daily") for i in range(3)]
    store.sources.commit_page(
        source.id, "me:1:1", page, {"last_day": "2026-02-02"}, 60, run_id=run_id, rejected=1
    )
    store.sources.commit_page(
        source.id, "me:1:1", page[:1], {"last_day": "2026-02-03"}, 60, run_id=run_id
    )
    (run,) = store.runs.recent_runs(1)
    assert run.status == "running" and (
        run.counts.new,
        run.counts.unchanged,
        run.counts.rejected,
    ) == (3, 1, 1)
    store.runs.finish_run(run_id, None, error="killed")  # a failure keeps the committed counts
    assert store.runs.recent_runs(1)[0].counts.new == 3


def test_the_prefix_of_followed_oai_sources(store: Store, settings: Settings) -> None:
    assert uc.add_source(store, "arxiv-oai", set_spec="math").params == {
        "set": "math",
        "prefix": "arXivRaw",
    }
    assert uc.add_source(store, "arxiv-oai", set_spec="cs", prefix="arXiv").params == {
        "set": "cs",
        "prefix": "arXiv",
    }
    with pytest.raises(BadRequest, match="cannot be followed; use arXivRaw or arXiv"):
        uc.add_source(store, "arxiv-oai", set_spec="stat", prefix="oai_dc")
    with pytest.raises(BadRequest, match="--prefix is for arxiv-oai sources"):
        uc.add_source(store, "hf-daily", prefix="arXivRaw")
    declared = uc.declared_sources(
        replace(settings, sources="arxiv-oai set=q-bio; arxiv-oai set=econ prefix=arXiv")
    )
    assert [p for _, _, p in declared] == [
        {"set": "q-bio", "prefix": "arXivRaw"},
        {"set": "econ", "prefix": "arXiv"},
    ]
