"""CLI commands for emerging topics: `paperfeed topics [list|build|show]`."""

from __future__ import annotations

import click

from paperfeed.core.errors import NotFound
from paperfeed.delivery.app.topics import TopicsFile, build_topics, load_topics
from paperfeed.delivery.cli.common import AppContext, echo_json, fail, with_context
from paperfeed.delivery.common.build_status import BuildProgress
from paperfeed.ranking.topics import growth_label


def _summary(tf: TopicsFile) -> str:
    return (
        f"{len(tf.topics)} topics over {tf.papers} papers, {tf.since} .. {tf.until}; "
        f"{tf.vectors_note}; "
        f"built {tf.built_at:%Y-%m-%d %H:%M} UTC in {tf.seconds:.1f}s"
    )


def _show(tf: TopicsFile, limit: int, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "built_at": tf.built_at,
                "vectors": tf.vectors,
                "since": tf.since,
                "until": tf.until,
                "topics": [
                    {k: v for k, v in t.as_dict().items() if k != "paper_ids"}
                    for t in tf.topics[:limit]
                ],
            }
        )
        return
    click.echo(_summary(tf))
    click.echo(f"{'id':>3}  {'growth':>7}  {'papers':>6}  name")
    for t in tf.topics[:limit]:
        click.echo(f"{t.id:>3}  {growth_label(t.growth):>7}  {t.papers:>6}  {t.name}")


@click.group("topics", invoke_without_command=True)
@click.pass_context
def topics_group(click_ctx: click.Context) -> None:
    """Emerging topics: clusters of the last weeks' papers, fastest growing first."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(topics_list)


@topics_group.command("list")
@click.option("--limit", type=int, default=30, show_default=True, help="Topics shown.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@with_context
def topics_list(ctx: AppContext, limit: int = 30, as_json: bool = False) -> None:
    """List the topics of topics.json: id, growth, papers, name."""
    tf = load_topics(ctx.settings)
    if tf is None:
        fail("no topics yet: run `paperfeed topics build` (the worker builds them daily)")
    _show(tf, limit, as_json)


@topics_group.command("build")
@click.option("--limit", type=int, default=30, show_default=True, help="Topics shown afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@with_context
def topics_build(ctx: AppContext, limit: int, as_json: bool) -> None:
    """Cluster the last `topics_weeks` weeks of papers and save topics.json (needs the topics
    extra)."""
    # bars on stderr, build-status.json for /topics
    progress = BuildProgress(ctx.settings, "topics build", unit=" steps")
    try:
        tf = build_topics(ctx.settings, ctx.store, progress=progress)
    finally:
        progress.close()
    _show(tf, limit, as_json)


@topics_group.command("show")
@click.argument("topic_id", type=int)
@click.option("--limit", type=int, default=20, show_default=True, help="Papers shown.")
@with_context
def topics_show(ctx: AppContext, topic_id: int, limit: int) -> None:
    """One topic: its terms, papers per week and best papers."""
    tf = load_topics(ctx.settings)
    topic = tf.topic(topic_id) if tf else None
    if topic is None:
        raise NotFound(f"no topic {topic_id} (see `paperfeed topics`)")
    click.echo(
        f"{topic.name}  growth {growth_label(topic.growth)}  {topic.papers} papers, {topic.votes} "
        "votes"
    )
    click.echo(f"terms: {', '.join(topic.terms)}")
    click.echo(
        "papers per week: "
        + "  ".join(f"{w:%m-%d}:{n}" for w, n in zip(topic.weeks, topic.weekly_papers, strict=True))
    )
    papers = ctx.store.papers.get_papers(list(topic.paper_ids[:limit]))
    for pid in topic.paper_ids[:limit]:
        if pid in papers:
            p = papers[pid]
            click.echo(f"  {p.arxiv_id or pid:<12} {p.day or '-'}  {p.title[:90]}")


COMMANDS: list[click.Command] = [topics_group]
