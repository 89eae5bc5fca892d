"""CLI commands for subscriptions and digests (issue #5): `digest send|preview|log`, `subscribe
...`, `worker`."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from paperfeed.core.models import User
from paperfeed.core.rules import DIGEST_SECTIONS, FREQUENCIES
from paperfeed.delivery.app import subscriptions
from paperfeed.delivery.cli.common import EXIT_NOTHING, AppContext, echo_json, fail, with_context
from paperfeed.delivery.common.progress import StageProgress, on_terminal
from paperfeed.delivery.jobs.digests import open_index, preview, run_digests
from paperfeed.store.digests import STATUSES


def _now(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _user(ctx: AppContext, name: str) -> User:
    user = ctx.store.users.get_user_by_name(name)
    if user is None:
        fail(f"no user {name!r}")
    return user


_NOW = click.option(
    "--now",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]),
    default=None,
    help="Pretend it is this UTC time (testing, catching up).",
)


@click.group("digest")
def digest_group() -> None:
    """Compose and send digests, preview one, read the delivery log."""


@digest_group.command("send")
@_NOW
@click.option("--user", "usernames", multiple=True, help="Only this user (repeatable).")
@click.option("--compose-only", is_flag=True, help="Compose due digests but send nothing.")
@click.option("--json", "as_json", is_flag=True)
@with_context
def digest_send(
    ctx: AppContext,
    now: datetime | None,
    usernames: tuple[str, ...],
    compose_only: bool,
    as_json: bool,
) -> None:
    """Compose the digests that are due and send every ready one (run it from cron; safe to
    overlap)."""
    ids = [_user(ctx, n).id for n in usernames] or None
    progress = StageProgress(unit=" digests") if on_terminal() else None
    try:
        report = run_digests(ctx.settings, ctx.store, now=_now(now), user_ids=ids,
                             index=open_index(ctx.settings, ctx.store), send=not compose_only,
                             progress=progress)
    finally:
        if progress:
            progress.close()
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(report.summary)
        for err in report.errors[:20]:
            click.echo(f"  {err}", err=True)
    if report.failed:
        sys.exit(EXIT_NOTHING)


@digest_group.command("preview")
@click.argument("username")
@_NOW
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "eml", "json"]),
    default="text",
    show_default=True,
)
@with_context
def digest_preview(ctx: AppContext, username: str, now: datetime | None, fmt: str) -> None:
    """Show USER's digest as it would be composed now (nothing is recorded or sent)."""
    import email
    import email.policy

    user = _user(ctx, username)
    picks, out = preview(
        ctx.settings, ctx.store, user, _now(now), open_index(ctx.settings, ctx.store)
    )
    if out is None:
        click.echo("nothing new for this user: no digest would be sent", err=True)
        sys.exit(EXIT_NOTHING)
    if fmt == "json":
        echo_json([p.as_dict() for p in picks])
        return
    if fmt == "eml":
        click.echo(out.data.decode("utf-8", "replace").replace("\r\n", "\n"))
        return
    msg = email.message_from_bytes(out.data, policy=email.policy.default)
    body = msg.get_body(("plain",) if fmt == "text" else ("html",))
    click.echo(f"Subject: {msg['Subject']}\n")
    click.echo(body.get_content() if body is not None else "")


@digest_group.command("log")
@click.option(
    "--status", type=click.Choice(STATUSES), default=None, help="Only rows in this state."
)
@click.option("--user", "username", default=None)
@click.option("-n", "--limit", type=click.IntRange(1, 100000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_context
def digest_log(
    ctx: AppContext, status: str | None, username: str | None, limit: int, as_json: bool
) -> None:
    """The delivery log, newest first: who got which period's digest, and every failure."""
    uid = _user(ctx, username).id if username else None
    rows = ctx.store.deliveries.delivery_log(status=status, user_id=uid, limit=limit)
    if as_json:
        echo_json(
            {
                "counts": ctx.store.deliveries.delivery_counts(),
                "deliveries": [r.as_dict() for r in rows],
            }
        )
        return
    counts = ctx.store.deliveries.delivery_counts()
    click.echo("totals: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
    for r in rows:
        when = (r.sent_at or r.created_at).strftime("%Y-%m-%d %H:%M")
        tail = f"  {r.last_error}" if r.last_error and r.status != "sent" else ""
        click.echo(f"{when}  {r.username:<16} {r.period:<14} {r.status:<11} {r.n_papers:>3} papers"
                   f"  attempts {r.attempts}{tail}")
    if not rows:
        sys.exit(EXIT_NOTHING)


def _show(ctx: AppContext, user: User, as_json: bool) -> None:
    sub = ctx.store.subscriptions.get_subscription(user.id)
    searches = ctx.store.subscriptions.saved_searches(user.id)
    cats = ctx.store.subscriptions.followed(user.id, "category")
    authors = ctx.store.subscriptions.followed(user.id, "author")
    if as_json:
        echo_json(
            {
                "subscription": sub.__dict__ if sub else None,
                "searches": [s.__dict__ for s in searches],
                "categories": cats,
                "authors": authors,
            }
        )
        return
    if sub is None:
        click.echo(f"{user.username}: not subscribed")
    else:
        state = "on" if sub.active else "off"
        when = f"{sub.send_hour:02d}:00 {sub.timezone}" + (
            f", weekday {sub.weekday}" if sub.frequency == "weekly" else ""
        )
        click.echo(
            f"{user.username}: {sub.frequency} digest {state}, {when}, up to {sub.max_papers} "
            "papers, "
            f"sections: {', '.join(sub.sections) or 'none'}"
        )
    for s in searches:
        extra = "".join(
            f" {k}:{v}" for k, v in (("category", s.category), ("author", s.author)) if v
        )
        click.echo(f"  search #{s.id} {s.name!r}: {s.query}{extra}")
    for c in cats:
        click.echo(f"  category {c}")
    for a in authors:
        click.echo(f"  author {a}")


@click.group("subscribe")
def subscribe_group() -> None:
    """Manage a user's digest subscription: settings, saved searches, categories, authors."""


@subscribe_group.command("show")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True)
@with_context
def subscribe_show(ctx: AppContext, username: str, as_json: bool) -> None:
    """Show USER's subscription, saved searches and follows."""
    _show(ctx, _user(ctx, username), as_json)


@subscribe_group.command("set")
@click.argument("username")
@click.option("--frequency", type=click.Choice(FREQUENCIES), default=None)
@click.option(
    "--hour", "send_hour", type=click.IntRange(0, 23), default=None, help="Local hour to send at."
)
@click.option(
    "--weekday", type=click.IntRange(0, 6), default=None, help="Weekly digests: 0 = Monday."
)
@click.option("--tz", "timezone", default=None, help="IANA time zone, e.g. Europe/Berlin.")
@click.option(
    "--max", "max_papers", type=click.IntRange(1, 200), default=None, help="Most papers per digest."
)
@click.option(
    "--sections",
    default=None,
    help=f"Comma-separated sections to include: {', '.join(DIGEST_SECTIONS)}.",
)
@click.option("--on/--off", "active", default=None, help="Turn the digest on or off.")
@with_context
def subscribe_set(
    ctx: AppContext,
    username: str,
    frequency: str | None,
    send_hour: int | None,
    weekday: int | None,
    timezone: str | None,
    max_papers: int | None,
    sections: str | None,
    active: bool | None,
) -> None:
    """Create or change USER's subscription (a new one starts as a daily digest at 07:00 UTC)."""
    user = _user(ctx, username)
    secs = (
        tuple(s.strip() for s in sections.split(",") if s.strip()) if sections is not None else None
    )
    subscriptions.save_subscription(
        ctx.store,
        user.id,
        frequency=frequency,
        send_hour=send_hour,
        weekday=weekday,
        timezone=timezone,
        max_papers=max_papers,
        sections=secs,
        active=active,
    )
    _show(ctx, user, False)


@subscribe_group.command("search")
@click.argument("username")
@click.argument("query", nargs=-1)
@click.option("--name", default="", help="A name shown in the digest (default: the query).")
@click.option("--category", default=None)
@click.option("--author", default=None)
@with_context
def subscribe_search(
    ctx: AppContext,
    username: str,
    query: tuple[str, ...],
    name: str,
    category: str | None,
    author: str | None,
) -> None:
    """Save a search (search syntax, e.g. '"diffusion model" -video cat:cs.CV') for USER's
    digest."""
    user = _user(ctx, username)
    s = subscriptions.save_search(ctx.store, user.id, " ".join(query), name, category, author)
    click.echo(f"saved search #{s.id} {s.name!r}")


@subscribe_group.command("follow")
@click.argument("username")
@click.argument("kind", type=click.Choice(["category", "author"]))
@click.argument("value")
@with_context
def subscribe_follow(ctx: AppContext, username: str, kind: str, value: str) -> None:
    """Follow a category (cs.CL, or an archive such as cs) or an author for USER's digest."""
    user = _user(ctx, username)
    added = subscriptions.follow(ctx.store, user.id, kind, value)
    click.echo(f"{'following' if added else 'already following'} {kind} {value}")


@subscribe_group.command("remove")
@click.argument("username")
@click.option("--search", "search_id", type=int, default=None, help="Saved search id to delete.")
@click.option("--category", default=None)
@click.option("--author", default=None)
@with_context
def subscribe_remove(ctx: AppContext, username: str, search_id: int | None, category: str | None,
                     author: str | None) -> None:
    """Delete a saved search or stop following a category or author."""
    user = _user(ctx, username)
    if search_id is None and category is None and author is None:
        fail("give --search ID, --category CODE or --author NAME")
    if search_id is not None:
        ctx.store.subscriptions.delete_saved_search(user.id, search_id)
    for kind, value in (("category", category), ("author", author)):
        if value is not None and not ctx.store.subscriptions.unfollow(user.id, kind, value):
            fail(f"{username} does not follow {kind} {value!r}", EXIT_NOTHING)
    _show(ctx, user, False)


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@with_context
def worker_cmd(ctx: AppContext, once: bool) -> None:
    """Harvest followed sources and worker_sources on schedule, embed new papers, send digests when
    due; until SIGTERM."""
    from paperfeed.delivery.jobs.worker import WorkerReport, run_worker

    def show(report: WorkerReport) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        if report.ingested:
            click.echo(f"{stamp} ingest: {report.ingested}", err=True)
        for line in report.sources:
            click.echo(f"{stamp} source {line}", err=True)
        if report.submissions:
            sub = ", ".join(f"{n} {k}" for k, n in report.submissions.items())
            click.echo(f"{stamp} submissions: {sub}", err=True)
        if report.embedded:
            click.echo(f"{stamp} index: {report.embedded} papers embedded", err=True)
        if report.topics:
            click.echo(f"{stamp} topics: {report.topics}", err=True)
        for err in report.errors:
            click.echo(f"{stamp} error: {err}", err=True)
        d = report.digests
        if d.composed or d.sent or d.failed or d.retry or d.empty:
            click.echo(f"{stamp} digests: {d.summary}", err=True)

    run_worker(ctx.settings, ctx.store, once=once, on_cycle=show)


COMMANDS: list[click.Command] = [digest_group, subscribe_group, worker_cmd]
