"""Account use cases: sessions (issue, look up, revoke), passwords (change, reset by email) and the
log-in throttle. Web handlers and the CLI are thin adapters over these functions.

Sessions are server-side: the browser's signed cookie carries only a random session id whose
SHA-256 is a row in `sessions`; deleting the row ends the session at once, wherever the cookie is.

The log-in throttle slows guessing without letting anyone lock the owner out:
- per account, after FREE_FAILURES failures each further attempt must wait 2**(n - FREE_FAILURES)
  seconds (at most MAX_DELAY) since the last failure; the wait is counted in the database, so it
  holds across workers and restarts;
- a browser that has logged in to the account before carries a signed "device" cookie and skips
  the per-account wait (OWASP's device-cookie scheme): an attacker elsewhere cannot lock the owner
  out of their own browser, and a password reset by email clears the count. The cookie names the
  account and a fingerprint of its password hash, so any password change or reset revokes it;
- per client address, the `rate_limit_login` limit (see RateLimits) bounds guesses across accounts;
  only the owner's device cookie for the account being logged into is counted on its own (so an
  attacker behind the same address cannot lock the owner out), and a cookie of an attacker's own
  account vouches for nothing else: it buys no extra guesses (#21 F4).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.core.errors import BadRequest, TooManyRequests
from paperfeed.core.models import User
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.credentials import (
    DUMMY_HASH,
    hash_password,
    needs_rehash,
    password_problem,
    token_hash,
    verify_password,
)
from paperfeed.delivery.mail.compose import (
    Outgoing,
    notice_message,
)
from paperfeed.delivery.mail.mailer import Mailer
from paperfeed.store import Store

SESSION_LIFETIME = timedelta(days=14)
FREE_FAILURES = 5
MAX_DELAY = (
    300.0  # seconds: a guess every 5 minutes per account at worst, the owner never waits longer
)
RESET_SALT = "paperfeed.password-reset"
RESET_MAX_AGE = 3600
DEVICE_SALT = "paperfeed.device"
DEVICE_MAX_AGE = 365 * 86400


# ----- sessions -----------------------------------------------------------------------------------


def issue_session(store: Store, user_id: int, user_agent: str = "") -> str:
    """Start a session for the user; returns the random id the cookie carries."""
    sid = secrets.token_urlsafe(32)
    store.security.purge_expired_sessions()  # cheap housekeeping: logins are rare
    store.security.create_session(user_id, token_hash(sid), SESSION_LIFETIME, user_agent)
    return sid


def session_user(store: Store, sid: str) -> User | None:
    """The user of a live session id (None when unknown, revoked or expired)."""
    if not sid or len(sid) > 200:
        return None
    return store.security.session_user(token_hash(sid))


def end_session(store: Store, sid: str) -> None:
    """End one session (log out)."""
    if sid:
        store.security.delete_session(token_hash(sid))


def end_all_sessions(store: Store, user_id: int, keep_sid: str | None = None) -> int:
    """End every session of the user, except `keep_sid` when given ("log out everywhere else")."""
    return store.security.delete_user_sessions(user_id, token_hash(keep_sid) if keep_sid else None)


def log_out_everywhere(store: Store, user_id: int) -> int:
    """End every session and revoke every API token of the user (a stolen credential stops working).

    Returns how many API tokens were revoked.
    """
    end_all_sessions(store, user_id)
    return store.security.delete_user_tokens(user_id)


# ----- passwords ----------------------------------------------------------------------------------


def check_new_password(
    password: str, user: User | None = None, username: str = "", email: str = ""
) -> None:
    """Raise BadRequest when the password is too weak (zxcvbn) or too long."""
    problem = password_problem(
        password, (user.username if user else username), (user.email if user else email)
    )
    if problem:
        raise BadRequest(f"password: {problem}")


@dataclass(frozen=True)
class PasswordChanged:
    """What a password change revoked: the other sessions and every API token."""

    sessions: int
    tokens: int


def change_password(
    store: Store, user: User, current: str, new: str, keep_sid: str | None
) -> PasswordChanged:
    """Change the password after checking the current one; ends the other sessions, revokes
    tokens."""
    found = store.users.user_credentials(user.username)
    if found is None or not verify_password(found[1], current):
        raise BadRequest("current password: wrong password")
    check_new_password(new, user)
    store.users.set_password_hash(user.id, hash_password(new))
    ended = end_all_sessions(store, user.id, keep_sid)
    # F15: a token made by whoever knew the old password must not outlive it
    return PasswordChanged(ended, store.security.delete_user_tokens(user.id))


def _fingerprint(password_hash: str) -> str:
    # The token names the current hash, so it stops working once the password changes (single use).
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def reset_token(secret: str, user_id: int, password_hash: str) -> str:
    """A signed, one-hour, single-use token that lets its holder set a new password."""
    return str(
        URLSafeTimedSerializer(secret, salt=RESET_SALT).dumps(
            [user_id, _fingerprint(password_hash)]
        )
    )


def reset_user(store: Store, secret: str, token: str) -> User:
    """The account a reset token is for; BadRequest when forged, expired or already used."""
    try:
        data = URLSafeTimedSerializer(secret, salt=RESET_SALT).loads(
            token.strip(), max_age=RESET_MAX_AGE
        )
    except SignatureExpired:
        raise BadRequest("this password reset link has expired: ask for a new one") from None
    except (BadSignature, UnicodeError, ValueError):
        raise BadRequest("this password reset link is not valid") from None
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], int)):
        raise BadRequest("this password reset link is not valid")
    user = store.users.get_user(data[0])
    found = store.users.user_credentials(user.username) if user else None
    if user is None or found is None or _fingerprint(found[1]) != data[1]:
        raise BadRequest(
            "this password reset link was already used or is no longer valid: ask for a new one"
        )
    return user


def reset_password(store: Store, secret: str, token: str, new: str) -> User:
    """Set a new password from a reset link: every session and API token of the account is
    revoked."""
    user = reset_user(store, secret, token)
    check_new_password(new, user)
    store.users.set_password_hash(user.id, hash_password(new))
    store.security.delete_user_sessions(user.id)
    store.security.delete_user_tokens(user.id)
    store.security.clear_login_failures(throttle_key(user.id))
    return user


def reset_message(settings: Settings, user: User, link: str, now: datetime) -> Outgoing:
    """The password reset email."""
    body = (
        f"Hello {user.username},\n\nsomeone (hopefully you) asked to reset the password of your "
        "paperfeed account.\n"
        f"Open this link within an hour to choose a new one:\n\n  {link}\n\n"
        "Setting a new password logs you out everywhere and revokes your API tokens.\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n"
    )
    return notice_message(settings, user.email, "Reset your paperfeed password", body, now,
                          kind="reset")


def request_password_reset(
    settings: Settings,
    store: Store,
    secret: str,
    login: str,
    mailer: Mailer,
    may_mail_unconfirmed: Callable[[str], bool] | None = None,
) -> bool:
    """Email a reset link to the account named by username or email; says nothing about whether it
    exists.

    An account whose address nobody confirmed gets the mail only while `may_mail_unconfirmed` (the
    per-address bound, #21 F14) allows it. Returns whether a message went out (for logs and tests,
    never for the answer to the visitor).
    """
    found = store.users.user_credentials(login) if login.strip() else None
    if found is None:
        return False
    user, hashed = found
    if not user.email_verified and may_mail_unconfirmed and not may_mail_unconfirmed(user.email):
        return False
    token = quote(reset_token(secret, user.id, hashed))
    link = f"{settings.base_url.rstrip('/')}/password-reset/confirm?t={token}"
    mailer.send(reset_message(settings, user, link, datetime.now(UTC)), lambda: None)
    return True


# ----- log-in throttle ----------------------------------------------------------------------------


def throttle_key(user_id: int | None, login: str = "") -> str:
    """The row that counts failures: the account when it exists, else the (hashed) name tried."""
    if user_id is not None:
        return f"user:{user_id}"
    return "name:" + hashlib.sha256(login.strip().lower().encode("utf-8")).hexdigest()[:40]


def login_wait(store: Store, key: str, now: datetime | None = None) -> float:
    """Seconds until the next attempt on this account may be checked (0: now)."""
    state = store.security.login_failures(key)
    if state is None:
        return 0.0
    failures, last = state
    if failures < FREE_FAILURES:
        return 0.0
    delay = min(MAX_DELAY, 2.0 ** (failures - FREE_FAILURES))
    elapsed = ((now or datetime.now(UTC)) - last).total_seconds()
    return max(0.0, delay - elapsed)


@dataclass(frozen=True)
class LoginResult:
    """A successful log-in: the user and the new session id."""

    user: User
    sid: str


@dataclass(frozen=True)
class DeviceClaim:
    """What a valid device cookie says: the account and the fingerprint of its password then."""

    user_id: int
    fingerprint: str


def device_vouches(store: Store, claim: DeviceClaim | None, login: str) -> bool:
    """Whether a device cookie is the owner's for the very account `login` names, password
    unchanged.

    Only then may a log-in be counted on its own instead of with its address (#21 F4): a cookie of
    an account one made oneself vouches for that account only, so it buys no guesses on others.
    """
    if claim is None or not login.strip() or "\x00" in login:
        return False
    found = store.users.user_credentials(login.strip())
    return (
        found is not None
        and found[0].id == claim.user_id
        and secrets.compare_digest(claim.fingerprint, _fingerprint(found[1]))
    )


def log_in(
    store: Store,
    login: str,
    password: str,
    trusted_device: DeviceClaim | None,
    user_agent: str = "",
) -> LoginResult:
    """Check a username/email and password under the throttle; BadRequest or TooManyRequests
    otherwise.

    `trusted_device` is a valid device cookie the browser sent: it skips the per-account wait for
    that account only, and only while the account's password is the one it was issued under.
    """
    login = login.strip()
    if "\x00" in login or "\x00" in password:
        raise BadRequest("username/email and password must not contain NUL characters")
    found = store.users.user_credentials(login) if login else None
    key = throttle_key(found[0].id if found else None, login)
    owner_device = (
        found is not None
        and trusted_device is not None
        and trusted_device.user_id == found[0].id
        and secrets.compare_digest(trusted_device.fingerprint, _fingerprint(found[1]))
    )
    if not owner_device:
        wait = login_wait(store, key)
        if wait > 0:
            raise TooManyRequests(
                f"too many failed log-ins for this account: try again in {int(wait) + 1} seconds "
                "(or reset your password by email)",
                retry_after=int(wait) + 1,
            )
    stored = found[1] if found else DUMMY_HASH
    if not (verify_password(stored, password) and found is not None):
        store.security.record_login_failure(key)
        raise BadRequest("wrong username/email or password")
    user = found[0]
    if needs_rehash(stored):
        store.users.set_password_hash(user.id, hash_password(password))
    store.security.clear_login_failures(key)
    return LoginResult(user, issue_session(store, user.id, user_agent))


def device_cookie(store: Store, secret: str, user_id: int) -> str | None:
    """The signed value of the device cookie set after a successful log-in (None: no such account).

    It carries the fingerprint of the current password hash: a password change or reset revokes it.
    """
    user = store.users.get_user(user_id)
    found = store.users.user_credentials(user.username) if user else None
    if found is None:
        return None
    payload = [user_id, _fingerprint(found[1])]
    return str(URLSafeTimedSerializer(secret, salt=DEVICE_SALT).dumps(payload))


def read_device_cookie(secret: str, value: str | None) -> DeviceClaim | None:
    """What a valid device cookie claims, else None (a bare user id from before F4 is not valid)."""
    if not value or len(value) > 300:
        return None
    try:
        data = URLSafeTimedSerializer(secret, salt=DEVICE_SALT).loads(value, max_age=DEVICE_MAX_AGE)
    except (BadSignature, UnicodeError, ValueError):
        return None
    if not (
        isinstance(data, list)
        and len(data) == 2
        and isinstance(data[0], int)
        and isinstance(data[1], str)
    ):
        return None
    return DeviceClaim(data[0], data[1])
