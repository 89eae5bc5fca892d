"""Search query syntax: words, "exact phrases", -excluded words, author:, cat:, year:, since:,
until:.

Parsing never fails: anything malformed is searched as plain words and a notice says so.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date

FIELDS = ("author", "cat", "year", "since", "until")
_TOKEN = re.compile(r'(-?)(?:([A-Za-z]+):)?(?:"([^"]*)"|(\S+))')
_YEAR = re.compile(r"^(\d{4})$")
_YEAR_RANGE = re.compile(r"^(\d{4})(?:-|\.\.)(\d{4})$")
_DAY = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into its parts."""

    raw: str
    words: tuple[str, ...] = ()  # plain words, as typed
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    excluded_phrases: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # as typed; resolved to codes by the search
    since: date | None = None
    until: date | None = None
    notices: tuple[str, ...] = field(default=())

    @property
    def positive_text(self) -> str:
        """The words and phrases to rank by (what the semantic model embeds)."""
        return " ".join([*self.words, *self.phrases]).strip()


def _period(text: str, end: bool) -> date | None:
    """A date from YYYY, YYYY-MM or YYYY-MM-DD: the first day of the period, or its last with
    end."""
    m = _DAY.match(text)
    if not m:
        return None
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    try:
        if month is None:
            return date(year, 12, 31) if end else date(year, 1, 1)
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return date(year, month, last if end else 1)
        return date(year, month, day)
    except ValueError:
        return None


def parse_query(raw: str) -> ParsedQuery:
    """Split a query into words, phrases, exclusions and filters; never raises."""
    notices: list[str] = []
    text = raw.strip()
    if text.count('"') % 2:
        notices.append('unbalanced quote: searched the words without the phrase')
        text = text.replace('"', " ")
    words: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    excluded_phrases: list[str] = []
    authors: list[str] = []
    cats: list[str] = []
    since: date | None = None
    until: date | None = None

    def plain(token: str) -> None:
        words.extend(w for w in token.replace('"', " ").split() if w)

    for m in _TOKEN.finditer(text):
        neg, key, quoted, bare = m.group(1), m.group(2), m.group(3), m.group(4)
        value = quoted if quoted is not None else (bare or "")
        name = key.casefold() if key else None
        if name is not None and name not in FIELDS:
            # "covid:" or "arXiv:2401.1" are words, not operators
            plain(m.group(0)[1:] if neg else m.group(0))
            continue
        if (
            name is None
            and quoted is None
            and value.endswith(":")
            and value[:-1].casefold() in FIELDS
        ):
            notices.append(f"{value} needs a value right after the colon: ignored")
            continue
        if name is None:
            if neg:
                if not value.strip():
                    continue
                (excluded_phrases if quoted is not None else excluded).append(value.strip())
            elif quoted is not None:
                if len(value.split()) > 1:
                    phrases.append(" ".join(value.split()))
                elif value.strip():
                    words.append(value.strip())
            else:
                words.append(value)
            continue
        value = value.strip()
        if neg:
            notices.append(f"-{name}: is not supported: searched {value!r} as words")
            plain(value)
            continue
        if not value:
            notices.append(f"{name}: needs a value: ignored")
            continue
        if name == "author":
            authors.append(value)
        elif name == "cat":
            cats.append(value)
        elif name == "year":
            y = _YEAR.match(value)
            r = _YEAR_RANGE.match(value)
            # Year 0000 matches the pattern but no calendar has it: refuse it like any non-year.
            if y and int(y.group(1)) >= 1:
                since, until = date(int(y.group(1)), 1, 1), date(int(y.group(1)), 12, 31)
            elif r and 1 <= int(r.group(1)) <= int(r.group(2)):
                since, until = date(int(r.group(1)), 1, 1), date(int(r.group(2)), 12, 31)
            else:
                notices.append(
                    f"year:{value} is not a year (e.g. year:2024 or year:2022-2024): searched as "
                    "words"
                )
                plain(value)
        else:  # since / until
            parsed = _period(value, end=(name == "until"))
            if parsed is None:
                notices.append(
                    f"{name}:{value} is not a date (YYYY, YYYY-MM or YYYY-MM-DD): searched as words"
                )
                plain(value)
            elif name == "since":
                since = parsed
            else:
                until = parsed
    if since and until and since > until:
        notices.append(f"since {since} is after until {until}: dates ignored")
        since = until = None
    return ParsedQuery(
        raw=raw,
        words=tuple(words),
        phrases=tuple(phrases),
        excluded=tuple(excluded),
        excluded_phrases=tuple(excluded_phrases),
        authors=tuple(authors),
        categories=tuple(cats),
        since=since,
        until=until,
        notices=tuple(notices),
    )
