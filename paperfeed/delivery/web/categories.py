"""arXiv category names for display, over the search module's loader (paperfeed/data/arxiv-
categories.json)."""

from __future__ import annotations

from paperfeed.ranking.categories import category_name as _name, category_names


def category_name(code: str) -> str:
    """The name of a category, or the code itself when unknown."""
    return _name(code) or code


def is_category(code: str) -> bool:
    """Whether the code is a known arXiv category."""
    return code in category_names()


__all__ = ["category_name", "category_names", "is_category"]
