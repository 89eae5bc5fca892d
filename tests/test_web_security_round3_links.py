"""Issue #21 F7, second half: the links of digest emails name the account, not just its id.

An unsubscribe or feedback token signs "USER.STAMP" (feedback: "USER.PAPER.STAMP"), the stamp being
a digest of the account's id and creation time: a token made for a deleted account never acts on
another account with the same id, tokens from before the stamp are refused, and tokens older than
their max age are refused. On PostgreSQL (and on SQLite since migration 0011) ids are never reused,
so "another account with the same id" is built by signing for the id with the stamp of an account
created at another time. Both backends (the `store` fixture).
"""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import TimestampSigner

from paperfeed.core.models import User
from paperfeed.core.settings import Settings
from paperfeed.delivery.app import accounts
from paperfeed.delivery.common.secret_key import resolve_secret_key
from paperfeed.delivery.mail.compose import unsubscribe_url
from paperfeed.delivery.mail.tokens import (
    FEEDBACK_MAX_AGE,
    FEEDBACK_SALT,
    UNSUBSCRIBE_MAX_AGE,
    UNSUBSCRIBE_SALT,
    feedback_token,
    link_stamp,
    unsubscribe_token,
)
from paperfeed.store import Store
from tests.web_fixtures import SAMPLE, make_app

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


def _carol(store: Store) -> tuple[User, int]:
    user = store.users.create_user("carol", "carol@example.org", "x")
    store.subscriptions.save_subscription(user.id)
    store.papers.upsert_papers(SAMPLE)
    paper = store.papers.get_paper_by_arxiv("2501.00002")
    assert paper is not None and paper.id is not None
    return user, paper.id


def _active(store: Store, user_id: int) -> bool:
    sub = store.subscriptions.get_subscription(user_id)
    assert sub is not None
    return sub.active


class _PastSigner(TimestampSigner):
    """The stock itsdangerous signer, its clock `age` seconds behind (a token signed that long
    ago)."""

    def __init__(self, secret: str, salt: str, age: int) -> None:
        super().__init__(secret, salt=salt)
        self.age = age

    def get_timestamp(self) -> int:
        """Now minus `age`."""
        return int(time.time()) - self.age


def test_a_link_whose_stamp_is_not_the_accounts_is_refused(
    settings: Settings, store: Store
) -> None:
    user, pid = _carol(store)
    secret = resolve_secret_key(settings)
    # the account that had this id before: same id, created at another time
    gone = User(
        id=user.id,
        username="old",
        email="old@example.org",
        created_at=user.created_at - timedelta(days=30),
    )
    assert link_stamp(gone) != link_stamp(user)
    with make_app(settings, store) as c:
        r = c.post("/unsubscribe", params={"t": unsubscribe_token(secret, gone)}, **ONE_CLICK)  # type: ignore[arg-type]
        assert r.status_code == 404 and "no longer exists" in r.text
        assert (
            c.get("/unsubscribe", params={"t": unsubscribe_token(secret, gone)}).status_code == 404
        )
        assert _active(store, user.id)
        token = feedback_token(secret, gone, pid)
        assert c.get("/feedback", params={"t": token, "s": "1"}).status_code == 404
        r = c.post("/feedback", data={"t": token, "s": "1"})
        assert r.status_code == 404 and "no longer exists" in r.text
        assert store.subscriptions.feedback(user.id) == {}


def test_links_of_a_deleted_account_stop_working(settings: Settings, store: Store) -> None:
    user, pid = _carol(store)
    secret = resolve_secret_key(settings)
    unsub, fb = unsubscribe_token(secret, user), feedback_token(secret, user, pid)
    store.profiles.delete_user(user.id)
    newcomer = store.users.create_user("dora", "dora@example.org", "x")
    assert newcomer.id != user.id  # ids are never reused (0011)
    with make_app(settings, store) as c:
        assert c.post("/unsubscribe", params={"t": unsub}, **ONE_CLICK).status_code == 404  # type: ignore[arg-type]
        assert c.post("/feedback", data={"t": fb, "s": "1"}).status_code == 404


def test_one_click_unsubscribe_and_feedback_work_with_the_accounts_own_links(
    settings: Settings, store: Store
) -> None:
    made, pid = _carol(store)
    secret = resolve_secret_key(settings)
    # the digest sender reads the account back with its subscription (whose table has a created_at
    # of its own: the account's must win)
    store.subscriptions.save_subscription(made.id)
    (stored, _), = store.subscriptions.active_subscribers([made.id])
    by_id = store.users.get_user(made.id)
    assert by_id is not None and link_stamp(stored) == link_stamp(made) == link_stamp(by_id)
    token = parse_qs(urlsplit(unsubscribe_url(settings, secret, stored)).query)["t"][0]
    with make_app(settings, store) as c:
        r = c.post("/unsubscribe", params={"t": token}, **ONE_CLICK)  # type: ignore[arg-type]
        assert r.status_code == 200 and "unsubscribed" in r.text
        assert not _active(store, made.id)
        r = c.post("/feedback", data={"t": feedback_token(secret, stored, pid), "s": "-1"})
        assert r.status_code == 200 and store.subscriptions.feedback(made.id) == {pid: -1}


def test_old_format_links_are_refused_with_a_clear_message(
    settings: Settings, store: Store
) -> None:
    user, pid = _carol(store)
    secret = resolve_secret_key(settings)
    bare_unsub = TimestampSigner(secret, salt=UNSUBSCRIBE_SALT).sign(str(user.id)).decode("ascii")
    bare_fb = TimestampSigner(secret, salt=FEEDBACK_SALT).sign(f"{user.id}.{pid}").decode("ascii")
    with make_app(settings, store) as c:
        r = c.post("/unsubscribe", params={"t": bare_unsub}, **ONE_CLICK)  # type: ignore[arg-type]
        assert r.status_code == 400 and "older paperfeed" in r.text and "newer digest" in r.text
        r = c.post("/feedback", data={"t": bare_fb, "s": "1"})
        assert r.status_code == 400 and "older paperfeed" in r.text
    assert _active(store, user.id) and store.subscriptions.feedback(user.id) == {}


@pytest.mark.parametrize(
    ("salt", "max_age"),
    [(UNSUBSCRIBE_SALT, UNSUBSCRIBE_MAX_AGE), (FEEDBACK_SALT, FEEDBACK_MAX_AGE)],
)
def test_links_older_than_their_max_age_are_refused(
    settings: Settings, store: Store, salt: str, max_age: int
) -> None:
    user, pid = _carol(store)
    secret = resolve_secret_key(settings)
    value = (
        f"{user.id}.{link_stamp(user)}"
        if salt == UNSUBSCRIBE_SALT
        else f"{user.id}.{pid}.{link_stamp(user)}"
    )
    young = _PastSigner(secret, salt, max_age - 3600).sign(value).decode("ascii")
    old = _PastSigner(secret, salt, max_age + 3600).sign(value).decode("ascii")
    with make_app(settings, store) as c:
        if salt == UNSUBSCRIBE_SALT:
            r = c.post("/unsubscribe", params={"t": old}, **ONE_CLICK)  # type: ignore[arg-type]
            assert r.status_code == 400 and "expired" in r.text and _active(store, user.id)
            assert c.post("/unsubscribe", params={"t": young}, **ONE_CLICK).status_code == 200  # type: ignore[arg-type]
            assert not _active(store, user.id)
        else:
            r = c.post("/feedback", data={"t": old, "s": "1"})
            assert (
                r.status_code == 400
                and "expired" in r.text
                and store.subscriptions.feedback(user.id) == {}
            )
            assert c.post("/feedback", data={"t": young, "s": "1"}).status_code == 200
            assert store.subscriptions.feedback(user.id) == {pid: 1}


def test_device_cookie_is_bound_to_the_accounts_credentials_not_its_id(
    settings: Settings, store: Store
) -> None:
    from paperfeed.delivery.app.credentials import hash_password

    secret = resolve_secret_key(settings)
    ada = store.users.create_user(
        "ada", "ada@example.org", hash_password("violet quasar lemonade 42")
    )
    bob = store.users.create_user(
        "bob", "bob@example.org", hash_password("violet quasar lemonade 42")
    )
    ada_cookie, bob_cookie = (
        accounts.device_cookie(store, secret, ada.id),
        accounts.device_cookie(store, secret, bob.id),
    )
    ada_claim, bob_claim = (
        accounts.read_device_cookie(secret, ada_cookie),
        accounts.read_device_cookie(secret, bob_cookie),
    )
    assert ada_claim is not None and bob_claim is not None
    assert accounts.device_vouches(store, bob_claim, "bob")
    # ada's cookie with bob's id (what a reused id would give): same password, other hash salt
    assert not accounts.device_vouches(
        store, accounts.DeviceClaim(bob.id, ada_claim.fingerprint), "bob"
    )
    assert accounts.read_device_cookie(secret, str(ada.id)) is None  # a bare id is no cookie
