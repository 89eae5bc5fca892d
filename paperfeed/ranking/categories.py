"""arXiv category codes and names, from the copy of arXiv's map shipped in paperfeed/data."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def category_names() -> dict[str, str]:
    """Every known arXiv category code (legacy ones included) -> its name."""
    text = (
        resources.files("paperfeed")
        .joinpath("data/arxiv-categories.json")
        .read_text(encoding="utf-8")
    )
    data: dict[str, str] = json.loads(text)
    return data


def category_name(code: str) -> str | None:
    """The name of a category code, e.g. 'cs.CL' -> 'Computation and Language'."""
    return category_names().get(code)


def resolve_category(
    value: str, extra_codes: frozenset[str] | set[str] = frozenset()
) -> tuple[str, ...]:
    """Codes a user's category names: a code (any case), an archive ('cs' = every cs.*), or a name.

    `extra_codes` are codes seen on indexed papers, accepted even when the shipped map lacks them.
    Returns () when nothing matches.
    """
    text = value.strip()
    if not text:
        return ()
    names = category_names()
    known = set(names) | set(extra_codes)
    if text in known:
        return (text,)
    folded = text.casefold()
    by_fold = {c.casefold(): c for c in known}
    if folded in by_fold:
        return (by_fold[folded],)
    archive = sorted(c for c in known if c.casefold().startswith(folded + "."))
    if archive:
        return tuple(archive)
    by_name = sorted(c for c, n in names.items() if n.casefold() == folded)
    return tuple(by_name)
