"""Pieces every CLI command shares: the --data-dir/--database-url options, errors, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from paperfeed.core.errors import PaperfeedError
from paperfeed.delivery.common.context import AppContext, open_context
from paperfeed.delivery.common.logs import configure_logging

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_NOTHING, EXIT_BAD_INPUT = 0, 1, 2
EXIT_ALL_REJECTED = 3  # every record was refused (nothing stored): a broken source, not a quiet day
EXIT_STALE = 4  # `paperfeed status --check`: a followed source is stale
EXIT_SOURCE_FAILED = 5  # `paperfeed sources run`: a source's harvest failed (its cursor stays put)
EXIT_FAILING = 6  # `paperfeed status --check`: a followed source's last harvest failed


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one clear error line to stderr and exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def echo_json(data: object) -> None:
    """Print data as indented JSON."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def location_options(func: F) -> F:
    """Add --data-dir and --database-url (passed as data_dir and database_url)."""
    with_dir = click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Data directory (PAPERFEED_DATA_DIR).",
    )
    with_url = click.option(
        "--database-url", default=None, help="Database URL (PAPERFEED_DATABASE_URL)."
    )
    return with_dir(with_url(func))


def with_context(func: F) -> F:
    """Add --data-dir and --database-url, open the store, pass an AppContext as `ctx`."""

    @location_options
    @functools.wraps(func)
    def wrapper(
        *args: object, data_dir: str | None, database_url: str | None, **kwargs: object
    ) -> object:
        try:
            ctx = open_context(data_dir=data_dir, database_url=database_url)
        except PaperfeedError as exc:
            fail(exc.message)
        configure_logging(ctx.settings)  # the data dir's TOML may set log_format / log_level
        try:
            return func(*args, ctx=ctx, **kwargs)
        except PaperfeedError as exc:
            fail(exc.message)
        finally:
            ctx.close()

    return wrapper  # type: ignore[return-value]


__all__ = [
    "location_options",
    "EXIT_ALL_REJECTED",
    "EXIT_BAD_INPUT",
    "EXIT_NOTHING",
    "EXIT_OK",
    "EXIT_SOURCE_FAILED",
    "EXIT_STALE",
    "AppContext",
    "echo_json",
    "fail",
    "with_context",
]
