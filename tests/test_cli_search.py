"""The search CLI: search/similar/index commands, JSON output, exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from paperfeed.core.models import Paper
from paperfeed.delivery.app.indexing import refresh_index_after_ingest
from paperfeed.delivery.cli import search as cli_search
from paperfeed.delivery.common.context import open_context
from tests._search_fixtures import corpus


@click.group()
def group() -> None:
    """Just the search commands (independent of the rest of the CLI)."""

for _cmd in cli_search.COMMANDS:
    group.add_command(_cmd)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    ctx = open_context(data_dir=str(tmp_path))
    try:
        ctx.store.papers.upsert_papers(corpus())
        refresh_index_after_ingest(ctx.settings, ctx.store)  # as `paperfeed ingest` does
    finally:
        ctx.close()
    return tmp_path


def _run(*args: str, data_dir: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(group, [*args, "--data-dir", str(data_dir)])
    return result.exit_code, result.stdout, result.stderr


def test_index_build_status_and_search_json(data_dir: Path) -> None:
    code, out, _ = _run("index", "build", "--lexical-only", data_dir=data_dir)
    assert code == 0 and "6 papers indexed" in out
    code, out, _ = _run("index", "status", "--json", data_dir=data_dir)
    status = json.loads(out)
    assert code == 0 and status["papers_indexed"] == 6 and "papers_with_vectors" in status
    code, out, _ = _run(
        "search", "image recognition", "--json", "--mode", "lexical", "-k", "5", data_dir=data_dir
    )
    data = json.loads(out)
    assert code == 0 and data["total"] == 3  # DDPM says "image" too
    hit = data["hits"][0]
    assert {"id", "arxiv_id", "title", "score", "lexical", "semantic", "matched_terms"} <= set(hit)
    assert hit["arxiv_id"] in {"1512.03385", "2010.11929"} and "image" in hit["matched_terms"]
    # both hold "image" and "recognition"; DDPM only "image", and comes after them
    assert (data["all_words"], data["some_words"]) == (2, 1)
    assert [h["matched_terms"] for h in data["hits"]] == [["image", "recognition"]] * 2 + [
        ["image"]
    ]
    code, out, _ = _run("search", "image recognition", "--mode", "lexical", data_dir=data_dir)
    assert code == 0 and "2 with all words, 1 more with some (lexical)" in out


def test_search_text_filters_and_exit_codes(data_dir: Path) -> None:
    code, out, _ = _run(
        "search",
        "image",
        "--category",
        "cs.CV",
        "--since",
        "2020-01-01",
        "--mode",
        "lexical",
        data_dir=data_dir,
    )
    assert code == 0 and "2010.11929" in out and "1512.03385" not in out
    code, _, err = _run("search", "zzzqqq", data_dir=data_dir)
    assert code == 1 and "no results" in err
    code, _, err = _run("search", "x", "--category", "nope.ZZ", data_dir=data_dir)
    assert code == 2 and err.strip().startswith("error:") and "Traceback" not in err
    code, _, err = _run("search", 'image "recog', "--mode", "lexical", data_dir=data_dir)
    assert code == 0 and "notice:" in err


def test_similar_by_arxiv_and_internal_id(data_dir: Path) -> None:
    code, out, _ = _run("similar", "2010.11929", "--json", data_dir=data_dir)
    data = json.loads(out)
    assert code == 0 and data["hits"] and all(h["arxiv_id"] != "2010.11929" for h in data["hits"])
    code, out, _ = _run("similar", f"#{data['paper']['id']}", "-k", "1", data_dir=data_dir)
    assert code == 0 and "similar to" in out
    code, _, err = _run("similar", "not-an-id", data_dir=data_dir)
    assert code == 2 and err.startswith("error:")
    code, _, err = _run("similar", "#999", data_dir=data_dir)
    assert code == 2


def test_refresh_after_ingest_and_status_info(data_dir: Path) -> None:
    ctx = open_context(data_dir=str(data_dir))
    try:
        ctx.store.papers.upsert_papers(
            [Paper(title="Okapi weighting revisited", abstract="BM25 again.", source="t")]
        )
        index = refresh_index_after_ingest(ctx.settings, ctx.store)
        assert index.lexical.n_alive == 7
        info = cli_search.status_info(ctx)
        assert info["index_papers"] == 7 and "index_vectors" in info
    finally:
        ctx.close()
    code, out, _ = _run("search", "okapi", "--json", data_dir=data_dir)
    assert code == 0 and json.loads(out)["total"] >= 1
    code, out, _ = _run("index", "refresh", data_dir=data_dir)
    assert code == 0 and "7 papers" in out
