"""TeX accents and escapes to letters, math left alone: `B\\'ela Bollob\\'as` -> `Béla Bollobás`.

arXiv stores names, titles and abstracts as their authors typed them, in TeX. Only the accent macros
(\\'e, \\"o, \\v{s}, {\\o}, \\ss, ...), the escaped specials (\\&, \\%, \\_, \\#, \\$) and a tie
between two words (`Fig.~3`) are converted, each fragment by pylatexenc's latex2text (its accent
tables, not ours). Everything inside $...$, $$...$$, \\(...\\) and \\[...\\] stays TeX, so
`$\\mathcal{O}(n)$` still renders as math on the page. A whole-text latex2text pass is not used on
purpose: it would drop everything after a bare `%` (a TeX comment) and rewrite math.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text

from paperfeed.core.models import Paper

# Unescaped math: $$...$$, $...$, \(...\), \[...\]; the text between them is converted.
_MATH = re.compile(
    r"(?<!\\)\$\$.+?(?<!\\)\$\$|(?<!\\)\$.+?(?<!\\)\$|\\\(.+?\\\)|\\\[.+?\\\]", re.DOTALL
)
_LETTER = r"(?:\\[ij](?![A-Za-z])|[A-Za-z])"
# One accent macro with its letter: \'e  \'{e}  \' e  \"{\i}  \v{s}  \c c, or a letter macro: \o
# \ss.
_ACCENT = (
    rf"\\['\"`^~=.]\s*(?:\{{\s*{_LETTER}\s*\}}|{_LETTER})"
    rf"|\\[uvHckdbr](?:\s*\{{\s*{_LETTER}\s*\}}|\s+{_LETTER}(?![A-Za-z]))"
    r"|\\(?:ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z])"
)
_FRAGMENT = re.compile(rf"\{{\s*(?:{_ACCENT})\s*\}}|{_ACCENT}|\\[&%_#$,]")
_TIE = re.compile(r"(?<=[A-Za-z.,;:)])~(?=[A-Za-z0-9(\\])")
# Anything _FRAGMENT or _TIE could change: most TeX in abstracts is math macros (\\mathcal,
# \\alpha),
# which this rejects at once, so big dumps pay one search per text, not a split around math.
_HINT = re.compile(
    r"\\(?:['\"`^~=.&%_#$,]|(?:[uvHckdbr]|ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z]))"
)
_CONVERTER = LatexNodes2Text()


@lru_cache(maxsize=4096)
def _letters(fragment: str) -> str:
    return str(_CONVERTER.latex_to_text(fragment))


def _plain(text: str) -> str:
    text = _FRAGMENT.sub(lambda m: _letters(m.group(0)), text)
    return _TIE.sub(" ", text)


def _hinted(text: str) -> bool:
    """Whether _FRAGMENT or _TIE could change the text (one literal-led search per text)."""
    return bool(("\\" in text and _HINT.search(text)) or ("~" in text and _TIE.search(text)))


def detex(text: str) -> str:
    """The text with TeX accents and escapes outside math turned into letters (NFC)."""
    if not _hinted(text):
        return text  # the common case, kept cheap for big dumps
    out: list[str] = []
    last = 0
    for m in _MATH.finditer(text):
        out.append(_plain(text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(_plain(text[last:]))
    return unicodedata.normalize("NFC", "".join(out))


def _needs(p: Paper) -> bool:
    texts = (
        p.title,
        p.abstract,
        p.comment or "",
        p.ai_summary or "",
        *p.authors,
        *(a for per in p.affiliations for a in per),
    )
    return any(_hinted(t) for t in texts)


def detex_paper(p: Paper) -> Paper:
    """The record with detex applied to its title, abstract, comment, AI summary, authors and
    affiliations."""
    if not _needs(p):
        return p
    return replace(
        p,
        title=detex(p.title),
        abstract=detex(p.abstract),
        comment=detex(p.comment) if p.comment else p.comment,
        ai_summary=detex(p.ai_summary) if p.ai_summary else p.ai_summary,
        authors=tuple(detex(a) for a in p.authors),
        affiliations=tuple(tuple(detex(a) for a in per) for per in p.affiliations),
    )
