"""Incremental XML parsing for the arXiv Atom and OAI-PMH parsers, safe on cut-off documents.

The stdlib parser is used because defusedxml is not a dependency. It is safe enough here because
every document with a DTD is refused before parsing: without a DTD there are no entity declarations,
so no entity-expansion bombs, and expat never fetches external resources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, ParseError, XMLPullParser

_FEED_CHUNK = 1 << 16


@dataclass
class XmlDoc:
    """What could be parsed of a document: the root so far, the finished elements, and any error."""

    root: Element | None
    error: str | None = None  # why parsing stopped before the end (malformed, cut off, refused)
    _ended: set[int] = field(default_factory=set, repr=False)

    def finished(self, element: Element) -> bool:
        """Whether the element's end tag was reached (a cut-off document leaves the last one
        open)."""
        return id(element) in self._ended


def parse_xml(data: bytes, location: str) -> XmlDoc:
    """Parse as far as the document is well-formed; `error` says where and why it stopped."""
    if not data.strip():
        return XmlDoc(None, f"{location}: empty response, expected XML")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return XmlDoc(None, f"{location}: refusing XML with a DTD or entity declarations")
    parser: XMLPullParser[Element] = XMLPullParser(events=("start", "end"))
    doc = XmlDoc(None)
    try:
        for offset in range(0, len(data), _FEED_CHUNK):
            parser.feed(data[offset : offset + _FEED_CHUNK])
            _drain(parser, doc)
        parser.close()
        _drain(parser, doc)
    except ParseError as exc:
        _drain(parser, doc)
        reason = str(exc).split(":", 1)[0]
        # expat reports a document that stops early as 'no element found' or 'unclosed token'.
        cut = (
            "cut off (truncated)"
            if reason in ("no element found", "unclosed token")
            else "malformed"
        )
        line, column = exc.position
        doc.error = f"{location}: XML {cut} at line {line}, column {column}: {reason}"
    except (LookupError, ValueError) as exc:
        # expat raises LookupError for an unknown declared encoding ('TF-8') and ValueError for
        # some undecodable input; both are a refusal of the document, not a crash.
        _drain(parser, doc)
        doc.error = f"{location}: XML cannot be read: {exc}"
    if doc.root is None and doc.error is None:
        doc.error = f"{location}: no XML element found"
    return doc


def _drain(parser: XMLPullParser[Element], doc: XmlDoc) -> None:
    for item in parser.read_events():
        event, element = item[0], item[-1]
        if not isinstance(element, Element):
            continue
        if event == "start" and doc.root is None:
            doc.root = element
        elif event == "end":
            doc._ended.add(id(element))


def local(tag: str) -> str:
    """A tag without its '{namespace}' prefix."""
    return tag.rsplit("}", 1)[-1]


def child_text(element: Element, tag: str) -> str:
    """The text of the first child with this (namespaced) tag, whitespace kept; '' when absent."""
    child = element.find(tag)
    return "".join(child.itertext()) if child is not None else ""
