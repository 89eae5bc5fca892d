"""CLI commands for big collections: `load-snapshot` (resumable bulk load) and `index embed`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paperfeed.delivery.app.indexing import stderr_index_progress
from paperfeed.delivery.cli.common import EXIT_NOTHING, echo_json, fail, with_context
from paperfeed.delivery.common.context import AppContext


@click.command("load-snapshot")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--batch-size", type=click.IntRange(1), default=None,
              help="Papers per transaction and checkpoint (default: ingest_batch_size).")
@click.option(
    "--restart", is_flag=True, help="Ignore the checkpoint and read the file from the start."
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar (default: when stderr is a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@with_context
def load_snapshot_cmd(ctx: AppContext, path: Path, batch_size: int | None, restart: bool,
                      progress: bool | None, as_json: bool) -> None:
    """Load the arXiv metadata snapshot (Kaggle JSON Lines, gzip or not); rerun to resume after a
    crash."""
    from paperfeed.delivery.app.bulk_load import load_snapshot

    report = load_snapshot(ctx.store, ctx.settings, path, batch_size=batch_size, restart=restart,
                           progress=progress)
    for error in report.errors[:20]:
        click.echo(f"rejected: {error}", err=True)
    if as_json:
        echo_json(
            {
                "path": report.path,
                "lines": report.lines,
                "done": report.done,
                "resumed_from_line": report.resumed_from_line,
                "seconds": round(report.seconds, 3),
                "new": report.counts.new,
                "updated": report.counts.updated,
                "unchanged": report.counts.unchanged,
                "rejected": report.counts.rejected,
            }
        )
    elif report.done and report.resumed_from_line == report.lines:
        click.echo(f"already loaded ({report.lines:,} lines); --restart reads it again")
    else:
        click.echo(report.summary)
        click.echo("next: `paperfeed index build` makes the papers searchable")
    if report.done and report.resumed_from_line == report.lines:
        sys.exit(EXIT_NOTHING)


@click.command("embed")
@click.option(
    "--cluster",
    "address",
    default=None,
    metavar="HOST:PORT",
    help="A Ray cluster's head address (ray start --head); omit to embed on this machine.",
)
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True,
              help="Ray actors, each running the model (with --cluster).")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True,
              help="CPUs (ONNX Runtime threads) per worker (with --cluster).")
@click.option("--batch", type=click.IntRange(1), default=256, show_default=True,
              help="Papers per task (with --cluster).")
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Embed at most this many papers."
)
@with_context
def embed_cmd(ctx: AppContext, address: str | None, workers: int, threads: int, batch: int,
              limit: int | None) -> None:
    """Embed indexed papers that have no vector yet (resumable), here or on a Ray cluster."""
    from paperfeed.index import open_search_index

    index = open_search_index(ctx.settings, ctx.store)
    index.refresh()
    progress = stderr_index_progress()
    if address is None:
        if not index.semantic_available():
            fail("semantic extra not installed: pip install 'paperfeed[semantic]'")
        done = index.embed(progress, limit=limit)
        if progress:
            progress.close()
        click.echo(f"vectors: {done:,} papers embedded, {index.semantic.count():,} in all")
        if not done:
            sys.exit(EXIT_NOTHING)
        return
    from paperfeed.index.distributed import embed_on_cluster

    s = ctx.settings
    device = "cpu" if s.embed_device == "auto" else s.embed_device
    report = embed_on_cluster(index, address, workers=workers, precision=s.embed_precision,
                              max_length=s.embed_max_length, device=device,
                              threads_per_worker=threads, batch=batch, limit=limit,
                              progress=progress)
    if progress:
        progress.close()
    click.echo(f"vectors: {report.written:,} papers embedded on {workers} workers in "
               f"{report.seconds:.1f}s ({report.papers_per_second:,.1f}/s); "
               f"{report.redone} batches redone after a worker was lost")
    if not report.papers:
        sys.exit(EXIT_NOTHING)


COMMANDS: list[click.Command] = [load_snapshot_cmd]
INDEX_COMMANDS: list[click.Command] = [embed_cmd]
