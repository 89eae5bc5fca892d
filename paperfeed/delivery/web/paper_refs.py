"""Paper URLs as people paste them: /papers/<arXiv id> and /api/v1/papers/<arXiv id>.

Hugging Face's scheme (`/papers/2602.23152`) is what readers share, so a page or API call by arXiv
id (with or without a version, old style `hep-th/9901001` too) serves the same answer as the
internal id. Numeric ids are matched first by the `{paper_id:int}` routes; this router is included
last so that only what they leave over reaches it.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.core.errors import NotFound
from paperfeed.core.models import Paper, split_arxiv_id
from paperfeed.delivery.app import papers
from paperfeed.delivery.web import api, pages
from paperfeed.delivery.web.state import get_state

router = APIRouter(include_in_schema=False)

# An arXiv id (new or old style, optional version) at the start of the path, then what follows it.
_REF = re.compile(r"^(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)(/.*)?$")
_HINT = "paper addresses look like /papers/2602.23152 (an arXiv id) or /papers/42"


def resolve(request: Request, ref: str) -> tuple[Paper, str]:
    """The stored paper an arXiv-id path names and the rest of the path; NotFound for anything
    else."""
    m = _REF.match(ref)
    if m is None:
        raise NotFound(f"there is no paper at “{ref[:80]}”: {_HINT}")
    try:
        arxiv_id, _ = split_arxiv_id(m.group(1))
    except ValueError:
        raise NotFound(f"there is no paper at “{ref[:80]}”: {_HINT}") from None
    return papers.paper_by_arxiv(get_state(request).store, arxiv_id), m.group(2) or ""


@router.get("/papers/{ref:path}")
def paper_by_arxiv(request: Request, ref: str) -> Response:
    """The paper page by arXiv id; a longer path goes on to the numeric address."""
    paper, rest = resolve(request, ref)
    if rest:
        return RedirectResponse(f"/papers/{paper.id}{rest}", status_code=307)
    return pages.paper_page(request, paper.id or 0)


@router.api_route("/api/v1/papers/{ref:path}", methods=["GET", "POST", "PUT", "DELETE"])
def api_paper_by_arxiv(request: Request, ref: str) -> Response:
    """The API's paper by arXiv id; sub-resources and writes are sent on to the numeric address."""
    paper, rest = resolve(request, ref)
    if rest or request.method != "GET":
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/api/v1/papers/{paper.id}{rest}{query}", status_code=308)
    return api.get_paper(request, paper.id or 0)

