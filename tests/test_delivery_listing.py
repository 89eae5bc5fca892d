"""One listing use case: a day's papers and trending come out in the same order from the CLI and the
API."""

from __future__ import annotations

import json
from datetime import date

from click.testing import CliRunner

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.delivery.cli.main import cli
from paperfeed.store import Store
from tests.web_fixtures import make_app

DAY = date(2025, 1, 6)


def _seed(store: Store) -> None:
    """One paper with 5 community votes and no Hugging Face upvotes, one with 3 Hugging Face
    upvotes."""
    store.papers.upsert_papers(
        [
            Paper(
                title="Five local votes",
                abstract="Liked here.",
                arxiv_id="2501.00011",
                version=1,
                authors=("Ada Lovelace",),
                categories=("cs.LG",),
                published=DAY,
                featured_on=DAY,
                external_upvotes=0,
                source="hf-daily",
            ),
            Paper(
                title="Three Hugging Face upvotes",
                abstract="Liked there.",
                arxiv_id="2501.00012",
                version=1,
                authors=("Alan Turing",),
                categories=("cs.LG",),
                published=DAY,
                featured_on=DAY,
                external_upvotes=3,
                source="hf-daily",
            ),
        ]
    )
    local = store.papers.get_paper_by_arxiv("2501.00011")
    assert local is not None and local.id is not None
    for i in range(5):
        store.votes.add_vote(
            store.users.create_user(f"voter{i}", f"voter{i}@example.org", "x").id, local.id
        )


def _cli(settings: Settings, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, [*args, "--json", "--data-dir", str(settings.data_dir),
                                      "--database-url", settings.database_url])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def _scores(papers: object) -> list[float]:
    assert isinstance(papers, list)
    return [p["score"] for p in papers]


def _order(papers: object) -> list[tuple[str, int]]:
    assert isinstance(papers, list)
    return [(p["arxiv_id"], p["upvotes"]) for p in papers]


def test_daily_and_trending_agree_between_cli_and_api(store: Store, settings: Settings) -> None:
    _seed(store)
    # community votes count as much as Hugging Face's
    expected = [("2501.00011", 5), ("2501.00012", 3)]
    with make_app(settings, store) as client:
        api_day = client.get("/api/v1/papers", params={"day": DAY.isoformat()}).json()
        api_trending = client.get("/api/v1/trending").json()
    assert _order(api_day["papers"]) == expected
    assert _order(_cli(settings, "papers", "daily", "--day", DAY.isoformat())["papers"]) == expected
    listed = CliRunner().invoke(
        cli,
        [
            "papers",
            "list",
            "--sort",
            "upvotes",
            "--json",
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.database_url,
        ],
    )
    assert [p["arxiv_id"] for p in json.loads(listed.stdout)] == [a for a, _ in expected]
    cli_trending = _cli(settings, "papers", "trending")
    assert _order(api_trending["papers"]) == _order(cli_trending["papers"]) == expected
    assert _scores(api_trending["papers"]) == _scores(cli_trending["papers"])
