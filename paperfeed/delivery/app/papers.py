"""Papers as the adapters see them: one lookup by id, arXiv id or reference, one dict shape,
upvotes, BibTeX."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import Paper, parse_arxiv_ref
from paperfeed.core.urls import paper_links
from paperfeed.ranking.categories import category_name
from paperfeed.store import Store

JsonDict = dict[str, object]


def get_paper(store: Store, paper_id: int) -> Paper:
    """One paper with sources and versions; NotFound otherwise."""
    found = store.papers.get_paper(paper_id)
    if found is None:
        raise NotFound(f"no paper {paper_id}")
    return found


def find_paper(store: Store, ref: str) -> Paper:
    """A paper by arXiv id, arXiv URL or internal '#id'; BadRequest or NotFound naming the
    reference."""
    ref = ref.strip()
    if ref.startswith("#") and ref[1:].isdigit():
        return get_paper(store, int(ref[1:]))
    try:
        arxiv_id, _ = parse_arxiv_ref(ref)
    except ValueError as exc:
        raise BadRequest(f"{exc}; or give an internal id like #42") from None
    return paper_by_arxiv(store, arxiv_id)


def paper_by_arxiv(store: Store, arxiv_id: str) -> Paper:
    """The stored paper with this arXiv id (without version); NotFound naming the id otherwise."""
    found = store.papers.get_paper_by_arxiv(arxiv_id)
    if found is None or found.id is None:
        raise NotFound(f"no paper with arXiv id {arxiv_id} here yet (you can submit it at /submit)")
    return found


def upvote_count(store: Store, paper: Paper) -> int:
    """Community plus outside upvotes of one paper."""
    pid = paper.id or 0
    return store.votes.vote_counts([pid]).get(pid, 0) + (paper.external_upvotes or 0)


def links(p: Paper) -> dict[str, str | None]:
    """arXiv, PDF, code and project links of a paper (code/project also from its text), through
    core.urls."""
    return paper_links(p)


def paper_data(p: Paper, upvotes: int | None = None, full: bool = True) -> JsonDict:
    """A paper as data: the one shape the API, the CLI's --json and exports share."""
    out: JsonDict = {
        "id": p.id,
        "arxiv_id": p.arxiv_id,
        "version": p.version,
        "title": p.title,
        "authors": list(p.authors),
        "categories": [{"code": c, "name": category_name(c)} for c in p.categories],
        "day": p.day.isoformat() if p.day else None,
        "published": p.published.isoformat() if p.published else None,
        "upvotes": upvotes if upvotes is not None else (p.external_upvotes or 0),
        "external_upvotes": p.external_upvotes or 0,
        "links": links(p),
    }
    if full:
        out["abstract"] = p.abstract
        out["comment"] = p.comment
        out["versions"] = list(p.versions)
        out["sources"] = list(p.sources)
        out["doi"] = p.doi
        out["dois"] = list(p.dois or ((p.doi,) if p.doi else ()))  # every DOI, the main one first
        out["journal_ref"] = p.journal_ref
        out["license"] = p.license
        out["affiliations"] = [list(a) for a in p.affiliations]
        out["announced_on"] = p.announced_on.isoformat() if p.announced_on else None
        out["updated"] = p.updated.isoformat() if p.updated else None  # the latest version's day
        out["external_comments"] = p.external_comments
        # Hugging Face's own fields (refreshed with its upvotes); ai_summary is never the abstract.
        out["ai_summary"] = p.ai_summary
        out["project_page"] = p.project_page
        out["organization"] = (
            {"name": p.organization, "fullname": p.organization_name}
            if p.organization or p.organization_name else None
        )
        out["github_stars"] = p.github_stars
    out["withdrawn"] = p.withdrawn
    return out


_BIB_UNSAFE = re.compile(r"[{}\\]")


def _bib(text: str) -> str:
    """Text safe inside a BibTeX brace group: braces and backslashes are dropped so groups stay
    balanced."""
    return _BIB_UNSAFE.sub("", " ".join(text.split()))


def bibtex(papers: Sequence[Paper]) -> str:
    """BibTeX entries (@misc with arXiv eprint fields) for papers."""
    out = []
    for p in papers:
        key = (p.arxiv_id or f"paperfeed{p.id}").replace("/", "_")
        year = (p.published or p.day or date.today()).year
        fields = [
            ("title", "{" + _bib(p.title) + "}"),
            ("author", " and ".join(_bib(a) for a in p.authors) or "Unknown"),
            ("year", str(year)),
        ]
        if p.arxiv_id:
            fields += [("eprint", p.arxiv_id), ("archivePrefix", "arXiv")]
            if p.primary_category:
                fields.append(("primaryClass", p.primary_category))
        if p.doi:
            fields.append(("doi", _bib(p.doi)))
        if p.journal_ref:
            # biblatex reads it; BibTeX's @misc ignores it
            fields.append(("journal", _bib(p.journal_ref)))
        if p.withdrawn:
            fields.append(("note", "Withdrawn by the authors"))
        url = links(p)["arxiv"]
        if url:
            fields.append(("url", _bib(url)))
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
        out.append(f"@misc{{{key},\n{body}\n}}\n")
    return "\n".join(out)
