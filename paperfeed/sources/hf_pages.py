"""Saved Hugging Face papers listing pages (text copied from a browser): title/abstract line pairs.

The page text starts with a few header lines ('new', 'Get trending papers in your email inbox!',
'Subscribe', 'Daily Papers', 'byAK and the research community', a day like 'Aug 6'); when the page
was saved without blank lines the 'Subscribe' button text runs into the first title
('SubscribeCounterfactuals for Design: ...'). Then every paper is one title line followed by one
abstract line. There are no arXiv ids: the store keys these papers by normalised title.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from paperfeed.core.errors import RecordError
from paperfeed.core.models import Paper, normalise_space

SOURCE = "hf-page"
_BOILERPLATE = frozenset(
    {
        "new",
        "subscribe",
        "daily papers",
        "byak and the research community",
        "get trending papers in your email inbox!",
        "get trending papers in your email inbox once a day!",
        "trending papers",
        "previous",
        "next",
        "load more",
        "show more",
        "see more",
    }
)
_DAY = re.compile(
    r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}(?:, \d{4})?$",
    re.IGNORECASE,
)
# Titles on these pages are under 200 characters and never end with a full stop; abstracts are
# hundreds of characters and nearly always do. Only used to resynchronise a page that lost a line.
MAX_TITLE = 300
LONG_SENTENCE = 150
SUBSCRIBE = "Subscribe"


def is_boilerplate(line: str) -> bool:
    """Whether a line is page chrome (header, button, day heading) rather than paper text."""
    text = line.strip()
    return text.casefold() in _BOILERPLATE or bool(_DAY.match(text))


def looks_like_page(text: str) -> bool:
    """Whether text starts like a saved listing page (used by format detection)."""
    for line in text.splitlines()[:12]:
        if not line.strip():
            continue
        return bool(is_boilerplate(line) or line.startswith(SUBSCRIBE))
    return False


def _content_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of the lines that carry paper text, chrome dropped."""
    out: list[tuple[int, str]] = []
    in_header = True
    for number, raw in enumerate(text.splitlines(), start=1):
        line = normalise_space(raw)
        if not line or is_boilerplate(line):
            continue
        glued = line[len(SUBSCRIBE) : len(SUBSCRIBE) + 1]
        # The button text glued to the first title ('SubscribeCounterfactuals ...'); a title that
        # merely starts with the word ('Subscriber churn ...') continues in lower case.
        if in_header and line.startswith(SUBSCRIBE) and (glued.isupper() or glued.isdigit()):
            line = line[len(SUBSCRIBE) :].strip()
        in_header = False
        out.append((number, line))
    return out


def looks_like_abstract(line: str) -> bool:
    """Whether a line is too long, or too sentence-like, to be a title."""
    return len(line) > MAX_TITLE or (len(line) > LONG_SENTENCE and line.endswith("."))


def looks_like_title(line: str) -> bool:
    """Whether a line reads as a title rather than an abstract."""
    return not looks_like_abstract(line) and not line.endswith(".")


def parse_hf_page(text: str, name: str) -> Iterator[Paper | RecordError]:
    """Papers of one saved listing page, in page order; `name` is used in error locations."""
    lines = _content_lines(text)
    i = 0
    while i < len(lines):
        number, title = lines[i]
        if looks_like_abstract(title):
            yield RecordError(
                f"{name}:{number}",
                f"a {len(title)}-character paragraph where a title was expected (abstract without "
                "a title?)",
            )
            i += 1
            continue
        if i + 1 >= len(lines) or looks_like_title(lines[i + 1][1]):
            # The next line is another title: this one lost its abstract; resynchronise on the next.
            yield RecordError(
                f"{name}:{number}", f"title {title[:60]!r} has no abstract line after it"
            )
            i += 1
            continue
        yield Paper(title=title, abstract=lines[i + 1][1], source=SOURCE)
        i += 2
