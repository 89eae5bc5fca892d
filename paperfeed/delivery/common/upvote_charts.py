"""A paper's "Upvotes over time" chart, drawn by the jobs that read upvotes, never by a first view.

Drawing with matplotlib takes 0.25-1.5 s (more with its import in a fresh web worker), so the chart
is a file under `<data_dir>/charts/`, named by the paper and a fingerprint of what it shows
(readings, votes, listed days): a changed reading is a new name, so no stale chart is served. The
ingest and harvest jobs draw the charts of the papers they read (`draw_read_charts`). A page whose
chart is not drawn yet (a vote since the last job, say) shows an `<img>` of the chart's URL instead,
which draws it once; the page itself never waits for matplotlib.
"""

from __future__ import annotations

import hashlib
import html
import logging
from datetime import date, datetime
from pathlib import Path

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.core.util import write_atomic
from paperfeed.delivery.common import charts
from paperfeed.store import Store

log = logging.getLogger("paperfeed.charts")
FOLDER = "charts"


def listed_days(paper: Paper | None) -> list[date]:
    """The days the paper is listed under (featured on Hugging Face, announced, published)."""
    if paper is None:
        return []
    return sorted(
        {d for d in (paper.featured_on, paper.announced_on, paper.published) if d is not None}
    )


class _Data:
    """What one paper's chart shows, and the file it is drawn to."""

    def __init__(
        self, store: Store, settings: Settings, paper_id: int, paper: Paper | None = None
    ) -> None:
        self.paper_id = paper_id
        self.votes: list[datetime] = store.votes.vote_times(paper_id)
        self.readings = store.sources.upvote_history(paper_id)
        self.listed = listed_days(paper if paper is not None else store.papers.get_paper(paper_id))
        stamp = repr(
            (
                [v.isoformat() for v in self.votes],
                [(a.isoformat(), n) for a, n, _ in self.readings],
                [d.isoformat() for d in self.listed],
            )
        )
        self.fingerprint = hashlib.sha256(stamp.encode()).hexdigest()[:16]
        self.folder = settings.data_path / FOLDER
        self.path = self.folder / f"paper-{paper_id}-{self.fingerprint}.svg"

    @property
    def drawable(self) -> bool:
        return charts.enough_readings(self.votes, self.readings) and charts.charts_available()

    def draw(self) -> str:
        svg = charts.paper_upvotes_chart(self.votes, self.readings, self.listed)
        if svg.startswith("<svg"):
            write_atomic(self.path, svg.encode("utf-8"))
            for old in self.folder.glob(f"paper-{self.paper_id}-*.svg"):
                if old != self.path:
                    old.unlink(missing_ok=True)
        return svg


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return None


def chart_html(store: Store, settings: Settings, paper_id: int, paper: Paper | None = None) -> str:
    """The chart for a page: the drawn file inline, a note when there is nothing to draw, else an
    <img>."""
    data = _Data(store, settings, paper_id, paper)
    if not data.drawable:
        return charts.paper_upvotes_chart(
            data.votes, data.readings, data.listed
        )  # a note: no matplotlib
    drawn = _read(data.path)
    if drawn is not None:
        return drawn
    alt = html.escape(
        f"Upvotes over time. {charts.upvotes_summary(data.votes, data.readings, data.listed)}"
    )
    return (
        f'<img class="chart" src="/charts/papers/{paper_id}/upvotes.svg?v={data.fingerprint}" '
        f'alt="{alt}" width="640" height="240">'
    )


def chart_svg(store: Store, settings: Settings, paper_id: int) -> str:
    """The chart as SVG (drawn now and saved when it is not drawn yet), or a note when there is
    nothing to draw."""
    data = _Data(store, settings, paper_id)
    if not data.drawable:
        return charts.paper_upvotes_chart(data.votes, data.readings, data.listed)
    return _read(data.path) or data.draw()


def draw_read_charts(store: Store, settings: Settings, since: datetime) -> int:
    """Draw the chart of every paper read since `since` that has two readings or more; how many were
    drawn."""
    if not charts.charts_available():
        return 0
    drawn = 0
    for paper_id in store.sources.papers_read_since(since):
        data = _Data(store, settings, paper_id)
        if data.drawable and not data.path.exists():
            data.draw()
            drawn += 1
    if drawn:
        log.info("drew %d upvote charts", drawn)
    return drawn
