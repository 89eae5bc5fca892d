"""CLI commands for followed sources: `paperfeed sources [add|list|show|remove|run]`."""

from __future__ import annotations

import sys

import click

from paperfeed.core.errors import SourceError
from paperfeed.delivery.app.sources import (
    KIND_HELP,
    OAI_PREFIXES,
    SourceHealth,
    add_source,
    get_source,
    health_of,
    remove_source,
    sources_health,
)
from paperfeed.delivery.cli.common import (
    EXIT_ALL_REJECTED,
    EXIT_NOTHING,
    EXIT_SOURCE_FAILED,
    AppContext,
    echo_json,
    with_context,
)
from paperfeed.delivery.jobs.harvest import run_sources
from paperfeed.sources.arxiv_oai import list_sets
from paperfeed.sources.http import HttpClient
from paperfeed.store.sources import KINDS


def _line(h: SourceHealth) -> str:
    s = h.source
    when = s.last_success_at.strftime("%Y-%m-%d %H:%M") if s.last_success_at else "never"
    lag = f"{h.lag_days}d" if h.lag_days is not None else "-"
    state = "STALE" if h.stale else ("FAILING" if s.failing else "ok")
    return (f"{s.name:<24} {s.kind:<9} {state:<7} last ok {when}  lag {lag:<4} "
            f"{s.papers_brought} papers  newest day {s.newest_day or '-'}")


def _show_list(ctx: AppContext, as_json: bool) -> None:
    health = sources_health(ctx.store, ctx.settings)
    if as_json:
        echo_json([h.as_dict() for h in health])
        return
    if not health:
        click.echo(
            "no followed sources; add one with `paperfeed sources add arxiv --category cs.CL`"
        )
        sys.exit(EXIT_NOTHING)
    for h in health:
        click.echo(_line(h))
        for problem in h.problems:
            click.echo(f"    {problem}")


@click.group("sources", invoke_without_command=True)
@click.pass_context
def sources_group(click_ctx: click.Context) -> None:
    """Followed sources: what the worker harvests by itself, day after day (no subcommand: their
    health)."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(sources_list)


@sources_group.command("add")
@click.argument("kind", type=click.Choice(KINDS))
@click.option(
    "--category", "categories", multiple=True, help="arxiv: an arXiv category (repeat for more)."
)
@click.option(
    "--set", "set_spec", default=None, help="arxiv-oai: an OAI-PMH set, e.g. cs or physics:hep-th."
)
@click.option(
    "--prefix",
    type=click.Choice(OAI_PREFIXES),
    default=None,
    help="arxiv-oai: metadata format, arXivRaw (default: versions with dates and sizes) or arXiv.",
)
@click.option(
    "--no-check",
    is_flag=True,
    help="arxiv-oai: do not ask arXiv (ListSets) whether the set exists.",
)
@click.option(
    "--name", default=None, help="Name of the source (default: from kind and parameters)."
)
@click.option("--json", "as_json", is_flag=True)
@with_context
def sources_add(
    ctx: AppContext,
    kind: str,
    categories: tuple[str, ...],
    set_spec: str | None,
    prefix: str | None,
    no_check: bool,
    name: str | None,
    as_json: bool,
) -> None:
    """Follow a source: arxiv (API, by --category), arxiv-oai (OAI-PMH, by --set) or hf-daily."""

    def known_sets() -> list[str]:
        try:
            with HttpClient(ctx.settings) as http:
                return list_sets(http, ctx.settings.arxiv_oai_url)
        except SourceError as exc:
            raise SourceError(f"could not check the set with arXiv's ListSets ({exc.message}); "
                              "add it with --no-check to skip the check") from None

    checker = None if no_check or kind != "arxiv-oai" or not set_spec else known_sets
    source = add_source(ctx.store, kind, categories, set_spec, name, prefix, checker)
    if as_json:
        echo_json(health_of(source, ctx.settings).as_dict())
    else:
        click.echo(f"following {source.name}: {KIND_HELP[kind]} {source.params or ''}".rstrip())


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_context
def sources_list(ctx: AppContext, as_json: bool) -> None:
    """Every followed source with its health: last success, last error, papers brought, lag."""
    _show_list(ctx, as_json)


@sources_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@with_context
def sources_show(ctx: AppContext, name: str, as_json: bool) -> None:
    """One followed source: parameters, cursor and health."""
    info = health_of(get_source(ctx.store, ctx.settings, name), ctx.settings).as_dict()
    if as_json:
        echo_json(info)
        return
    for key, value in info.items():
        click.echo(f"{key}: {value}")


@sources_group.command("remove")
@click.argument("name")
@with_context
def sources_remove(ctx: AppContext, name: str) -> None:
    """Stop following a source (the papers it brought stay)."""
    remove_source(ctx.store, ctx.settings, name)
    click.echo(f"no longer following {name}")


@sources_group.command("run")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@with_context
def sources_run(ctx: AppContext, names: tuple[str, ...], as_json: bool) -> None:
    """Harvest followed sources now (all, or the NAMEs); exit 1 when nothing new, 3 when all was
    rejected."""
    from paperfeed.delivery.app.indexing import refresh_index_after_ingest

    runs = run_sources(ctx.store, ctx.settings, list(names) or None)
    if as_json:
        echo_json([r.as_dict() for r in runs])
    else:
        for r in runs:
            click.echo(r.summary)
            for err in r.errors[:10]:
                click.echo(f"  rejected: {err}", err=True)
    failed = [r for r in runs if r.error]
    changed = sum(r.counts.changed for r in runs)
    accepted = sum(r.counts.new + r.counts.updated + r.counts.unchanged for r in runs)
    if changed:
        refresh_index_after_ingest(ctx.settings, ctx.store)
    if failed:
        sys.exit(EXIT_SOURCE_FAILED)
    if not accepted and any(r.counts.rejected for r in runs):
        sys.exit(EXIT_ALL_REJECTED)
    if not changed:
        sys.exit(EXIT_NOTHING)


COMMANDS: list[click.Command] = [sources_group]
