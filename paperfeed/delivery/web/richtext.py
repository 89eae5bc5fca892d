"""Titles and abstracts as they are meant to read: TeX math as MathML, matched words marked.

Math (`$...$`, `$$...$$`, `\\(...\\)`) is converted on the server by latex2mathml, so pages need no
script and no CDN (the CSP stays as it is); the MathML is then cleaned by nh3 with a MathML-only
allow list, because latex2mathml copies `\\text{...}` and `\\href` arguments through unescaped.
Everything outside math is HTML-escaped, and words whose stem is one of the query's are wrapped in
`<mark>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import nh3
from latex2mathml.converter import convert
from markupsafe import Markup, escape

from paperfeed.index.text import fold, stem_words

_MATH = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)", re.DOTALL)
_WORD = re.compile(r"\w\w+")
_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac",
    "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
    "mphantom", "menclose",
}
_ATTRS = {
    "mathvariant",
    "display",
    "stretchy",
    "fence",
    "separator",
    "lspace",
    "rspace",
    "accent",
    "accentunder",
    "columnalign",
    "displaystyle",
    "scriptlevel",
    "width",
    "height",
    "depth",
    "notation",
    "linethickness",
    "movablelimits",
    "largeop",
    "symmetric",
    "minsize",
    "maxsize",
    "form",
}
_ALLOWED = {tag: _ATTRS | ({"xmlns"} if tag == "math" else set()) for tag in _TAGS}
_MAX_MATH = 400  # longer "math" is more likely two stray dollar signs than a formula


@lru_cache(maxsize=20_000)
def math_to_mathml(tex: str) -> str | None:
    """Inline MathML for a TeX formula, cleaned; None when latex2mathml cannot read it."""
    if len(tex) > _MAX_MATH:
        return None
    try:
        raw = convert(tex.strip())
    except Exception:  # noqa: BLE001 - any parse failure of untrusted TeX: show the source instead
        return None
    return nh3.clean(raw, tags=_TAGS, attributes=_ALLOWED)


def query_stems(query: str) -> frozenset[str]:
    """The stems of a query's positive words (not `-excluded`, not `field:value` filters)."""
    kept = [t for t in query.replace('"', " ").split() if not t.startswith("-") and ":" not in t]
    return frozenset(stem_words(fold(" ".join(kept)).split()))


def _marked(text: str, stems: frozenset[str]) -> str:
    if not stems:
        return str(escape(text))
    out: list[str] = []
    last = 0
    for m in _WORD.finditer(text):
        word = m.group(0)
        if set(stem_words([fold(word)])) & stems:
            out.append(str(escape(text[last:m.start()])))
            out.append(f"<mark>{escape(word)}</mark>")
            last = m.end()
    out.append(str(escape(text[last:])))
    return "".join(out)


def _cut(text: str, limit: int) -> str:
    """Shorten at a word boundary, never inside a formula."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    if cut.count("$") % 2:  # the cut fell inside $...$: end before that formula
        cut = cut[: cut.rfind("$")].rstrip()
    return cut.rstrip(",.;:") + "…"


def rich(text: str | None, limit: int = 0, marks: Iterable[str] | frozenset[str] = ()) -> Markup:
    """Safe HTML for a title or abstract: math as MathML, the query's words in <mark>."""
    if not text:
        return Markup("")
    stems = marks if isinstance(marks, frozenset) else frozenset(marks)
    if limit:
        text = _cut(text, limit)
    out: list[str] = []
    last = 0
    for m in _MATH.finditer(text):
        tex = next(g for g in m.groups() if g is not None)
        mathml = math_to_mathml(tex)
        if mathml is None:
            continue  # left as text: it is escaped with the rest
        out.append(_marked(text[last:m.start()], stems))
        out.append(mathml)
        last = m.end()
    out.append(_marked(text[last:], stems))
    return Markup("".join(out))
