"""The send phase of the digest job: claim each ready digest, write it to SMTP, record how it
ended."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from paperfeed.core.errors import PaperfeedError
from paperfeed.core.models import User
from paperfeed.core.settings import Settings
from paperfeed.delivery.jobs.digest_runs import DigestReport, StepProgress
from paperfeed.delivery.mail.compose import DigestContent, Outgoing, build_message
from paperfeed.delivery.mail.mailer import (
    AmbiguousMailError,
    Mailer,
    PermanentMailError,
    TransientMailError,
)
from paperfeed.delivery.mail.tokens import email_secret
from paperfeed.store import Store
from paperfeed.store.digests import DeliveryMarker
from paperfeed.store.runs import now_utc

SEND_BATCH = 200


def _backoff(settings: Settings, attempts: int) -> timedelta:
    return timedelta(seconds=settings.digest_retry_seconds * 2 ** max(0, attempts - 1))


def send_ready(
    settings: Settings,
    store: Store,
    mailer: Mailer,
    now: datetime,
    holder: str,
    report: DigestReport,
    user_ids: Sequence[int] | None = None,
    secret: str | None = None,
    progress: StepProgress | None = None,
) -> None:
    """Send every ready (or due retry) digest once."""
    secret = secret or email_secret(settings)
    report.skipped += store.deliveries.skip_inactive()
    done: set[int] = set()
    with store.deliveries.marker() as marker:
        while True:
            rows = [
                r
                for r in store.deliveries.due_deliveries(now, SEND_BATCH, user_ids)
                if r.id not in done
            ]
            if not rows:
                return
            users = {
                u.id: u
                for u, _ in store.subscriptions.active_subscribers(
                    sorted({r.user_id for r in rows})
                )
            }
            papers = store.papers.get_papers(
                sorted({int(it["paper_id"]) for r in rows for it in r.items})
            )
            for row in rows:
                done.add(row.id)
                user = users.get(row.user_id)
                if (
                    user is None
                    or not user.email_verified
                    or not store.deliveries.claim_send(row.id, holder, now)
                ):
                    continue
                t0 = time.monotonic()
                try:
                    out = build_message(
                        settings,
                        secret,
                        DigestContent(
                            user=user,
                            period=row.period,
                            items=row.items,
                            papers=papers,
                            gap_days=row.gap_days,
                            window_start=row.window_start,
                            message_id=row.message_id or "",
                        ),
                        now_utc(),
                    )
                # a bad address, say: go on with the others
                except (PaperfeedError, ValueError, KeyError) as exc:
                    store.deliveries.finish_send(row.id, holder, "failed", f"cannot compose: {exc}")
                    report.failed += 1
                    report.errors.append(f"{user.username}: cannot compose: {exc}")
                    continue
                t1 = time.monotonic()
                report.render_seconds += t1 - t0
                _deliver(
                    settings,
                    store,
                    mailer,
                    marker,
                    holder,
                    row.id,
                    row.attempts + 1,
                    out,
                    user,
                    report,
                    now,
                )
                report.send_seconds += time.monotonic() - t1
                if progress:
                    progress(
                        "sending digests",
                        report.sent + report.failed + report.retry + report.unconfirmed,
                        0,
                    )


def _deliver(
    settings: Settings,
    store: Store,
    mailer: Mailer,
    marker: DeliveryMarker,
    holder: str,
    delivery_id: int,
    attempts: int,
    out: Outgoing,
    user: User,
    report: DigestReport,
    now: datetime,
) -> None:
    try:
        mailer.send(out, lambda: marker.mark_data_end(delivery_id, holder))
    except TransientMailError as exc:
        if attempts >= settings.digest_max_attempts:
            store.deliveries.finish_send(
                delivery_id, holder, "failed", f"gave up after {attempts} attempts: {exc}"
            )
            report.failed += 1
        else:
            store.deliveries.finish_send(
                delivery_id, holder, "retry", str(exc), now + _backoff(settings, attempts)
            )
            report.retry += 1
        report.errors.append(f"{user.username}: {exc}")
    except PermanentMailError as exc:
        store.deliveries.finish_send(delivery_id, holder, "failed", str(exc))
        report.failed += 1
        report.errors.append(f"{user.username}: {exc}")
    except AmbiguousMailError as exc:
        store.deliveries.finish_send(delivery_id, holder, "unconfirmed", str(exc))
        report.unconfirmed += 1
        report.errors.append(f"{user.username}: {exc}")
    except LookupError as exc:  # another sender took the row over (we were presumed dead)
        report.errors.append(f"{user.username}: {exc}")
    else:
        store.deliveries.finish_send(delivery_id, holder, "sent")
        report.sent += 1
