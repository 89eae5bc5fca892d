"""Sign-up by email (#21 F13): the sign-up form answers the same whether or not the address is
registered, and the account is created only when the mailed link is followed.

A new address gets a link whose signed token (itsdangerous, one day) carries what the form was
given: username, address and where to go after. Whoever follows the link chooses the password there,
so an account made for someone else's address cannot be pre-set by its maker. Nothing is stored
before the link is followed, so neither a log-in nor a taken username can tell an onlooker whether
the address was free. A registered address gets, instead, a note that someone tried to sign up with
it, pointing to log-in and password reset. Either mail is the only one the address gets from the
form (the per-address bound of F14 applies to both).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from paperfeed.core.errors import BadRequest
from paperfeed.core.settings import Settings
from paperfeed.delivery.mail.compose import (
    Outgoing,
    notice_message,
)
from paperfeed.delivery.mail.mailer import MailError, open_mailer

log = logging.getLogger(__name__)
SIGNUP_SALT = "paperfeed.signup"
SIGNUP_MAX_AGE = 86400


@dataclass(frozen=True)
class SignupClaim:
    """What a sign-up link carries: the account to create and where to go after."""

    username: str
    email: str
    next: str


def signup_token(secret: str, claim: SignupClaim) -> str:
    """The signed token of a sign-up link (valid for a day)."""
    data = [claim.username, claim.email, claim.next]
    return str(URLSafeTimedSerializer(secret, salt=SIGNUP_SALT).dumps(data))


def read_signup_token(secret: str, token: str) -> SignupClaim:
    """The claim of a sign-up token; BadRequest when forged, garbled or older than a day."""
    try:
        data = URLSafeTimedSerializer(secret, salt=SIGNUP_SALT).loads(
            token.strip(), max_age=SIGNUP_MAX_AGE
        )
    except SignatureExpired:
        raise BadRequest("this sign-up link has expired: sign up again") from None
    except (BadSignature, UnicodeError, ValueError):
        raise BadRequest(
            "this sign-up link is not valid (it may have been cut short by your mail program)"
        ) from None
    if not (isinstance(data, list) and len(data) == 3 and all(isinstance(x, str) for x in data)):
        raise BadRequest("this sign-up link is not valid")
    return SignupClaim(data[0], data[1], data[2])


def signup_message(settings: Settings, secret: str, claim: SignupClaim, now: datetime) -> Outgoing:
    """The mail to a new address: the link that creates the account."""
    url = f"{settings.base_url.rstrip('/')}/signup/finish?t={quote(signup_token(secret, claim))}"
    body = (
        f"Hello {claim.username},\n\nsomeone (hopefully you) signed up on paperfeed with this "
        "address.\n"
        f"Open this link within a day to choose your password and create your account:\n\n{url}\n\n"
        "If you did not sign up, ignore this message: no account is made without it.\n"
    )
    subject = "paperfeed: finish signing up"
    return notice_message(settings, claim.email, subject, body, now, kind="signup")


def signup_taken_message(settings: Settings, email: str, now: datetime) -> Outgoing:
    """The mail to a registered address someone tried to sign up with."""
    base = settings.base_url.rstrip("/")
    body = (
        "Hello,\n\nsomeone tried to sign up on paperfeed with this address, which already has an "
        "account.\n"
        f"If it was you, log in at {base}/login or, if you forgot your password, reset it at "
        f"{base}/password-reset.\n\nIf it was not you, ignore this message: nothing changed.\n"
    )
    subject = "paperfeed: someone tried to sign up with your address"
    return notice_message(settings, email, subject, body, now, kind="signup")


def send_signup_mail(settings: Settings, out: Outgoing) -> None:
    """Hand a sign-up mail to the mail server (after the answer went out: failures are only
    logged)."""
    mailer = open_mailer(settings)
    try:
        mailer.send(out, lambda: None)
    except (MailError, OSError) as exc:
        log.warning("sign-up mail to %s not sent: %s", out.recipient, exc)
    finally:
        mailer.close()
