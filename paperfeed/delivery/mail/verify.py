"""Email verification: a signed link (itsdangerous) that must be followed before any other mail goes
out.

The token signs the user id together with the address it was sent to, so a link mailed to an old
address cannot verify a changed one. Digests skip unverified accounts (see
delivery/jobs/digests.py); this message is the only one an unverified address ever receives.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import formataddr
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.core.errors import BadRequest, PaperfeedError
from paperfeed.core.models import User
from paperfeed.core.settings import Settings
from paperfeed.delivery.mail.compose import (
    Outgoing,
    notice_message,
)
from paperfeed.delivery.mail.mailer import Mailer, MailError, open_mailer
from paperfeed.store import Store

VERIFY_SALT = "paperfeed.email.verify"
VERIFY_MAX_AGE = 7 * 86400


class MailNotSent(PaperfeedError):
    """The verification message could not be handed to the mail server."""

    status = 503


def verification_token(secret: str, user: User) -> str:
    """A token that confirms this user's current address."""
    return str(
        URLSafeTimedSerializer(secret, salt=VERIFY_SALT).dumps([user.id, user.email.lower()])
    )


def read_verification_token(secret: str, token: str) -> tuple[int, str]:
    """(user id, address) of a verification token; BadRequest when forged, garbled or older than a
    week."""
    try:
        value = URLSafeTimedSerializer(secret, salt=VERIFY_SALT).loads(
            token.strip(), max_age=VERIFY_MAX_AGE
        )
    except SignatureExpired:
        raise BadRequest(
            "this verification link has expired: ask for a new one on your profile page"
        ) from None
    except (BadSignature, UnicodeError, ValueError):
        raise BadRequest(
            "this verification link is not valid (it may have been cut short by your mail program)"
        ) from None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], str)
    ):
        raise BadRequest("this verification link is not valid")
    return value[0], value[1]


def verification_url(settings: Settings, secret: str, user: User) -> str:
    """The link to put in the message."""
    return (
        f"{settings.base_url.rstrip('/')}/verify-email?t={quote(verification_token(secret, user))}"
    )


def verification_message(settings: Settings, secret: str, user: User, now: datetime) -> Outgoing:
    """The message carrying the verification link."""
    url = verification_url(settings, secret, user)
    body = (
        f"Hello {user.username},\n\nplease confirm that {user.email} is your address by opening "
        "this link "
        f"(valid for 7 days):\n\n{url}\n\nUntil then paperfeed sends you no other mail, digests "
        "included.\n"
        "If you did not sign up, ignore this message.\n"
    )
    subject = "paperfeed: confirm your email address"
    to_header = formataddr((user.username, user.email))
    return notice_message(settings, user.email, subject, body, now, kind=f"verify-{user.id}",
                          to_header=to_header)


def send_verification(
    settings: Settings, secret: str, user: User, now: datetime, mailer: Mailer | None = None
) -> None:
    """Mail the verification link; MailNotSent when the mail server refuses or cannot be reached."""
    if user.email_verified:
        raise BadRequest("your email address is already verified")
    own = mailer is None
    active = mailer or open_mailer(settings)
    try:
        active.send(verification_message(settings, secret, user, now), lambda: None)
    except (MailError, OSError) as exc:
        raise MailNotSent(
            f"the verification mail could not be sent ({exc}); try again later"
        ) from None
    finally:
        if own:
            active.close()


def pending_verification(store: Store, secret: str, token: str) -> User:
    """The account a verification link would confirm (a GET shows this and changes nothing).

    BadRequest when the link is bad, was used already, or the address changed since.
    """
    uid, email = read_verification_token(secret, token)
    user = store.users.get_user(uid)
    if user is None or user.email.lower() != email:
        raise BadRequest("this verification link is for an address the account no longer has")
    if user.email_verified:
        raise BadRequest("this verification link was used already: the address is confirmed")
    return user


def confirm_email(store: Store, secret: str, token: str) -> User:
    """Mark the address in the token verified, once (F10); BadRequest when bad, used or changed."""
    pending_verification(store, secret, token)
    uid, email = read_verification_token(secret, token)
    if not store.users.verify_email_once(uid, email):
        raise BadRequest("this verification link was used already: the address is confirmed")
    user = store.users.get_user(uid)
    assert user is not None
    return user
