"""Reading papers rows: the one row -> Paper mapping and the one day/category filter of listings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import RowMapping, Select, or_

from paperfeed.core.links import with_text_links
from paperfeed.core.models import Paper
from paperfeed.core.urls import safe_url
from paperfeed.store.runs import utc
from paperfeed.store.schema import papers

Q = TypeVar("Q", bound=Select[Any])


def filter_papers(query: Q, since: date | None, until: date | None, category: str | None) -> Q:
    """Narrow a select over papers to a day range and a category (primary or cross-listed).

    Withdrawn papers are left out: listings, feeds and trending show only papers that stand.
    """
    query = query.where(papers.c.withdrawn == 0)
    if since:
        query = query.where(papers.c.day >= since)
    if until:
        query = query.where(papers.c.day <= until)
    if category:
        query = query.where(
            or_(
                papers.c.primary_category == category, papers.c.categories.contains(f'"{category}"')
            )
        )
    return query


def row_to_paper(
    row: RowMapping, sources: Iterable[str] = (), versions: Iterable[int] = ()
) -> Paper:
    """Build a Paper from a papers row (a mapping), with code/project links found in its text."""
    # Derived on read: the stored code_url stays the source's own, so a later source link still
    # wins.
    return with_text_links(Paper(
        id=row["id"],
        arxiv_id=row["arxiv_id"],
        version=row["version"],
        title=row["title"],
        abstract=row["abstract"],
        authors=tuple(json.loads(row["authors"])),
        categories=tuple(json.loads(row["categories"])),
        published=row["published"],
        updated=row["updated"],
        comment=row["comment"],
        abs_url=safe_url(row["abs_url"]),  # rows stored before the URL policy existed
        pdf_url=safe_url(row["pdf_url"]),
        code_url=safe_url(row["code_url"]),
        featured_on=row["featured_on"],
        external_upvotes=row["external_upvotes"],
        doi=row["doi"],
        journal_ref=row["journal_ref"],
        license=row["license"],
        announced_on=row["announced_on"],
        withdrawn=bool(row["withdrawn"]),
        affiliations=tuple(tuple(a) for a in json.loads(row["affiliations"] or "[]")),
        external_comments=row["external_comments"],
        dois=tuple(json.loads(row["dois"] or "[]")),
        project_page=safe_url(row["project_page"]),
        # the source's own page wins over one in the text
        project_url=safe_url(row["project_page"]),
        organization=row["organization"],
        organization_name=row["organization_name"],
        github_stars=row["github_stars"],
        ai_summary=row["ai_summary"],
        first_seen_at=utc(row["first_seen_at"]),
        sources=tuple(sorted(sources)),
        versions=tuple(sorted(versions)),
    ))
