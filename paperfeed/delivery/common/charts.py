"""Charts as inline SVG, drawn by matplotlib (Agg/SVG, no pyplot, no JavaScript): one module for
all.

Every chart is an `<svg role="img">` with a `<title>` and an `aria-label` saying what it shows, so
it reads without JavaScript and to screen readers. Without matplotlib (the topics extra) a chart is
a short note naming the extra instead.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib is optional (the topics extra): imported inside the functions
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

EXTRA_NOTE = "Charts need the topics extra: pip install 'paperfeed[topics]'"
_COLOURS = ("#2b6cb0", "#dd6b20", "#2f855a", "#9b2c2c")
_SVG_START = re.compile(r"<svg\b[^>]*>")
_STYLE_ATTR = re.compile(r'\sstyle="([^"]*)"')
# CSS properties matplotlib writes that SVG also takes as presentation attributes.
_PRESENTATION = frozenset({
    "fill", "fill-opacity", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin",
    "stroke-opacity", "stroke-dasharray", "stroke-dashoffset", "stroke-miterlimit", "opacity",
    "font-size", "font-family", "font-weight", "font-style", "text-anchor", "clip-path",
})


def charts_available() -> bool:
    """Whether matplotlib is installed."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _note(text: str) -> str:
    return f'<p class="notice chart-missing">{html.escape(text)}</p>'


def _attributes(match: re.Match[str]) -> str:
    out = []
    for decl in match.group(1).split(";"):
        name, _, value = (part.strip() for part in decl.partition(":"))
        if name == "font":  # "9px 'DejaVu Sans'" (svg.fonttype none): size and family apart
            size, _, family = value.partition(" ")
            out += [f'font-size="{size}"', f'font-family="{family}"']
        elif name in _PRESENTATION and value:
            out.append(f'{name}="{value}"')
    return (" " + " ".join(out)) if out else ""


def presentational(svg: str) -> str:
    """The SVG with `style` attributes turned into presentation attributes and `<style>` dropped.

    The site's Content-Security-Policy (style-src 'self') ignores inline styles; presentation
    attributes are not styles, so the chart looks the same under it.
    """
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.DOTALL)
    return _STYLE_ATTR.sub(_attributes, svg)


def _finish(fig: Figure, title: str, summary: str) -> str:
    """The figure as an inline <svg> with a title and aria-label (deterministic ids)."""
    import matplotlib as mpl

    buf = io.StringIO()
    with mpl.rc_context({"svg.hashsalt": title, "svg.fonttype": "none"}):
        fig.savefig(
            buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight"
        )
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg"):], flags=re.DOTALL)
    text = presentational(text)
    label = html.escape(f"{title}. {summary}", quote=True)
    opening = _SVG_START.search(text)
    assert opening is not None
    tag = opening.group(0)
    new_tag = tag[:-1] + f' role="img" aria-label="{label}" class="chart">'
    # scale with the page (viewBox)
    new_tag = re.sub(r'\s(width|height)="[^"]*"', "", new_tag, count=2)
    return text.replace(tag, new_tag + f"<title>{html.escape(title)}</title>", 1)


def _figure(width: float = 6.4, height: float = 2.4) -> Figure:
    import matplotlib as mpl
    from matplotlib.figure import Figure

    # Labels come from data (category codes, topic names): plain text, never mathtext, so `$\x$`
    # is drawn as written instead of failing the page (#21 F11). Text reads it when created.
    mpl.rcParams["text.parse_math"] = False
    fig = Figure(figsize=(width, height), dpi=72)
    fig.patch.set_alpha(0.0)
    return fig


def _style(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=9)
    ax.grid(axis="y", alpha=0.3)


def line_chart(
    title: str,
    xs: Sequence[date | datetime],
    series: Sequence[tuple[str, Sequence[float]]],
    ylabel: str,
    summary: str,
    step: bool = False,
) -> str:
    """A line (or step) chart of one or more series over dates, as inline SVG."""
    if not charts_available():
        return _note(EXTRA_NOTE)
    if not xs:
        return _note(f"{title}: nothing to chart yet.")
    import matplotlib.dates as mdates

    fig = _figure()
    ax = fig.add_subplot()
    x = mdates.date2num(list(xs))  # type: ignore[no-untyped-call]
    for i, (label, ys) in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        if step:
            ax.step(x, list(ys), where="post", label=label, color=colour, linewidth=1.8)
        else:
            ax.plot(x, list(ys), label=label, color=colour, linewidth=1.8, marker="o", markersize=3)
    if float(x.max() - x.min()) < 0.5:  # one day (or a few hours): give the date axis a range
        ax.set_xlim(float(x.min()) - 1.0, float(x.max()) + 1.0)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    if len(series) > 1:
        ax.legend(fontsize=8, frameon=False)
    _style(ax)
    return _finish(fig, title, summary)


def bar_chart(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]],
              summary: str) -> str:
    """Horizontal bars per label (one bar per series side by side), as inline SVG."""
    if not charts_available():
        return _note(EXTRA_NOTE)
    if not labels:
        return _note(f"{title}: nothing to chart yet.")
    fig = _figure(height=max(1.6, 0.32 * len(labels) * max(1, len(series)) + 0.8))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    ys = list(range(len(labels)))
    for i, (label, values) in enumerate(series):
        ax.barh([y + i * width for y in ys], list(values), height=width, label=label,
                color=_COLOURS[i % len(_COLOURS)])
    ax.set_yticks([y + width * (len(series) - 1) / 2 for y in ys], list(labels))
    ax.invert_yaxis()
    if len(series) > 1:
        ax.legend(fontsize=8, frameon=False)
    _style(ax)
    ax.grid(axis="x", alpha=0.3)
    return _finish(fig, title, summary)


# ----- the charts the pages show ------------------------------------------------------------------


def _readings_word(n: int) -> str:
    return f"{n} reading" + ("" if n == 1 else "s")


def upvotes_summary(
    vote_times: Sequence[datetime],
    readings: Sequence[tuple[datetime, int, int | None]],
    listed: Sequence[date] = (),
) -> str:
    """The words the upvotes chart says (its text alternative, also shown when it is not drawn)."""
    parts = [f"{len(vote_times)} paperfeed upvotes"]
    if readings:
        last_at, last_n, _ = readings[-1]
        when = last_at.date().isoformat()
        parts.append(
            f"{last_n} on Hugging Face, read {when}"
            if len(readings) == 1
            else f"{last_n} on Hugging Face at the last of {_readings_word(len(readings))} ({when})"
        )
    if listed:
        parts.append(f"listed {', '.join(sorted({d.isoformat() for d in listed}))}")
    return "; ".join(parts)


def enough_readings(
    vote_times: Sequence[datetime], readings: Sequence[tuple[datetime, int, int | None]]
) -> bool:
    """Whether there are at least two points in time to draw (Hugging Face readings and paperfeed
    votes)."""
    return len(readings) + len(vote_times) >= 2


def paper_upvotes_chart(vote_times: Sequence[datetime],
                        external: Sequence[tuple[datetime, int, int | None]],
                        listed: Sequence[date] = ()) -> str:
    """Upvotes of one paper over time: paperfeed votes (cumulative) and every Hugging Face reading.

    The date axis spans the paper's listed days (featured, announced, published; dashed lines) and
    every reading; with fewer than two points in time there is nothing to draw, and a note says so.
    """
    if not enough_readings(vote_times, external):
        if not external and not vote_times:
            return _note("No upvotes yet: no reading of Hugging Face and no paperfeed upvote.")
        return _note(
            f"1 reading: {upvotes_summary(vote_times, external, listed)}. A chart needs two."
        )
    if not charts_available():
        return _note(EXTRA_NOTE)
    import matplotlib.dates as mdates

    votes = sorted(vote_times)
    fig = _figure()
    ax = fig.add_subplot()
    ends: list[datetime] = [*votes, *(at for at, _, _ in external)]
    days = sorted(set(listed))
    if votes:
        xs = [*votes, max(ends)]
        ax.step(
            mdates.date2num(xs),  # type: ignore[no-untyped-call]
            [*range(1, len(votes) + 1), len(votes)],
            where="post",
            label="paperfeed upvotes",
            color=_COLOURS[0],
            linewidth=1.8,
        )
    if external:
        ax.step(
            mdates.date2num([at for at, _, _ in external]),  # type: ignore[no-untyped-call]
            [n for _, n, _ in external],
            where="post",
            label="Hugging Face upvotes (each reading)",
            color=_COLOURS[1],
            linewidth=1.8,
            marker="o",
            markersize=3,
        )
    for i, d in enumerate(days):
        ax.axvline(
            float(mdates.date2num(d)),  # type: ignore[no-untyped-call]
            color="#5a5f69",
            linestyle="--",
            linewidth=1,
            label="listed" if i == 0 else None,
        )
    stamps = [float(mdates.date2num(x)) for x in [*ends, *days]]  # type: ignore[no-untyped-call]
    lo, hi = min(stamps), max(stamps)
    pad = max(0.5, (hi - lo) * 0.03)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylabel("upvotes", fontsize=9)
    _date_axis(ax)
    return _finish(fig, "Upvotes over time", upvotes_summary(vote_times, external, listed))


def _date_axis(ax: Axes) -> None:
    """A y axis from 0, concise date ticks, the legend, the house style."""
    import matplotlib.dates as mdates

    ax.set_ylim(bottom=0)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.legend(fontsize=8, frameon=False)
    _style(ax)


def papers_per_day_chart(code: str, counts: Sequence[tuple[date, int]], days: int = 90) -> str:
    """Papers per day in a category over its last `days` days of papers (days without papers: 0)."""
    if not counts:
        return _note(f"No dated papers in {code} yet.")
    last = counts[-1][0]
    first = max(counts[0][0], last - timedelta(days=days - 1))
    by_day = dict(counts)
    xs = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    ys = [float(by_day.get(d, 0)) for d in xs]
    total = int(sum(ys))
    return line_chart(f"Papers per day in {code}", xs, [("papers", ys)], "papers",
                      f"{total} papers from {first} to {last}, at most {int(max(ys))} a day")


def reading_chart(reading: dict[str, tuple[int, int]], limit: int = 12) -> str:
    """A user's upvoted and collected papers by primary category (the most read categories)."""
    rows = sorted(reading.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))[:limit]
    if not rows:
        return _note("Upvote or collect papers to see your reading by category.")
    labels = [code for code, _ in rows]
    up = [float(v[0]) for _, v in rows]
    coll = [float(v[1]) for _, v in rows]
    top = ", ".join(
        f"{c} ({int(u)} upvoted, {int(k)} collected)"
        for c, u, k in zip(labels, up, coll, strict=True)
    )
    return bar_chart("Your reading by category", labels, [("upvoted", up), ("collected", coll)],
                     f"Most read: {top}")


def topic_weeks_chart(name: str, weeks: Sequence[date], counts: Sequence[int]) -> str:
    """Papers per week of one topic (topics files built before the weekly share was kept)."""
    peak = max(counts, default=0)
    return line_chart(
        f"Papers per week: {name}",
        list(weeks),
        [("papers", [float(c) for c in counts])],
        "papers / week",
        f"{sum(counts)} papers over {len(weeks)} weeks; {counts[-1] if counts else 0} in the "
        f"last week, at most {peak} a week",
    )


def topic_share_chart(
    name: str,
    weeks: Sequence[date],
    share: Sequence[float],
    counts: Sequence[int],
    recent_weeks: int,
    measure: str,
    growth: str,
) -> str:
    """A topic's weekly share (percent), the measure its growth figure is of, with the two means it
    compares.

    Growth is log2(mean share of the last `recent_weeks` weeks / mean share of the weeks before):
    both means are drawn as dashed levels over their weeks, so the figure can be read off the chart.
    """
    if not share or len(share) != len(weeks):
        return topic_weeks_chart(name, weeks, counts)
    r = recent_weeks if 0 < recent_weeks < len(share) else 0
    title = f"{measure[0].upper()}{measure[1:]}, week by week: {name}"
    words = [f"{growth} {measure}"]
    if r:
        before, recent = sum(share[:-r]) / (len(share) - r), sum(share[-r:]) / r
        words.append(
            f"from {before:.1f}% (mean of the {len(share) - r} weeks before) to {recent:.1f}% "
            f"(mean of the last {r})"
        )
    words.append(
        f"{counts[-1] if counts else 0} papers in the last week, {sum(counts)} over {len(weeks)} "
        "weeks"
    )
    summary = "; ".join(words)
    if not charts_available():
        return _note(EXTRA_NOTE)
    import matplotlib.dates as mdates

    fig = _figure()
    ax = fig.add_subplot()
    x = mdates.date2num(list(weeks))  # type: ignore[no-untyped-call]
    ax.plot(
        x, list(share), color=_COLOURS[0], linewidth=1.8, marker="o", markersize=3, label=measure
    )
    if r:
        ax.hlines(
            [before],
            float(x[0]),
            float(x[-r - 1]),
            colors="#5a5f69",
            linestyles="--",
            linewidth=1.2,
            label="mean before",
        )
        ax.hlines(
            [recent],
            float(x[-r]),
            float(x[-1]),
            colors=_COLOURS[1],
            linestyles="--",
            linewidth=1.6,
            label=f"mean of the last {r} weeks",
        )
    if float(x.max() - x.min()) < 0.5:
        ax.set_xlim(float(x.min()) - 1.0, float(x.max()) + 1.0)
    ax.set_ylabel("% of the week", fontsize=9)
    _date_axis(ax)
    return _finish(fig, title, summary)
