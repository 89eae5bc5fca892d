"""Named worker leases in the database: one holder at a time, taken over when it expires."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import (
    worker_leases,
)


class LeaseRepo:
    """Worker leases (e.g. one ingest at a time across machines)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ----- leases -------------------------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Hold the named lease for `seconds` (renewing our own); False while another holder has
        it."""
        now = now_utc()
        until = now + timedelta(seconds=seconds)
        with self.engine.begin() as conn:
            done = conn.execute(update(worker_leases).where(and_(
                worker_leases.c.name == name,
                or_(worker_leases.c.holder == holder, worker_leases.c.expires_at < now),
            )).values(holder=holder, expires_at=until))
            if done.rowcount:
                return True
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(worker_leases).values(name=name, holder=holder, expires_at=until)
                )
        except IntegrityError:
            return False
        return True

    def release_lease(self, name: str, holder: str, ran: bool = False) -> None:
        """Give a lease back (recording that its job ran when `ran`)."""
        values: dict[str, object] = {"expires_at": now_utc() - timedelta(seconds=1)}
        if ran:
            values["last_run_at"] = now_utc()
        with self.engine.begin() as conn:
            conn.execute(
                update(worker_leases)
                .where(and_(worker_leases.c.name == name, worker_leases.c.holder == holder))
                .values(values)
            )

    def lease_last_run(self, name: str) -> datetime | None:
        """When the job under this lease last finished."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(worker_leases.c.last_run_at).where(worker_leases.c.name == name)
            ).scalar()
        return utc(value)

