"""CLI commands for the web server (issue #4): `paperfeed serve` and `paperfeed submissions`."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
from dataclasses import replace
from pathlib import Path

import click

from paperfeed.core.errors import PaperfeedError
from paperfeed.core.settings import SERVED_URL_FILE, Settings, listen_url
from paperfeed.core.util import atomic_file
from paperfeed.delivery.app.submissions import process_submissions
from paperfeed.delivery.cli.common import (
    AppContext,
    echo_json,
    fail,
    location_options,
    with_context,
)
from paperfeed.delivery.common.context import open_context
from paperfeed.delivery.common.logs import configure_logging
from paperfeed.delivery.web.serving import serve_metrics, use_multiprocess_dir


@click.command()
@click.option(
    "--host", default=None, help="Address to listen on (PAPERFEED_HOST; default 127.0.0.1)."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port (PAPERFEED_PORT; default 8000).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes; the app keeps no state between requests, so any number works.",
)
@click.option(
    "--get",
    "get_path",
    default=None,
    metavar="PATH",
    help="Run one in-process GET request (e.g. /api/v1/trending), print the body and exit.",
)
@location_options
def serve(host: str | None, port: int | None, workers: int, get_path: str | None,
          data_dir: str | None, database_url: str | None) -> None:
    """Serve the web site and API with uvicorn (SQLite or PostgreSQL)."""
    try:
        ctx = open_context(data_dir=data_dir, database_url=database_url)
    except PaperfeedError as exc:
        fail(exc.message)
    configure_logging(ctx.settings)
    from paperfeed.delivery.web.app import create_app

    if get_path is not None:
        _get_once(ctx, get_path)
        return
    bind_host = host or ctx.settings.host
    bind_port = ctx.settings.port if port is None else port
    if ctx.settings.base_url_derived and bind_port:
        ctx.settings = _record_served_url(ctx.settings, listen_url(bind_host, bind_port))
    try:
        app = create_app(ctx)  # fail fast (missing production secret, bad settings) before binding
    except PaperfeedError as exc:
        ctx.close()
        fail(exc.message)
    import uvicorn

    settings = ctx.settings
    banner = (
        f"paperfeed on http://{bind_host}:{bind_port} ({workers} "
        f"worker{'s' if workers > 1 else ''}, "
        f"{ctx.store.backend})"
    )
    if settings.log_format == "json":  # every stderr line stays one JSON object
        logging.getLogger("paperfeed.serve").info(banner)
    else:
        click.echo(banner, err=True)
    # Proxy headers are handled in the app (trusted_proxies), never by uvicorn's default trust of
    # 127.0.0.1.
    if workers == 1:
        listener = serve_metrics(app.state.web, settings, workers)
        uvicorn.run(app, host=bind_host, port=bind_port, proxy_headers=False, log_level="warning",
                    log_config=None, access_log=False)
        if listener is not None:
            listener.shutdown()
        ctx.close()
        return
    ctx.close()
    own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    # before the workers start: they all count into one directory
    metrics_dir = use_multiprocess_dir(workers)
    listener = serve_metrics(None, settings, workers)
    # Worker processes build their own app from the environment: pass the resolved location on.
    os.environ["PAPERFEED_DATA_DIR"] = str(settings.data_path)
    os.environ["PAPERFEED_DATABASE_URL"] = settings.db_url
    os.environ["PAPERFEED_BASE_URL"] = settings.base_url
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "paperfeed.delivery.web.app:app_from_env",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        proxy_headers=False,
        log_level="warning",
        log_config=None,
        access_log=False,
    )
    try:
        Multiprocess(config, sockets=[_tcp_socket(bind_host, bind_port)]).run()
    finally:
        if listener is not None:
            listener.shutdown()
        if own_metrics_dir and metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _tcp_socket(host: str, port: int) -> socket.socket:
    """The shared listening socket for worker processes.

    uvicorn's own (`socket.socket(family)`) has proto 0, so asyncio does not set TCP_NODELAY on the
    connections it accepts and small responses wait ~40 ms for a delayed ACK; naming IPPROTO_TCP
    fixes that (measured: 330 -> 1,000+ req/s on the home page with 2 workers).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")
    sock.set_inheritable(True)
    return sock


def _record_served_url(settings: Settings, url: str) -> Settings:
    """Links follow the address served: this process uses it, and the worker reads it from the
    file."""
    try:
        with atomic_file(settings.data_path / SERVED_URL_FILE) as tmp:
            tmp.write_text(url + "\n", encoding="utf-8")
    except OSError as exc:  # a read-only data directory: this process's links are still right
        click.echo(f"warning: cannot record the served address ({exc})", err=True)
    return replace(settings, base_url=url)


def _get_once(ctx: AppContext, path: str) -> None:
    from starlette.testclient import TestClient

    from paperfeed.delivery.web.app import create_app

    try:
        app = create_app(ctx)
        with TestClient(
            app, base_url=ctx.settings.base_url, raise_server_exceptions=False
        ) as client:
            response = client.get(
                path if path.startswith("/") else "/" + path, follow_redirects=False
            )
    except PaperfeedError as exc:
        fail(exc.message)
    finally:
        ctx.close()
    click.echo(response.text, nl=not response.text.endswith("\n"))
    if response.status_code >= 400:
        click.echo(f"error: HTTP {response.status_code} for {path}", err=True)
        sys.exit(1)


@click.group()
def submissions() -> None:
    """Papers submitted by arXiv id: list them, fetch the queued ones."""


@submissions.command("process")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_context
def submissions_process(ctx: AppContext, limit: int, as_json: bool) -> None:
    """Fetch queued submissions from arXiv (run it from cron or after an outage)."""
    counts = process_submissions(ctx.settings, ctx.store, limit=limit)
    if as_json:
        echo_json(counts)
    else:
        click.echo(
            f"{counts['done']} fetched, {counts['failed']} failed, {counts['queued']} still queued"
        )


@submissions.command("list")
@click.option("--status", type=click.Choice(["queued", "done", "failed"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@with_context
def submissions_list(ctx: AppContext, status: str | None, as_json: bool) -> None:
    """List submissions, oldest first."""
    found = ctx.store.submissions.list_submissions(status=status, limit=1000)
    if as_json:
        echo_json([{**s.__dict__, "created_at": s.created_at.isoformat()} for s in found])
        return
    for s in found:
        tail = f"  {s.error}" if s.error and s.status != "done" else ""
        click.echo(f"{s.created_at:%Y-%m-%d %H:%M}  {s.arxiv_id:<16} {s.status:<7}{tail}")


@click.group()
def users() -> None:
    """Accounts: list them, grant or revoke administrator rights, export, import or delete one."""


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_context
def users_list(ctx: AppContext, as_json: bool) -> None:
    """List accounts, oldest first."""
    found = ctx.store.users.list_users()
    if as_json:
        echo_json(
            [
                {"id": u.id, "username": u.username, "email": u.email, "is_admin": u.is_admin}
                for u in found
            ]
        )
        return
    for u in found:
        click.echo(f"{u.id:>6}  {u.username:<24} {u.email}{'  (admin)' if u.is_admin else ''}")


@users.command("admin")
@click.argument("username")
@click.option("--revoke", is_flag=True, help="Take the rights away instead.")
@with_context
def users_admin(ctx: AppContext, username: str, revoke: bool) -> None:
    """Make USERNAME an administrator (sees /admin/digests), or --revoke it."""
    user = ctx.store.users.set_admin(username, not revoke)
    click.echo(f"{user.username} is {'now' if user.is_admin else 'no longer'} an administrator")


@users.command("verify")
@click.argument("username")
@click.option(
    "--send",
    is_flag=True,
    help="Mail the user a verification link instead of confirming the address.",
)
@with_context
def users_verify(ctx: AppContext, username: str, send: bool) -> None:
    """Confirm USERNAME's email address by hand (an admin vouches for it), or --send them the
    link."""
    from paperfeed.core.errors import NotFound
    from paperfeed.delivery.mail.tokens import email_secret
    from paperfeed.delivery.mail.verify import send_verification
    from paperfeed.store.runs import now_utc

    user = ctx.store.users.get_user_by_name(username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    if send:
        send_verification(ctx.settings, email_secret(ctx.settings), user, now_utc())
        click.echo(f"verification link sent to {user.email}")
        return
    ctx.store.comments.mark_email_verified(user.id, user.email)
    click.echo(f"{user.email} of {user.username} is verified")


@users.command("export")
@click.argument("username")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@with_context
def users_export(ctx: AppContext, username: str, file: str) -> None:
    """Write everything USERNAME has to FILE ('-': stdout) as a paperfeed-profile JSON file."""
    from paperfeed.core.errors import NotFound
    from paperfeed.delivery.app.profile import export_json

    user = ctx.store.users.get_user_by_name(username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    data = export_json(ctx.store, user)
    if file == "-":
        click.echo(data, nl=False)
        return
    try:
        # personal data: only the owner may read it, from the first byte on (mkstemp's 0600 kept)
        with atomic_file(Path(file), file_mode=0o600) as tmp:
            tmp.write_bytes(data.encode("utf-8"))
    except OSError as exc:
        fail(f"cannot write {file}: {exc.strerror}")
    click.echo(f"exported {user.username} to {file}", err=True)


@users.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--as",
    "as_name",
    default=None,
    help="Create (or with --merge, merge into) this account instead of the file's.",
)
@click.option(
    "--merge",
    is_flag=True,
    help="Import into an account that exists here (the file proves nothing: you vouch).",
)
@click.option("--json", "as_json", is_flag=True)
@with_context
def users_import(
    ctx: AppContext, file: str, as_name: str | None, merge: bool, as_json: bool
) -> None:
    """Import a paperfeed-profile FILE ('-': stdin); importing twice changes nothing."""
    from paperfeed.delivery.app.profile import import_profile

    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    report = import_profile(ctx.store, raw, as_name, merge=merge)
    if as_json:
        echo_json(report.as_dict())
        return
    added = (
        ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.added.items()) or "nothing new"
    )
    click.echo(f"{'created' if report.created else 'merged into'} {report.username}: {added}")
    if report.missing:
        click.echo(
            f"{len(report.missing)} papers not on this site (left out): {', '.join(report.missing)}"
        )
    for note in report.skipped:
        click.echo(f"skipped: {note}")


@users.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Really delete (required).")
@with_context
def users_delete(ctx: AppContext, username: str, yes: bool) -> None:
    """Delete USERNAME and everything the account owns (replies by others stay)."""
    from paperfeed.delivery.app.profile import delete_user

    if not yes:
        fail(f"deleting {username} cannot be undone: add --yes")
    user = delete_user(ctx.store, username)
    click.echo(f"deleted {user.username} and everything the account owned")


COMMANDS: list[click.Command] = [serve, submissions, users]
