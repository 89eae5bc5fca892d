"""Lifecycle alert use cases, written once for the notifications page, the API and the digests: what
happened to papers a user authored, collected or upvoted (a new arXiv version, a code link, a
journal reference or DOI), each shown as new once and mailed once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paperfeed.core.models import User
from paperfeed.store import Store
from paperfeed.store.alerts import Alert

DIGEST_ALERTS = 20  # papers with alerts in one digest, most recent first


def describe(alert: Alert) -> str:
    """One line saying what happened: 'new version v3', 'code released: URL', 'published: DOI'."""
    if alert.kind == "new_version":
        return f"new version v{alert.key}"
    if alert.kind == "code_link":
        return f"code released: {alert.key}"
    return f"published: {alert.key}"


@dataclass(frozen=True)
class AlertNote:
    """An alert as the notifications page shows it."""

    alert: Alert
    text: str
    new: bool


def alert_notes(
    store: Store, user: User, limit: int = 100, mark_seen: bool = True
) -> list[AlertNote]:
    """The user's alerts, newest first; those never shown before are new (and now marked shown)."""
    found = store.alerts.alerts([user.id], limit=limit)
    notes = [AlertNote(a, describe(a), not a.seen) for a in found]
    if mark_seen:
        store.alerts.mark_alerts(user.id, [n.alert.event_id for n in notes if n.new], "web")
    return notes


def unread_alerts(store: Store, user: User) -> int:
    """How many of the user's alerts were never shown on the notifications page."""
    return store.alerts.unread_alert_count(user.id)


def alert_json(note: AlertNote) -> dict[str, Any]:
    """The API's representation of one alert."""
    a = note.alert
    return {
        "event_id": a.event_id,
        "kind": a.kind,
        "key": a.key,
        "text": note.text,
        "why": a.why,
        "new": note.new,
        "mailed": a.mailed,
        "paper_id": a.paper_id,
        "paper_title": a.paper_title,
        "arxiv_id": a.arxiv_id,
        "created_at": a.created_at.isoformat(),
    }


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def alert_items(
    store: Store, windows: Mapping[int, datetime], until: datetime, limit: int = DIGEST_ALERTS
) -> dict[int, list[dict[str, Any]]]:
    """Digest items of the alerts section per user: one per paper with alerts never mailed, from
    events after each user's window start; `events` names them so the digest records them mailed."""
    if not windows:
        return {}
    by_user: dict[int, dict[int, list[Alert]]] = {}
    for a in store.alerts.alerts(
        list(windows), since=min(windows.values()), until=until, limit=20_000, not_on="email"
    ):
        if a.created_at > windows.get(a.user_id, until):
            by_user.setdefault(a.user_id, {}).setdefault(a.paper_id, []).append(a)
    out: dict[int, list[dict[str, Any]]] = {}
    for uid, per_paper in by_user.items():
        ranked = sorted(per_paper.items(), key=lambda kv: -max(a.event_id for a in kv[1]))[:limit]
        out[uid] = [
            {
                "paper_id": pid,
                "section": "alerts",
                "reason": _sentence(
                    "; ".join(describe(a) for a in sorted(found, key=lambda a: a.event_id))
                ),
                "events": sorted(a.event_id for a in found),
            }
            for pid, found in ranked
        ]
    return out
