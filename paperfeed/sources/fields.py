"""Field converters shared by the parsers: author lists, category lists, dates, numbers."""

from __future__ import annotations

import re
from datetime import date
from email.utils import parsedate_to_datetime

from paperfeed.core.models import normalise_space

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


def _parts(text: str) -> list[str]:
    """Split at depth 0 on ',', ';', ':' (arXiv's collaboration separator) and ' and '."""
    parts: list[str] = []
    depth, start, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in ",;:":
            parts.append(text[start:i])
            start = i + 1
        elif depth == 0 and text.startswith(" and ", i):
            parts.append(text[start:i])
            start = i + 5
            i += 4
        i += 1
    parts.append(text[start:])
    return parts


def _groups(part: str) -> tuple[str, list[str]]:
    """A part's text outside parentheses (the name) and its top-level parenthesised groups."""
    name, groups, depth, current = [], [], 0, []
    for ch in part:
        if ch == "(":
            if depth:
                current.append(ch)
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth:
                current.append(ch)
            else:
                groups.append("".join(current))
                current = []
        elif depth:
            current.append(ch)
        else:
            name.append(ch)
    if current:  # an unclosed group: its text is an affiliation cut short
        groups.append("".join(current))
    return normalise_space("".join(name)), groups


_LABEL = re.compile(r"^\s*\d+(?:\s*,\s*\d+)*\s*$")
_FOOTNOTE = re.compile(r"\(\s*(\d+)\s*\)\s*([^()]+?)\s*(?=,?\s*\(\s*\d+\s*\)|$)")


def split_authors_affiliations(text: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """Names and per-author affiliations from arXiv's author string.

    'A (MIT, USA), B and C (ETH)' gives (A, B, C) and ((MIT, USA), (), (ETH)); numbered affiliations
    'A (1), B (1, 2) ((1) MIT, (2) ETH)' are resolved through their labels; 'ATLAS Collaboration: G.
    Aad, ...' keeps the collaboration as one name, never ':' itself.
    """
    names: list[str] = []
    raw: list[list[str]] = []
    notes: dict[str, str] = {}
    for part in _parts(normalise_space(text)):
        name, groups = _groups(_AND_PREFIX.sub("", part.strip()))
        own: list[str] = []
        for g in groups:
            found = _FOOTNOTE.findall(g)
            if found and g.strip().startswith("("):
                notes.update((num, normalise_space(aff.rstrip(",;"))) for num, aff in found)
            else:
                own.append(g)
        if not any(c.isalnum() for c in name):
            if own and raw:  # a block of affiliations after the last name belongs to it
                raw[-1].extend(own)
            continue
        names.append(name)
        raw.append(own)
    affiliations: list[tuple[str, ...]] = []
    for own in raw:
        out: list[str] = []
        for g in own:
            if _LABEL.match(g):
                out.extend(notes.get(n.strip(), "") for n in g.split(","))
            else:
                out.append(normalise_space(g))
        affiliations.append(tuple(a for a in out if a))
    return tuple(names), tuple(affiliations) if any(affiliations) else ()


def split_authors(text: str) -> tuple[str, ...]:
    """Split 'A, B and C' (also 'A; B', 'A, B, and C') into names, in order, affiliations left
    out."""
    return split_authors_affiliations(text)[0]


def _named(text: str) -> bool:
    """Whether an author entry names someone (arXiv's collaboration ':' does not)."""
    return any(c.isalnum() for c in text)


def authors_of(value: object, name: str = "authors") -> tuple[str, ...]:
    """Authors from a list of names, a list of {'name': ...} objects or one 'A, B and C' string."""
    if value is None:
        return ()
    if isinstance(value, str):
        return split_authors(value)
    if isinstance(value, list):
        if all(type(item) is str for item in value):  # the common case, kept cheap for big dumps
            return tuple(
                clean
                for clean in map(squash, value)
                if clean and (clean[0].isalnum() or _named(clean))
            )
        out: list[str] = []
        for item in value:
            if isinstance(item, dict):
                item = item.get("name")
            if not isinstance(item, str):
                raise FieldError(f"{name}: expected names (strings), got {type(item).__name__}")
            clean = normalise_space(item)
            if clean and _named(clean):
                out.append(clean)
        return tuple(out)
    raise FieldError(f"{name}: expected a list or a string, got {type(value).__name__}")


def categories_of(value: object, name: str = "categories") -> tuple[str, ...]:
    """Categories from a list or a 'cs.CL cs.AI' / 'cs.CL; cs.AI' string, primary first, no
    repeats."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = _CATEGORY_SPLIT.split(value)
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


def date_of(value: object, name: str = "date") -> date | None:
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


def int_of(value: object, name: str) -> int | None:
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


def text_of(value: object, name: str) -> str:
    """Whitespace-normalised text; '' when absent; FieldError when it is not a string."""
    if type(value) is str:
        return squash(value)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError(f"{name}: expected text, got {type(value).__name__}")
    return normalise_space(value)


def optional_text(value: object, name: str) -> str | None:
    """Like text_of but None for absent or blank values."""
    return text_of(value, name) or None


def organization_of(value: object, name: str = "organization") -> tuple[str | None, str | None]:
    """(id, full name) of a Hugging Face organisation: {"name": "nvidia", "fullname": "NVIDIA"} or
    "nvidia"."""
    if value is None or value == "":
        return None, None
    if isinstance(value, str):
        return optional_text(value, name), None
    if isinstance(value, dict):
        return optional_text(value.get("name"), f"{name}.name"), optional_text(
            value.get("fullname"), f"{name}.fullname"
        )
    raise FieldError(f"{name}: expected an object or a name, got {type(value).__name__}")
