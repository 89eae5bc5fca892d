"""Digest interests: change a subscription, make sure one exists, save a search, follow a category
or an author."""

from __future__ import annotations

from typing import Any

from paperfeed.core.errors import BadRequest
from paperfeed.core.rules import SUBSCRIPTION_FIELDS, validate_subscription
from paperfeed.store import Store
from paperfeed.store.digests import DigestSubscription, SavedSearch


def save_subscription(store: Store, user_id: int, **changes: object) -> DigestSubscription:
    """Create or change a user's subscription: the rules (core.rules) checked on the result, then
    saved.

    Changes given as None keep the current value (a new subscription starts from the defaults).
    BadRequest names an unknown field or the first bad value; nothing is stored then.
    """
    unknown = set(changes) - set(SUBSCRIPTION_FIELDS)
    if unknown:
        raise BadRequest(
            f"unknown subscription field {min(unknown)!r}; valid: "
            f"{', '.join(sorted(SUBSCRIPTION_FIELDS))}"
        )
    current = store.subscriptions.get_subscription(user_id) or DigestSubscription(
        user_id=user_id, frequency="daily"
    )
    merged: dict[str, Any] = {k: getattr(current, k) for k in SUBSCRIPTION_FIELDS}
    merged.update({k: v for k, v in changes.items() if v is not None})
    merged["sections"] = tuple(dict.fromkeys(merged["sections"]))
    for key in ("send_hour", "weekday", "max_papers"):
        merged[key] = int(merged[key])
    merged["active"] = bool(merged["active"])
    validate_subscription(
        merged["frequency"],
        merged["send_hour"],
        merged["weekday"],
        merged["timezone"],
        merged["max_papers"],
        merged["sections"],
    )
    return store.subscriptions.save_subscription(user_id, **merged)


def ensure_subscription(store: Store, user_id: int) -> DigestSubscription:
    """The user's subscription, created with the defaults when there is none yet."""
    found = store.subscriptions.get_subscription(user_id)
    return found if found is not None else store.subscriptions.save_subscription(user_id)


def save_search(store: Store, user_id: int, query: str, name: str = "", category: str | None = None,
                author: str | None = None) -> SavedSearch:
    """Save a search for the user's digest (subscribing them first if needed)."""
    ensure_subscription(store, user_id)
    return store.subscriptions.add_saved_search(
        user_id, query, name=name, category=category or None, author=author or None
    )


def follow(store: Store, user_id: int, kind: str, value: str) -> bool:
    """Follow a category or an author for the digest (subscribing first if needed); whether it was
    new."""
    ensure_subscription(store, user_id)
    return bool(store.subscriptions.follow(user_id, kind, value))
