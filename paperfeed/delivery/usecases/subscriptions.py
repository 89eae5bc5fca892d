"""Digest interests: make sure a subscription exists, save a search, follow a category or an author."""

from __future__ import annotations

from paperfeed.store import Store
from paperfeed.store.digests import DigestSubscription, SavedSearch


def ensure_subscription(store: Store, user_id: int) -> DigestSubscription:
    """The user's subscription, created with the defaults when there is none yet."""
    found = store.subscriptions.get_subscription(user_id)
    return found if found is not None else store.subscriptions.save_subscription(user_id)


def save_search(store: Store, user_id: int, query: str, name: str = "", category: str | None = None,
                author: str | None = None) -> SavedSearch:
    """Save a search for the user's digest (subscribing them first if needed)."""
    ensure_subscription(store, user_id)
    return store.subscriptions.add_saved_search(user_id, query, name=name, category=category or None, author=author or None)


def follow(store: Store, user_id: int, kind: str, value: str) -> bool:
    """Follow a category or an author for the digest (subscribing first if needed); whether it was new."""
    ensure_subscription(store, user_id)
    return bool(store.subscriptions.follow(user_id, kind, value))
