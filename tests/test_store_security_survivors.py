"""Server-side sessions end when they expire (issue 22): a session row past its expiry is refused
and deleted, however long its cookie lives; one still inside its lifetime is accepted.

Both backends.
"""

from __future__ import annotations

from datetime import timedelta

from paperfeed.delivery.app.credentials import token_hash
from paperfeed.store import Store


def test_expired_server_sessions_are_refused(store: Store) -> None:
    user = store.users.create_user("ada", "ada@example.org", "x")
    store.security.create_session(user.id, token_hash("live"), timedelta(hours=1))
    store.security.create_session(user.id, token_hash("expired"), timedelta(seconds=-1))
    live = store.security.session_user(token_hash("live"))
    assert live is not None and live.id == user.id
    assert store.security.session_user(token_hash("expired")) is None
    assert not store.security.delete_session(token_hash("expired"))  # the row went with the refusal
    assert store.security.delete_session(token_hash("live"))  # the live one stayed
