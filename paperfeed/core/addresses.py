"""The one email-address check (signup, profile import, invites): syntax only, never DNS."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL = 320  # the longest address a column or form field takes


def is_email(address: str) -> bool:
    """Whether `address` is a usable email address by its syntax (the domain is not looked up)."""
    if len(address) > MAX_EMAIL or "\x00" in address:
        return False
    try:
        # strict: also the 64-character limit before the @ (the check before this one had it)
        validate_email(address, check_deliverability=False, strict=True)
    except EmailNotValidError:
        return False
    return True
