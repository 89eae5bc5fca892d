"""Signed tokens for the links in digest emails: one-click unsubscribe and more/less like this.

A token is an itsdangerous TimestampSigner signature (HMAC with the site's secret key) over ids and
the account's stamp: "USER.STAMP" for unsubscribe, "USER.PAPER.STAMP" for feedback, each kind with
its own salt so one can never pass as the other. The stamp is a digest of the account's id and
creation time, so a link made for a deleted account can never act on another account that gets the
same id (#21 F7); deleting the account revokes its links. Tokens from before the stamp (bare ids)
are refused. A digest carries dozens of links, so tokens are plain signatures rather than serialized
JSON (10x cheaper to make). The feedback signal (+1 / -1) rides in the URL beside the token: whoever
holds the token may say either about that paper.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from itsdangerous.encoding import base64_encode, int_to_bytes

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import User
from paperfeed.core.settings import Settings
from paperfeed.delivery.common.secret_key import resolve_secret_key

UNSUBSCRIBE_SALT = "paperfeed.digest.unsubscribe"
FEEDBACK_SALT = "paperfeed.digest.feedback"
# an old digest's unsubscribe link keeps working for a year and more
UNSUBSCRIBE_MAX_AGE = 400 * 86400
FEEDBACK_MAX_AGE = 120 * 86400


def email_secret(settings: Settings) -> str:
    """The key that signs email links: the site's secret key (the development key file when
    unset)."""
    return resolve_secret_key(settings)


class _Signer(TimestampSigner):
    """itsdangerous's TimestampSigner with the key derived once and the HMAC state reused.

    A digest signs a token per paper; the stock signer derives the key and builds the HMAC from
    scratch each time (~30 us a token). Tokens are byte-for-byte the same and are verified by the
    stock `unsign`.
    """

    def __init__(self, secret: str, salt: str) -> None:
        super().__init__(secret, salt=salt)
        self._mac = hmac.new(self.derive_key(), digestmod=self.digest_method)
        self._stamp: tuple[int, bytes] = (-1, b"")

    def sign(self, value: str | bytes) -> bytes:
        """Sign value with the current time (the same bytes the stock signer would give)."""
        raw = value.encode("utf-8") if isinstance(value, str) else value
        now = self.get_timestamp()
        if self._stamp[0] != now:
            self._stamp = (now, base64_encode(int_to_bytes(now)))
        signed = raw + self.sep + self._stamp[1]
        mac = self._mac.copy()
        mac.update(signed)
        return signed + self.sep + base64_encode(mac.digest())


@lru_cache(maxsize=16)
def _signer(secret: str, salt: str) -> TimestampSigner:
    return _Signer(secret, salt)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OLD_FORMAT = (
    "this {kind} link is from an older paperfeed and no longer works:"
    " use the links of a newer digest"
)


def link_stamp(user: User) -> str:
    """What binds a link to one account: a digest of its id and creation time (to the microsecond).

    Exact integer microseconds, not a float timestamp, so both backends give the same stamp.
    """
    created = user.created_at if user.created_at.tzinfo else user.created_at.replace(tzinfo=UTC)
    micros = (created - _EPOCH) // timedelta(microseconds=1)
    return hashlib.sha256(f"{user.id}:{micros}".encode("ascii")).hexdigest()[:12]


def link_account(user: User | None, stamp: str) -> User:
    """The account a link's (id, stamp) names; NotFound when it was deleted (or the id is
    another's)."""
    if user is None or not hmac.compare_digest(link_stamp(user), stamp):
        raise NotFound("this link was made for an account that no longer exists")
    return user


def unsubscribe_token(secret: str, user: User) -> str:
    """A token that unsubscribes this user (this account only, see link_stamp)."""
    return _signer(secret, UNSUBSCRIBE_SALT).sign(f"{user.id}.{link_stamp(user)}").decode("ascii")


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str]:
    """(user id, account stamp) of an unsubscribe token; BadRequest when forged, garbled, old-format
    or too old."""
    value = _unsign(secret, UNSUBSCRIBE_SALT, token, UNSUBSCRIBE_MAX_AGE, "unsubscribe")
    if value.isdigit():
        raise BadRequest(_OLD_FORMAT.format(kind="unsubscribe"))
    uid, _, stamp = value.partition(".")
    if not (uid.isdigit() and stamp):
        raise BadRequest("this unsubscribe link is not valid")
    return int(uid), stamp


def feedback_token(secret: str, user: User, paper_id: int) -> str:
    """A token that lets its holder say "more / less like this" about a paper for a user."""
    return (
        _signer(secret, FEEDBACK_SALT)
        .sign(f"{user.id}.{paper_id}.{link_stamp(user)}")
        .decode("ascii")
    )


def read_feedback_token(secret: str, token: str) -> tuple[int, int, str]:
    """(user id, paper id, account stamp) of a feedback token; BadRequest when not valid."""
    value = _unsign(secret, FEEDBACK_SALT, token, FEEDBACK_MAX_AGE, "feedback")
    parts = value.split(".")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        raise BadRequest(_OLD_FORMAT.format(kind="feedback"))
    if not (len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit() and parts[2]):
        raise BadRequest("this feedback link is not valid")
    return int(parts[0]), int(parts[1]), parts[2]


def _unsign(secret: str, salt: str, token: str, max_age: int, kind: str) -> str:
    try:
        raw = _signer(secret, salt).unsign(token.strip(), max_age=max_age)
    except SignatureExpired:
        raise BadRequest(f"this {kind} link has expired; use the links of a newer digest") from None
    except (BadSignature, UnicodeError, ValueError):
        raise BadRequest(
            f"this {kind} link is not valid (it may have been cut short by your mail program)"
        ) from None
    return raw.decode("ascii", "replace")
