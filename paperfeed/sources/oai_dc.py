"""OAI-PMH `oai_dc` (Dublin Core), the format every OAI-PMH server must offer, arXiv's included.

arXiv's oai_dc: dc:identifier holds the abs URL (http://arxiv.org/abs/ID), 'doi:10...' and the
journal reference as free text; dc:description holds the abstract, then 'Comment: ...'; dc:date
holds each version's day (v1 first); dc:subject holds category *names*, not codes, so categories
stay empty. A generic repository's record (no arXiv id) becomes a paper keyed by its title, with
its first http(s) identifier as the link; a date that is only a year ('2010') is left out rather
than invented.
"""

from __future__ import annotations

import re
from datetime import date
from xml.etree.ElementTree import Element

from paperfeed.core.models import Paper, parse_arxiv_ref
from paperfeed.sources.arxiv_meta import dois_of, is_withdrawn
from paperfeed.sources.fields import FieldError, date_of, squash

OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}dc"
DC = "{http://purl.org/dc/elements/1.1/}"
SOURCE = "oai-dc"
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_COMMENT = "Comment:"


def _texts(meta: Element, tag: str) -> list[str]:
    return [t for t in (squash("".join(e.itertext())) for e in meta.findall(f"{DC}{tag}")) if t]


def _creator(name: str) -> str:
    """'Burt, David' -> 'David Burt' (arXiv's oai_dc writes 'Keyname, Forenames')."""
    if name.count(",") == 1:
        last, first = (p.strip() for p in name.split(","))
        if last and first:
            return f"{first} {last}"
    return name


def _dates(meta: Element) -> list[date]:
    out: list[date] = []
    for raw in _texts(meta, "date"):
        if _FULL_DATE.match(raw):
            day = date_of(raw, "dc:date")
            if day:
                out.append(day)
    return out


def dc_to_paper(meta: Element, source_arxiv: str) -> Paper:
    """One oai_dc record to a Paper; FieldError when it has no title."""
    title = " ".join(_texts(meta, "title"))
    if not title:
        raise FieldError("record has no dc:title")
    identifiers = _texts(meta, "identifier")
    arxiv_id = version = None
    link = journal_ref = None
    dois: list[str] = []
    for ident in identifiers:
        if "arxiv.org/abs/" in ident:
            try:
                arxiv_id, version = parse_arxiv_ref(ident)
            except ValueError:
                raise FieldError(f"dc:identifier: {ident!r} names no arXiv id") from None
            break
    for ident in identifiers:
        if "arxiv.org/abs/" in ident:
            continue
        if ident.lower().startswith("doi:") or "doi.org/" in ident:
            dois.extend(d for d in dois_of(ident) if d not in dois)
        elif ident.startswith(("http://", "https://")):
            link = link or ident
        elif arxiv_id is not None and journal_ref is None:
            journal_ref = ident  # arXiv writes the journal reference as a bare identifier
    descriptions = _texts(meta, "description")
    comment = next(
        (d[len(_COMMENT) :].strip() for d in descriptions if d.startswith(_COMMENT)), None
    )
    abstract = next((d for d in descriptions if not d.startswith(_COMMENT)), "")
    days = sorted(_dates(meta))
    authors = tuple(dict.fromkeys(_creator(c) for c in _texts(meta, "creator")))
    rights = _texts(meta, "rights")
    return Paper(
        title=title,
        abstract=abstract,
        arxiv_id=arxiv_id,
        version=version,
        authors=authors,
        published=days[0] if days else None,
        updated=days[-1] if len(days) > 1 else None,  # the latest version's day, as everywhere
        comment=comment or None,
        abs_url=f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else link,
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else None,
        source=source_arxiv if arxiv_id else SOURCE,
        doi=dois[0] if dois else None,
        dois=tuple(dois),
        journal_ref=journal_ref,
        license=rights[0] if rights else None,
        withdrawn=is_withdrawn(comment, abstract),
    )
