"""Comment Markdown to safe HTML: markdown-it-py renders (raw HTML off), nh3 (ammonia) sanitises.

Two libraries, two jobs: markdown-it-py with `html` off already escapes raw tags and refuses
javascript:/vbscript:/data: links; nh3 then keeps only an allow-list of tags, attributes and URL
schemes, so whatever a future renderer option lets through is still cut.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}
# No style attributes: the site's CSP refuses inline styles anyway.
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"])


_ABSOLUTE = re.compile(r"(?:https?://[^/\s]|mailto:)", re.IGNORECASE)


def _only_absolute_links(tag: str, attribute: str, value: str) -> str | None:
    """Keep an href only when absolute http(s) with a host, or mailto (as the README promises).

    nh3's scheme list lets relative links and `//host` through (they have no scheme); a comment's
    link must not point into this site or to a host hidden behind a scheme-relative URL (#21).
    """
    if tag == "a" and attribute == "href" and not _ABSOLUTE.match(value):
        return None
    return value


@lru_cache(maxsize=8192)  # a thread re-renders the same comments on every uncached view
def render_markdown(source: str) -> str:
    """Sanitised HTML of a Markdown comment (links get rel="nofollow noopener ugc")."""
    return nh3.clean(
        _md().render(source), tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener ugc", attribute_filter=_only_absolute_links,
    )


def plain_excerpt(source: str, limit: int = 200) -> str:
    """The comment as short plain text (emails, notifications): the rendered HTML stripped of
    tags."""
    text = nh3.clean(_md().render(source), tags=set())
    text = html.unescape(" ".join(text.split()))
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"
