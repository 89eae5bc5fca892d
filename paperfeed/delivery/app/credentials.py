"""Credentials without a web framework: argon2id password hashes, password strength (zxcvbn), API
token secrets.

Used by the account use cases and the web adapters alike.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

TOKEN_PREFIX = "pf_"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether the password matches the stored argon2 hash."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


# Verifying against this when the account does not exist keeps the timing of both failures alike.
DUMMY_HASH = hash_password("not-a-real-password-0")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MIN_PASSWORD_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline attacks"


def password_problem(password: str, username: str = "", email: str = "") -> str | None:
    """Why a new password is too weak (zxcvbn's estimate, knowing the user's name and email), or
    None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"at most {MAX_PASSWORD_LENGTH} characters"
    from zxcvbn import zxcvbn

    inputs = [v for v in (username, email, email.split("@")[0], "paperfeed") if v]
    # zxcvbn's time grows with length; the first 100 characters decide the score of any real
    # password.
    result = zxcvbn(password[:100], user_inputs=inputs)
    if int(result["score"]) >= MIN_PASSWORD_SCORE:
        return None
    feedback = result.get("feedback") or {}
    hints = " ".join(
        x for x in [feedback.get("warning") or "", *(feedback.get("suggestions") or [])] if x
    )
    return "too easy to guess" + (
        f": {hints}" if hints else "; use a longer phrase of uncommon words"
    )


def new_api_token() -> str:
    """A fresh personal API token (shown once; only its hash is stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 hex of a token: tokens are long random strings, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
