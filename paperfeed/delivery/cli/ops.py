"""CLI commands for operators: `backup`, `restore`, `db migrate|downgrade|copy` (thin over
delivery.app.backups)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from paperfeed.core.errors import ConfigError, PaperfeedError
from paperfeed.core.settings import load_settings
from paperfeed.delivery.app import backups
from paperfeed.delivery.cli.common import echo_json, fail, location_options
from paperfeed.delivery.common.context import open_context
from paperfeed.delivery.common.logs import configure_logging


def setup_logging() -> None:
    """Log as the environment's settings say (log_format, log_level); a bad setting is reported
    later."""
    with contextlib.suppress(ConfigError):  # the command opens the settings and names what is wrong
        configure_logging(load_settings())


@click.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--no-index", is_flag=True, help="Leave the search index out (restore rebuilds it).")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@location_options
def backup_cmd(
    dest: Path, no_index: bool, as_json: bool, data_dir: str | None, database_url: str | None
) -> None:
    """Write a consistent backup to the new directory DEST, safe while the site is serving.

    The database is copied as it is: a backup never migrates it first.
    """
    try:
        ctx = open_context(migrate=False, data_dir=data_dir, database_url=database_url)
    except PaperfeedError as exc:
        fail(exc.message)
    try:
        report = backups.create_backup(ctx.settings, ctx.store, dest, include_index=not no_index)
    except PaperfeedError as exc:
        fail(exc.message)
    finally:
        ctx.close()
    if as_json:
        echo_json(
            {**report.manifest, "path": str(report.path), "seconds": round(report.seconds, 3)}
        )
        return
    rows = sum(t["rows"] for t in report.manifest["tables"].values())
    click.echo(
        f"backup written to {report.path} in {report.seconds:.1f}s: {report.manifest['backend']}, "
        f"schema {report.manifest['schema_revision']}, {len(report.manifest['tables'])} tables, "
        f"{rows} rows, index {report.manifest['index']}"
    )


@click.command("restore")
@click.argument("src", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--force", is_flag=True, help="Replace a target database that already holds data.")
@click.option(
    "--rebuild-index",
    is_flag=True,
    help="Rebuild the lexical index instead of restoring the copied one.",
)
@location_options
def restore_cmd(
    src: Path, force: bool, rebuild_index: bool, data_dir: str | None, database_url: str | None
) -> None:
    """Restore the backup SRC into the configured database and data directory (stop the site
    first)."""
    try:
        settings = load_settings({"data_dir": data_dir, "database_url": database_url})
        report = backups.restore_backup(settings, src, force=force, rebuild_index=rebuild_index)
    except PaperfeedError as exc:
        fail(exc.message)
    rows = sum(t.rows for t in report.tables.values())
    click.echo(
        f"restored {len(report.tables)} tables, {rows} rows (checksums match the manifest) in "
        f"{report.seconds:.1f}s; schema {report.schema_from} -> {report.schema_now}; index "
        f"{report.index}"
    )


def _migrate(revision: str, no_backup: bool, backup_dir: Path | None, data_dir: str | None,
             database_url: str | None, downgrade: bool) -> None:
    try:
        ctx = open_context(migrate=False, data_dir=data_dir, database_url=database_url)
    except PaperfeedError as exc:
        fail(exc.message)
    try:
        report = backups.migrate_with_backup(
            ctx.settings,
            ctx.store,
            revision,
            backup=not no_backup,
            backup_dir=backup_dir,
            downgrade=downgrade,
        )
    except PaperfeedError as exc:
        fail(exc.message)
    finally:
        ctx.close()
    if report.backup:
        click.echo(f"backup: {report.backup}")
    if report.before == report.after:
        click.echo(f"schema: {report.after or 'empty'} (already there, nothing to do)")
        return
    click.echo(f"schema: {report.before or 'empty'} -> {report.after}")
    if report.counts_before:
        click.echo(
            f"verified: {len(report.counts_before)} tables keep their "
            f"{sum(report.counts_before.values())} rows"
        )


@click.command("migrate")
@click.option("--revision", default="head", help="Target migration (default: newest).")
@click.option("--no-backup", is_flag=True, help="Skip the safety backup taken before migrating.")
@click.option(
    "--backup-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the safety backup goes (default <data_dir>/backups/pre-migrate-REV-TIME).",
)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.option("--database-url", default=None)
def db_migrate(revision: str, no_backup: bool, backup_dir: Path | None, data_dir: str | None,
               database_url: str | None) -> None:
    """Back up, bring the schema up to date (or to --revision), verify every table's row count."""
    _migrate(revision, no_backup, backup_dir, data_dir, database_url, downgrade=False)


@click.command("downgrade")
@click.argument("revision")
@click.option("--no-backup", is_flag=True, help="Skip the safety backup taken before downgrading.")
@click.option("--backup-dir", type=click.Path(path_type=Path), default=None)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.option("--database-url", default=None)
def db_downgrade(revision: str, no_backup: bool, backup_dir: Path | None, data_dir: str | None,
                 database_url: str | None) -> None:
    """Back up, then step the schema down to REVISION (to run an older paperfeed)."""
    _migrate(revision, no_backup, backup_dir, data_dir, database_url, downgrade=True)


@click.command("copy")
@click.argument("src_url")
@click.argument("dst_url")
@click.option("--force", is_flag=True, help="Replace a destination that already holds data.")
@click.option("--json", "as_json", is_flag=True)
def db_copy(src_url: str, dst_url: str, force: bool, as_json: bool) -> None:
    """Copy every table from SRC_URL to DST_URL (e.g. SQLite -> PostgreSQL) and verify them."""
    try:
        facts, seconds = backups.copy_database(src_url, dst_url, force=force)
    except PaperfeedError as exc:
        fail(exc.message)
    if as_json:
        echo_json(
            {"tables": {k: v.as_dict() for k, v in facts.items()}, "seconds": round(seconds, 3)}
        )
        return
    click.echo(
        f"copied {len(facts)} tables, {sum(f.rows for f in facts.values())} rows in "
        f"{seconds:.1f}s; "
        "counts and checksums match"
    )


COMMANDS: list[click.Command] = [backup_cmd, restore_cmd]
DB_COMMANDS: list[click.Command] = [db_migrate, db_downgrade, db_copy]
