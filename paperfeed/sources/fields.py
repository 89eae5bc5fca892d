"""Field converters shared by the parsers: author lists, category lists, dates, numbers."""

from __future__ import annotations

import re
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

from paperfeed.core.models import normalise_space

# Commas inside parentheses separate affiliations, not authors: "A (MIT, USA), B".
_AUTHOR_SPLIT = re.compile(r"\s*,\s*(?![^()]*\))|\s+and\s+|\s*;\s*")
_AND_PREFIX = re.compile(r"^and\s+")
_CATEGORY_SPLIT = re.compile(r"[\s,;|]+")


class FieldError(ValueError):
    """A field of a record has a value that cannot be used; the message names the field."""


def squash(text: str) -> str:
    """normalise_space, faster on the common case of text whose only odd whitespace is newlines."""
    flat = text.replace("\n", " ").strip()
    # Every whitespace character but ' ' is unprintable, so a printable string without double
    # spaces is already normal; big dumps spend much of their time here.
    if "  " in flat or not flat.isprintable():
        return " ".join(flat.split())
    return flat


def split_authors(text: str) -> tuple[str, ...]:
    """Split 'A, B and C' (also 'A; B', 'A, B, and C') into names, in order."""
    parts = _AUTHOR_SPLIT.split(normalise_space(text))
    names = (normalise_space(_AND_PREFIX.sub("", p)) for p in parts)
    return tuple(n for n in names if n)


def authors_of(value: Any, name: str = "authors") -> tuple[str, ...]:
    """Authors from a list of names, a list of {'name': ...} objects or one 'A, B and C' string."""
    if value is None:
        return ()
    if isinstance(value, str):
        return split_authors(value)
    if isinstance(value, list):
        if all(type(item) is str for item in value):  # the common case, kept cheap for big dumps
            return tuple(clean for clean in map(squash, value) if clean)
        out: list[str] = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("name")
            if not isinstance(item, str):
                raise FieldError(f"{name}: expected names (strings), got {type(item).__name__}")
            clean = normalise_space(item)
            if clean:
                out.append(clean)
        return tuple(out)
    raise FieldError(f"{name}: expected a list or a string, got {type(value).__name__}")


def categories_of(value: Any, name: str = "categories") -> tuple[str, ...]:
    """Categories from a list or a 'cs.CL cs.AI' / 'cs.CL; cs.AI' string, primary first, no repeats."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = _CATEGORY_SPLIT.split(value)
    elif isinstance(value, list):
        if all(type(item) is str and item and item.strip() == item for item in value):
            return tuple(dict.fromkeys(value))
        items = value
    else:
        raise FieldError(f"{name}: expected a list or a string, got {type(value).__name__}")
    out: dict[str, None] = {}  # a dict keeps the order and drops repeats
    for item in items:
        if not isinstance(item, str):
            raise FieldError(f"{name}: expected strings, got {type(item).__name__}")
        item = item.strip()
        if item:
            out[item] = None
    return tuple(out)


def date_of(value: Any, name: str = "date") -> date | None:
    """A day from '2025-03-18', an ISO timestamp or an RFC 2822 date ('Mon, 2 Apr 2007 ...')."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FieldError(f"{name}: expected a date string, got {type(value).__name__}")
    text = value.strip()
    try:
        if len(text) >= 10 and text[4] == "-" and text[7] == "-":
            return date.fromisoformat(text[:10])
        return parsedate_to_datetime(text).date()
    except (ValueError, TypeError, IndexError):
        raise FieldError(f"{name}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def int_of(value: Any, name: str) -> int | None:
    """A non-negative count from an int or a digit string; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FieldError(f"{name}: expected a number, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise FieldError(f"{name}: {value!r} is not a whole number")
    if number < 0:
        raise FieldError(f"{name}: {number} is negative")
    return number


def text_of(value: Any, name: str) -> str:
    """Whitespace-normalised text; '' when absent; FieldError when it is not a string."""
    if type(value) is str:
        return squash(value)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError(f"{name}: expected text, got {type(value).__name__}")
    return normalise_space(value)


def optional_text(value: Any, name: str) -> str | None:
    """Like text_of but None for absent or blank values."""
    return text_of(value, name) or None
