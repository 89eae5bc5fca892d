"""Code and project links written in a paper's text (abstract, comment): GitHub, GitLab, Hugging
Face.

Authors often write "Code is available at https://github.com/org/repo." in the abstract or the arXiv
comment. The first repository URL becomes the paper's code link and the first Hugging Face model,
dataset or space (or a github.io / gitlab.io project page) its project link, unless the source gave
its own link: the source's link always wins (see `with_text_links`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperfeed.core.models import Paper

# A URL ends at whitespace, a closing bracket or quote; trailing punctuation is trimmed after.
_URL = re.compile(
    r"(?:https?://|(?<![\w./@-])(?=(?:www\.)?(?:github|gitlab)\.com/))[^\s<>\"'()\[\]{}]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?*'\"`"
_CODE = re.compile(r"^(?:www\.)?(?:github\.com|gitlab\.com)/[\w.-]+/[\w.-]+", re.IGNORECASE)
_HF = re.compile(
    r"^(?:www\.)?huggingface\.co/(?:(?:datasets|spaces)/)?[\w.-]+/[\w.-]+", re.IGNORECASE
)
_HF_NOT_PROJECT = frozenset(
    {"papers", "docs", "blog", "learn", "join", "login", "pricing", "settings"}
)
_PAGES = re.compile(r"^[\w-]+\.(?:github|gitlab)\.io(?:/|$)", re.IGNORECASE)
_REPO_NOT_REPO = frozenset(
    {"orgs", "topics", "features", "about", "sponsors", "settings", "marketplace"}
)


@dataclass(frozen=True)
class TextLinks:
    """The links found in a paper's text."""

    code: str | None = None
    project: str | None = None


def _clean(url: str) -> str:
    url = url.rstrip(_TRAILING)
    # "(see https://github.com/a/b)" loses its bracket to the pattern; a dangling ")" may remain.
    while url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1].rstrip(_TRAILING)
    if not url.lower().startswith(("http://", "https://")):
        url = "https://" + url
    return url


def _bare(url: str) -> str:
    return re.sub(r"^https?://", "", url, flags=re.IGNORECASE)


def _code_url(url: str) -> str | None:
    m = _CODE.match(_bare(url))
    if not m:
        return None
    owner = m.group(0).split("/")[1].lower()
    if owner in _REPO_NOT_REPO:
        return None
    repo = "https://" + m.group(0)
    return repo.removesuffix(".git")


def _project_url(url: str) -> str | None:
    bare = _bare(url)
    m = _HF.match(bare)
    if m:
        first = m.group(0).split("/")[1].lower()
        return None if first in _HF_NOT_PROJECT else "https://" + m.group(0)
    if _PAGES.match(bare):
        return "https://" + bare.rstrip("/")
    return None


def find_text_links(*texts: str | None) -> TextLinks:
    """The first code repository and the first project page mentioned in the texts, in order."""
    code = project = None
    for text in texts:
        if not text:
            continue
        low = text.lower()
        if "github" not in low and "gitlab" not in low and "huggingface" not in low:
            continue
        for raw in _URL.findall(text):
            url = _clean(raw)
            code = code or _code_url(url)
            project = project or _project_url(url)
            if code and project:
                return TextLinks(code, project)
    return TextLinks(code, project)


def with_text_links(paper: Paper) -> Paper:
    """The paper with code/project links from its abstract and comment where the source gave
    none."""
    if paper.code_url and paper.project_url:
        return paper
    found = find_text_links(paper.comment, paper.abstract)
    code = paper.code_url or found.code
    project = paper.project_url or found.project
    if code == paper.code_url and project == paper.project_url:
        return paper
    return replace(paper, code_url=code, project_url=project)
