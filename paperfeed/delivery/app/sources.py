"""Followed sources, the use cases: add, list, show, remove, declare in settings, and health.

The CLI (`paperfeed sources ...`, `paperfeed status --check`), the admin page, /api/v1/sources,
/status and the worker all call these functions; none of them holds a rule of its own.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from paperfeed.core.errors import BadRequest, ConfigError, NotFound
from paperfeed.core.settings import Settings
from paperfeed.store import Store
from paperfeed.store.runs import now_utc
from paperfeed.store.sources import KINDS, FollowedSource

_CATEGORY = re.compile(r"^[a-z\-]+(?:\.[A-Za-z\-]+)?$")
_SET = re.compile(r"^[a-z\-]+(?::[a-z\-]+)*(?::[A-Za-z\-]+)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
KIND_HELP = {
    "arxiv": "the arXiv API: newest submissions in --category (one or more), paged back until "
             "known papers",
    "arxiv-oai": "arXiv over OAI-PMH: every record of a --set (cs, math, physics:hep-th, ...) by "
                 "datestamp",
    "hf-daily": "Hugging Face Daily Papers, day by day, re-reading the last days for upvotes",
}


def today_of(settings: Settings) -> date:
    """The day sources treat as today: sources_today when set, else the UTC date."""
    if not settings.sources_today:
        return now_utc().date()
    try:
        return date.fromisoformat(settings.sources_today)
    except ValueError:
        raise ConfigError(
            f"setting sources_today: {settings.sources_today!r} is not a date (YYYY-MM-DD)"
        ) from None


def check_kind(kind: str) -> str:
    """The kind itself, or BadRequest naming the valid ones."""
    if kind not in KINDS:
        raise BadRequest(f"unknown source kind {kind!r}; valid: {', '.join(KINDS)}")
    return kind


OAI_PREFIXES = ("arXivRaw", "arXiv")
# New arxiv-oai sources read arXivRaw: every version with its date and size, so new versions and
# withdrawals arrive as they happen (cost against arXiv format: BENCHMARKS.md). Sources stored
# without a prefix keep the arXiv format they were added with.
DEFAULT_OAI_PREFIX = "arXivRaw"


def source_params(
    kind: str,
    categories: tuple[str, ...] = (),
    set_spec: str | None = None,
    prefix: str | None = None,
) -> dict[str, Any]:
    """Validated parameters for a kind; BadRequest names what is wrong."""
    check_kind(kind)
    if prefix is not None and kind != "arxiv-oai":
        raise BadRequest("--prefix is for arxiv-oai sources (arXivRaw or arXiv)")
    if prefix is not None and prefix not in OAI_PREFIXES:
        raise BadRequest(
            f"metadata prefix {prefix!r} cannot be followed; use {' or '.join(OAI_PREFIXES)}"
        )
    if kind == "arxiv":
        if not categories:
            raise BadRequest("an arxiv source needs at least one --category (e.g. cs.CL)")
        for cat in categories:
            if not _CATEGORY.match(cat):
                raise BadRequest(f"category {cat!r} is not an arXiv category like cs.CL or hep-th")
        if set_spec:
            raise BadRequest("--set is for arxiv-oai sources; an arxiv source takes --category")
        return {"categories": list(dict.fromkeys(categories))}
    if kind == "arxiv-oai":
        if categories:
            raise BadRequest(
                "--category is for arxiv sources; an arxiv-oai source takes --set (e.g. cs)"
            )
        if set_spec and not _SET.match(set_spec):
            raise BadRequest(
                f"set {set_spec!r} is not an OAI-PMH set like cs, math or physics:hep-th"
            )
        out: dict[str, Any] = {"set": set_spec} if set_spec else {}
        if prefix is not None:
            out["prefix"] = prefix
        return out
    if categories or set_spec:
        raise BadRequest("an hf-daily source takes no --category or --set")
    return {}


def default_name(kind: str, params: dict[str, Any]) -> str:
    """A name from the kind and its parameters: 'arxiv-cs.CL_cs.LG', 'arxiv-oai-cs', 'hf-daily'."""
    if kind == "arxiv":
        return "arxiv-" + "_".join(params["categories"])
    if kind == "arxiv-oai" and params.get("set"):
        return "arxiv-oai-" + str(params["set"]).replace(":", "-")
    return kind


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadRequest(f"source name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return name


def add_source(
    store: Store,
    kind: str,
    categories: tuple[str, ...] = (),
    set_spec: str | None = None,
    name: str | None = None,
    prefix: str | None = None,
    known_sets: Callable[[], list[str]] | None = None,
) -> FollowedSource:
    """Follow a source (stored in the database, so every worker on every machine sees it).

    An arxiv-oai source reads arXivRaw unless `prefix` says arXiv; with `known_sets` (arXiv's
    ListSets) a set arXiv does not list is refused, naming the nearest ones it does.
    """
    if kind == "arxiv-oai" and prefix is None:
        prefix = DEFAULT_OAI_PREFIX
    params = source_params(kind, categories, set_spec, prefix)
    if kind == "arxiv-oai" and set_spec and known_sets is not None:
        sets = known_sets()
        if set_spec not in sets:
            near = [s for s in sets if s.split(":")[0] == set_spec.split(":")[0]][:8] or sets[:8]
            raise BadRequest(
                f"arXiv lists no set {set_spec!r} (ListSets); sets like: "
                f"{', '.join(near) or 'none'}"
            )
    return store.sources.add_source(_check_name(name or default_name(kind, params)), kind, params)


def declared_sources(settings: Settings) -> list[tuple[str, str, dict[str, Any]]]:
    """The sources the `sources` setting declares, as (name, kind, params); ConfigError when
    malformed."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for entry in (e.strip() for e in settings.sources.split(";")):
        if not entry:
            continue
        try:
            kind, *pairs = shlex.split(entry)
            options = dict(p.split("=", 1) for p in pairs)
            unknown = set(options) - {"name", "category", "set", "prefix"}
            if unknown:
                raise BadRequest(
                    f"unknown key {min(unknown)!r} (valid: name, category, set, prefix)"
                )
            cats = tuple(c for c in options.get("category", "").split(",") if c)
            prefix = options.get("prefix") or (DEFAULT_OAI_PREFIX if kind == "arxiv-oai" else None)
            params = source_params(kind, cats, options.get("set"), prefix)
            out.append(
                (_check_name(options.get("name") or default_name(kind, params)), kind, params)
            )
        except (ValueError, BadRequest) as exc:
            reason = exc.message if isinstance(exc, BadRequest) else "expected 'KIND key=value ...'"
            raise ConfigError(f"setting sources: {entry!r}: {reason}") from None
    return out


def sync_declared(store: Store, settings: Settings) -> None:
    """Make the database follow every source the settings file declares (parameters kept in
    step)."""
    existing = {s.name: s for s in store.sources.list_sources()}
    for name, kind, params in declared_sources(settings):
        have = existing.get(name)
        if have is None:
            store.sources.add_source(name, kind, params, origin="settings")
        elif have.kind != kind:
            raise ConfigError(
                f"setting sources: {name!r} is declared as {kind} but followed as {have.kind}"
            )
        elif have.params != params or have.origin != "settings":
            store.sources.update_source_params(have.id, params, "settings")


def list_sources(store: Store, settings: Settings) -> list[FollowedSource]:
    """Every followed source, the settings file's declarations included."""
    sync_declared(store, settings)
    return store.sources.list_sources()


def get_source(store: Store, settings: Settings, name: str) -> FollowedSource:
    """One followed source; BadRequest naming the followed ones when there is none by that name."""
    sync_declared(store, settings)
    found = store.sources.get_source(name)
    if found is None:
        names = ", ".join(s.name for s in store.sources.list_sources()) or "none yet"
        raise NotFound(f"no followed source named {name!r} (followed: {names})")
    return found


def remove_source(store: Store, settings: Settings, name: str) -> None:
    """Stop following a source; its papers stay.

    One the settings file declares is removed there.
    """
    source = get_source(store, settings, name)
    if any(n == name for n, _, _ in declared_sources(settings)):
        raise BadRequest(f"source {name!r} is declared by the `sources` setting: remove it there")
    store.sources.remove_source(source.name)


# ----- health ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceHealth:
    """How one followed source is doing."""

    source: FollowedSource
    lag_days: int | None  # days between today and the newest paper day it brought
    stale: bool  # no successful run within sources_stale_hours
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (also the /api/v1/sources item)."""
        s = self.source

        def iso(value: datetime | date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": s.name,
            "kind": s.kind,
            "params": s.params,
            "origin": s.origin,
            "enabled": s.enabled,
            "cursor": s.cursor,
            "last_run_at": iso(s.last_run_at),
            "last_success_at": iso(s.last_success_at),
            "last_error_at": iso(s.last_error_at),
            "last_error": s.last_error,
            "last_counts": s.last_counts,
            "papers_brought": s.papers_brought,
            "newest_day": iso(s.newest_day),
            "lag_days": self.lag_days,
            "stale": self.stale,
            "failing": s.failing,
            "harvesting": s.lease_holder is not None,
            "problems": self.problems,
        }


def health_of(
    source: FollowedSource, settings: Settings, now: datetime | None = None
) -> SourceHealth:
    """Lag, staleness and problems of one source."""
    now = now or now_utc()
    today = today_of(settings)
    lag = (today - source.newest_day).days if source.newest_day else None
    limit = timedelta(hours=settings.sources_stale_hours)
    since = source.last_success_at or source.created_at
    stale = source.enabled and now - since > limit
    problems: list[str] = []
    if stale:
        when = (
            source.last_success_at.isoformat(timespec="minutes")
            if source.last_success_at
            else "never"
        )
        problems.append(
            f"no successful run for over {settings.sources_stale_hours:g} h (last: {when})"
        )
    if source.failing:
        problems.append(f"last run failed: {source.last_error}")
    return SourceHealth(source, lag, stale, problems)


def sources_health(
    store: Store, settings: Settings, now: datetime | None = None
) -> list[SourceHealth]:
    """Health of every followed source."""
    return [health_of(s, settings, now) for s in list_sources(store, settings)]


def status_report(store: Store, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """What /status and `paperfeed status` show: papers, newest day, and each source's health."""
    health = sources_health(store, settings, now)
    days = store.papers.paper_days(limit=1)
    return {
        "papers": store.papers.count_papers(),
        "newest_day": days[0].isoformat() if days else None,
        "today": today_of(settings).isoformat(),
        "ok": not any(h.stale for h in health),
        "sources": [h.as_dict() for h in health],
    }
