"""Digest subscriptions, saved searches, follows and digest feedback of each user."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, RowMapping, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import User
from paperfeed.core.rules import (
    MAX_FOLLOWS,
    MAX_SAVED_SEARCHES,
    SUBSCRIPTION_FIELDS,
    no_nul,
)
from paperfeed.core.util import chunks
from paperfeed.store.dialect import upsert
from paperfeed.store.digests import (
    DigestSubscription,
    SavedSearch,
    _follow_table,
    _search,
    _sub,
    _user,
)
from paperfeed.store.runs import now_utc
from paperfeed.store.schema import (
    digest_feedback,
    papers,
    saved_searches,
    subscriptions,
    users,
)


class SubscriptionRepo:
    """What each user asked their digest for."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ----- subscriptions ------------------------------------------------------------------------

    def get_subscription(self, user_id: int) -> DigestSubscription | None:
        """A user's subscription, or None when they never subscribed."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(subscriptions).where(subscriptions.c.user_id == user_id))
                .mappings()
                .first()
            )
        return _sub(row) if row else None

    def save_subscription(self, user_id: int, **changes: object) -> DigestSubscription:
        """Create or update a user's subscription with the given fields (None keeps a value);
        NotFound: no user.

        The rules are checked by the use case (delivery.app.subscriptions.save_subscription) before
        this.
        """
        unknown = set(changes) - set(SUBSCRIPTION_FIELDS)
        if unknown:  # a caller's mistake, not a reader's: the use case names unknown fields first
            raise TypeError(f"unknown subscription field {min(unknown)!r}")
        current = self.get_subscription(user_id) or DigestSubscription(
            user_id=user_id, frequency="daily"
        )
        merged: dict[str, Any] = {**{k: getattr(current, k) for k in SUBSCRIPTION_FIELDS},
                                  **{k: v for k, v in changes.items() if v is not None}}
        values = {
            "frequency": merged["frequency"],
            "send_hour": int(merged["send_hour"]),
            "weekday": int(merged["weekday"]),
            "timezone": merged["timezone"],
            "max_papers": int(merged["max_papers"]),
            "sections": json.dumps(list(merged["sections"])),
            "active": 1 if merged["active"] else 0,
            "updated_at": now_utc(),
        }
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
                raise NotFound(f"no user {user_id}")
            done = conn.execute(
                update(subscriptions).where(subscriptions.c.user_id == user_id).values(values)
            )
            if not done.rowcount:
                conn.execute(
                    insert(subscriptions).values(
                        user_id=user_id, created_at=values["updated_at"], **values
                    )
                )
        found = self.get_subscription(user_id)
        assert found is not None
        return found

    def set_subscription_active(self, user_id: int, active: bool) -> bool:
        """Turn a user's digest on or off; False when they have no subscription."""
        with self.engine.begin() as conn:
            done = conn.execute(update(subscriptions).where(subscriptions.c.user_id == user_id)
                                .values(active=1 if active else 0, updated_at=now_utc()))
        return bool(done.rowcount)

    def active_subscribers(
        self, user_ids: Sequence[int] | None = None
    ) -> list[tuple[User, DigestSubscription]]:
        """Users with an active subscription (optionally only some), by user id."""
        # the account's created_at under its own name: subscriptions has one too, and the account's
        # stamps its email links (#21 F7)
        query = (
            select(
                subscriptions,
                users.c.id,
                users.c.username,
                users.c.email,
                users.c.created_at.label("user_created_at"),
                users.c.is_admin,
                users.c.email_verified_at,
            )
            .join(users, users.c.id == subscriptions.c.user_id)
            .where(subscriptions.c.active == 1)
            .order_by(users.c.id)
        )
        with self.engine.connect() as conn:
            rows: list[RowMapping] = []
            if user_ids is None:
                rows = list(conn.execute(query).mappings())
            else:
                for chunk in chunks(list(user_ids)):
                    rows.extend(conn.execute(query.where(users.c.id.in_(chunk))).mappings())
        return [(_user({**r, "created_at": r["user_created_at"]}), _sub(r)) for r in rows]

    # ----- saved searches and follows -----------------------------------------------------------

    def add_saved_search(
        self,
        user_id: int,
        query: str,
        name: str = "",
        category: str | None = None,
        author: str | None = None,
    ) -> SavedSearch:
        """Save a search for a user's digest."""
        no_nul("a saved search", query, name, category, author)
        query = " ".join(query.split())
        if not query and not category and not author:
            raise BadRequest("a saved search needs a query, a category or an author")
        if len(query) > 500:
            raise BadRequest("query: at most 500 characters")
        name = (" ".join(name.split()) or query or category or author or "search")[:200]
        with self.engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(saved_searches)
                                 .where(saved_searches.c.user_id == user_id)).scalar_one()
            if count >= MAX_SAVED_SEARCHES:
                raise BadRequest(f"at most {MAX_SAVED_SEARCHES} saved searches per user")
            new_id = conn.execute(
                insert(saved_searches)
                .values(
                    user_id=user_id,
                    name=name,
                    query=query,
                    category=category or None,
                    author=author or None,
                    created_at=now_utc(),
                )
                .returning(saved_searches.c.id)
            ).scalar_one()
        return SavedSearch(int(new_id), user_id, name, query, category or None, author or None)

    def saved_searches(self, user_id: int) -> list[SavedSearch]:
        """A user's saved searches, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(saved_searches).where(saved_searches.c.user_id == user_id)
                                .order_by(saved_searches.c.id)).mappings()
            return [_search(r) for r in rows]

    def delete_saved_search(self, owner_id: int, search_id: int) -> None:
        """Delete one of the owner's saved searches; NotFound otherwise."""
        with self.engine.begin() as conn:
            done = conn.execute(delete(saved_searches).where(
                and_(saved_searches.c.id == search_id, saved_searches.c.user_id == owner_id)))
        if not done.rowcount:
            raise NotFound(f"no saved search {search_id}")

    def follow(self, user_id: int, kind: str, value: str) -> bool:
        """Follow a category or an author ('category' | 'author'); False when already followed."""
        table, column = _follow_table(kind)
        no_nul(kind, value)
        value = " ".join(value.split())
        if not value or len(value) > 200:
            raise BadRequest(f"{kind}: give 1..200 characters")
        with self.engine.begin() as conn:
            count = conn.execute(
                select(func.count()).select_from(table).where(table.c.user_id == user_id)
            ).scalar_one()
            if count >= MAX_FOLLOWS:
                raise BadRequest(f"at most {MAX_FOLLOWS} followed {kind}s")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(table).values(
                        {"user_id": user_id, column: value, "created_at": now_utc()}
                    )
                )
        except IntegrityError:
            return False
        return True

    def unfollow(self, user_id: int, kind: str, value: str) -> bool:
        """Stop following a category or author; False when it was not followed."""
        table, column = _follow_table(kind)
        if "\x00" in value:
            return False  # never followed: follow() refuses NUL
        with self.engine.begin() as conn:
            done = conn.execute(
                delete(table).where(
                    and_(table.c.user_id == user_id, table.c[column] == value.strip())
                )
            )
        return bool(done.rowcount)

    def followed(self, user_id: int, kind: str) -> list[str]:
        """Followed categories or authors, in the order they were added."""
        table, column = _follow_table(kind)
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c[column]).where(table.c.user_id == user_id)
                                .order_by(table.c.created_at, table.c[column]))
            return [str(r[0]) for r in rows]

    # ----- feedback -----------------------------------------------------------------------------

    def set_feedback(self, user_id: int, paper_id: int, signal: int) -> None:
        """Record "more like this" (+1) or "less like this" (-1); 0 clears it."""
        if signal not in (-1, 0, 1):
            raise BadRequest("signal must be -1, 0 or 1")
        with self.engine.begin() as conn:
            if conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is None:
                raise NotFound(f"no paper {paper_id}")
            if not signal:
                conn.execute(
                    delete(digest_feedback).where(
                        and_(
                            digest_feedback.c.user_id == user_id,
                            digest_feedback.c.paper_id == paper_id,
                        )
                    )
                )
                return
            # One atomic upsert: two clicks at once for one paper must not both insert (a 500
            # before).
            now = now_utc()
            conn.execute(upsert(
                conn, digest_feedback,
                {"user_id": user_id, "paper_id": paper_id, "signal": signal, "created_at": now},
                keys=["user_id", "paper_id"], changes={"signal": signal, "created_at": now}))

    def feedback(self, user_id: int) -> dict[int, int]:
        """A user's feedback: paper id -> +1 / -1."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(digest_feedback.c.paper_id, digest_feedback.c.signal)
                                .where(digest_feedback.c.user_id == user_id))
            return {int(p): int(s) for p, s in rows}

