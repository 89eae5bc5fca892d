"""The `paperfeed` command: thin click commands over the jobs and the store."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import UTC, date, datetime

import click

from paperfeed import __version__
from paperfeed.core.errors import PaperfeedError
from paperfeed.core.settings import SETTINGS
from paperfeed.delivery.app.indexing import refresh_index_after_ingest
from paperfeed.delivery.app.ingest import ingest_targets, is_sample, stderr_progress
from paperfeed.delivery.app.listing import DAYS_LOOKED_AT, listing_span, most_upvoted, trending
from paperfeed.delivery.app.papers import find_paper, links, paper_data, upvote_count
from paperfeed.delivery.cli import (
    digest as cli_digest,
    ops as cli_ops,
    scale as cli_scale,
    search as cli_search,
    serve as cli_web,
    sources as cli_sources,
    topics as cli_topics,
)
from paperfeed.delivery.cli.common import (
    EXIT_ALL_REJECTED,
    EXIT_FAILING,
    EXIT_NOTHING,
    EXIT_STALE,
    AppContext,
    echo_json,
    fail,
    with_context,
)
from paperfeed.ranking.days import staleness_notice
from paperfeed.ranking.trending import total_upvotes
from paperfeed.sources import FORMATS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paperfeed")
def cli() -> None:
    """paperfeed: a self-hosted research-paper discovery hub."""
    cli_ops.setup_logging()


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(FORMATS)),
    default=None,
    help="Force the input format.",
)
@click.option("--strict", is_flag=True, help="Abort before writing anything if any record is bad.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--index/--no-index", default=True, show_default=True,
              help="Make the new papers searchable right after the ingest.")
@with_context
def ingest(ctx: AppContext, targets: tuple[str, ...], fmt: str | None, strict: bool, as_json: bool,
           index: bool) -> None:
    """Ingest papers from files (JSONL, CSV, HF JSON, listing pages, Atom, OAI-PMH) or URLs."""
    progress = stderr_progress()
    report = ingest_targets(
        ctx.store, ctx.settings, list(targets), fmt=fmt, strict=strict, progress=progress
    )
    if progress:
        progress.close()
    for error in report.errors[:50]:
        click.echo(f"rejected: {error}", err=True)
    if len(report.errors) > 50:
        click.echo(f"... and {report.counts.rejected - 50} more rejected records", err=True)
    if as_json:
        echo_json({**asdict(report.counts), "seconds": round(report.seconds, 3)})
    else:
        click.echo(report.summary)
    c = report.counts
    if c.rejected and c.new + c.updated + c.unchanged == 0:
        sys.exit(EXIT_ALL_REJECTED)
    if c.changed == 0:
        sys.exit(EXIT_NOTHING)
    if index:
        try:
            refresh_index_after_ingest(
                ctx.settings, ctx.store, sample=any(is_sample(t) for t in targets)
            )
        except PaperfeedError as exc:  # the papers are stored; only searchability waits
            click.echo(
                f"warning: search index not refreshed ({exc}); run `paperfeed index build`",
                err=True,
            )


@cli.group()
def papers() -> None:
    """List and show stored papers."""


@papers.command("list")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First day (YYYY-MM-DD)."
)
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day (YYYY-MM-DD)."
)
@click.option("--category", default=None, help="arXiv category, e.g. cs.CL.")
@click.option("--sort", type=click.Choice(["recent", "upvotes"]), default="recent")
@click.option("-n", "--limit", type=click.IntRange(1, 10000), default=20)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True)
@with_context
def papers_list(ctx: AppContext, since: date | None, until: date | None, category: str | None,
                sort: str, limit: int, offset: int, as_json: bool) -> None:
    """List papers, newest day first."""
    found = ctx.store.papers.list_papers(
        since=since.date() if since else None,  # type: ignore[attr-defined]
        until=until.date() if until else None,  # type: ignore[attr-defined]
        category=category, limit=limit, offset=offset, order=sort,
    )
    if as_json:
        echo_json([paper_data(p, full=False) for p in found])
    else:
        for p in found:
            ident = p.arxiv_id or f"#{p.id}"
            click.echo(f"{p.day}  {ident:<12} {p.title}")
    if not found:
        sys.exit(EXIT_NOTHING)


@papers.command("daily")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The day (default: today, else the latest day that has papers).")
@click.option("-n", "--limit", type=click.IntRange(1, 10000), default=20)
@click.option("--json", "as_json", is_flag=True)
@with_context
def papers_daily(ctx: AppContext, day: datetime | None, limit: int, as_json: bool) -> None:
    """A day's papers, most upvoted first; the latest day with papers when today has none (said
    so)."""
    span = listing_span(day.date() if day else None, "day", datetime.now(UTC).date(),
                        ctx.store.papers.paper_days(limit=DAYS_LOOKED_AT))
    chosen = most_upvoted(ctx.store, span)[:limit] if span else []
    found = ctx.store.papers.get_papers([v.paper_id for v in chosen])
    shown = [(found[v.paper_id], total_upvotes(v)) for v in chosen if v.paper_id in found]
    if as_json:
        echo_json(
            {
                "day": span.until.isoformat() if span else None,
                "notice": span.notice if span else None,
                "papers": [paper_data(p, n, full=False) for p, n in shown],
            }
        )
    else:
        if span and span.notice:
            click.echo(span.notice, err=True)
        for p, n in shown:
            click.echo(f"{n:>5}  {p.arxiv_id or f'#{p.id}':<12} {p.title}")
    if not shown:
        sys.exit(EXIT_NOTHING)


@papers.command("trending")
@click.option("--category", default=None, help="arXiv category, e.g. cs.CL.")
@click.option("-n", "--limit", type=click.IntRange(1, 1000), default=20)
@click.option("--json", "as_json", is_flag=True)
@with_context
def papers_trending(ctx: AppContext, category: str | None, limit: int, as_json: bool) -> None:
    """The trending papers, best first: the formula /about shows, over the trending window."""
    days = ctx.store.papers.paper_days(limit=1)
    ranked = trending(
        ctx.store, ctx.settings, datetime.now(UTC), days[0] if days else None, category, limit
    )
    found = ctx.store.papers.get_papers([r.paper_id for r in ranked])
    shown = [(found[r.paper_id], r) for r in ranked if r.paper_id in found]
    notice = staleness_notice(datetime.now(UTC).date(), days[0] if days else None)
    if as_json:
        echo_json(
            {
                "notice": notice,
                "papers": [
                    {**paper_data(p, r.upvotes, full=False), "score": round(r.score, 6)}
                    for p, r in shown
                ],
            }
        )
    else:
        if notice:
            click.echo(notice, err=True)
        for p, r in shown:
            click.echo(f"{r.upvotes:>5}  {p.arxiv_id or f'#{p.id}':<12} {p.title}")
    if not shown:
        sys.exit(EXIT_NOTHING)


@papers.command("show")
@click.argument("paper")
@click.option("--json", "as_json", is_flag=True)
@with_context
def papers_show(ctx: AppContext, paper: str, as_json: bool) -> None:
    """Show one paper by arXiv id, arXiv URL or internal #id."""
    try:
        found = find_paper(ctx.store, paper)
    except PaperfeedError as exc:
        fail(exc.message)
    d = paper_data(found, upvote_count(ctx.store, found))
    if as_json:
        echo_json(d)
        return
    click.echo(found.title)
    click.echo(", ".join(found.authors))
    shown = {
        **d,
        "categories": list(found.categories),
        **{f"{k}_url": v for k, v in links(found).items()},
    }
    for key in (
        "arxiv_id",
        "version",
        "categories",
        "day",
        "upvotes",
        "arxiv_url",
        "pdf_url",
        "code_url",
        "comment",
        "sources",
        "versions",
        "doi",
        "journal_ref",
        "license",
        "withdrawn",
    ):
        value = shown.get(key)
        if value is not False and value not in (None, [], ""):  # `withdrawn` only when it is
            click.echo(f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    click.echo("")
    click.echo(click.wrap_text(found.abstract, 88))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--check",
    is_flag=True,
    help="Exit 4 when a followed source is stale (no success within sources_stale_hours), 6 when "
         "one's "
    "last harvest failed (even one that never succeeded): for cron or monitoring.",
)
@with_context
def status(ctx: AppContext, as_json: bool, check: bool) -> None:
    """Papers stored, followed sources' health, the last successful ingest and the recent runs."""
    from paperfeed.delivery.app.sources import status_report

    last = ctx.store.runs.last_successful_run()
    runs = ctx.store.runs.recent_runs(10)
    health = status_report(ctx.store, ctx.settings)
    info = {
        "database": ctx.store.backend,
        "schema": ctx.store.current_revision(),
        "papers": ctx.store.papers.count_papers(),
        "last_successful_ingest": last.finished_at.isoformat()
        if last and last.finished_at
        else None,
        "recent_runs": [r.as_dict() for r in runs],
        **cli_search.status_info(ctx),
        "sources_ok": health["ok"],
        "sources": health["sources"],
    }
    stale = [s["name"] for s in health["sources"] if s["stale"]]
    failing = [s["name"] for s in health["sources"] if s["failing"] and s["enabled"]]
    if as_json:
        echo_json(info)
        if check and (stale or failing):
            click.echo("; ".join(f"{what}: {', '.join(names)}" for what, names in
                                 (("stale", stale), ("failing", failing)) if names), err=True)
            sys.exit(EXIT_STALE if stale else EXIT_FAILING)
        return
    for key, value in info.items():
        if key not in ("recent_runs", "sources"):
            click.echo(f"{key}: {value}")
    for s in health["sources"]:
        state = "STALE" if s["stale"] else ("FAILING" if s["failing"] else "ok")
        click.echo(
            f"  source {s['name']}: {state}, last success {s['last_success_at'] or 'never'}, "
            f"{s['papers_brought']} papers, lag "
            f"{s['lag_days'] if s['lag_days'] is not None else '-'} days"
            + (f", last error: {s['last_error']}" if s["failing"] else "")
        )
    for r in runs:
        when = r.started_at.strftime("%Y-%m-%d %H:%M")
        c = r.counts
        counts = f"{c.new} new, {c.updated} updated, {c.unchanged} unchanged, {c.rejected} rejected"
        tail = f" error: {r.error}" if r.error else ""
        state = "interrupted" if r.status == "running" else r.status
        click.echo(f"  {when} {state:<11} {r.source}  {counts}{tail}")
    if check and failing:
        click.echo(f"failing: {', '.join(failing)}", err=True)
    if check and stale:
        click.echo(f"stale: {', '.join(stale)}", err=True)
        sys.exit(EXIT_STALE)
    if check and failing:
        sys.exit(EXIT_FAILING)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("check")
@with_context
def db_check(ctx: AppContext) -> None:
    """Check the database's integrity; exit 1 if anything is wrong."""
    problems = ctx.store.check()
    for p in problems:
        click.echo(f"problem: {p}")
    if problems:
        sys.exit(EXIT_NOTHING)
    click.echo(
        f"ok: {ctx.store.papers.count_papers()} papers, schema {ctx.store.current_revision()}"
    )


@cli.command("settings")
@click.option("--markdown", is_flag=True, help="Print the table as Markdown (docs/settings.md).")
def settings_cmd(markdown: bool) -> None:
    """List every setting with its environment variable, default and help."""
    if markdown:
        click.echo("# Settings\n")
        click.echo("Set each in the environment, in a TOML file (`<data_dir>/paperfeed.toml` or")
        click.echo(
            "`PAPERFEED_CONFIG_FILE`; keys are the names below), or by a command-line option where"
        )
        click.echo("one exists. Precedence: default < TOML < environment < command line.")
        click.echo("Generated by `paperfeed settings --markdown`.\n")
        click.echo("| name | environment variable | default | help |")
        click.echo("|---|---|---|---|")
        for s in SETTINGS:
            default = repr(s.default) if s.default != "" else "(empty)"
            click.echo(f"| {s.name} | `{s.env_var}` | {default} | {s.help} |")
        return
    for s in SETTINGS:
        click.echo(f"{s.env_var}={s.default!r}\n    {s.help}")


for _module in (cli_search, cli_web, cli_digest, cli_sources, cli_topics, cli_ops, cli_scale):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
for _command in cli_ops.DB_COMMANDS:
    db.add_command(_command)
for _command in cli_scale.INDEX_COMMANDS:
    cli_search.index_group.add_command(_command)


def main() -> None:
    """Entry point of the console script."""
    cli(prog_name="paperfeed")
