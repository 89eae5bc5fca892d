"""Votes and collections: the writes every adapter shares, and a collection as data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.models import Paper
from paperfeed.delivery.app.papers import JsonDict, get_paper, paper_data, upvote_count
from paperfeed.store import Store
from paperfeed.store.community import Collection


@dataclass(frozen=True)
class VoteResult:
    """The paper's upvotes after a vote, and whether the vote changed anything."""

    paper_id: int
    upvotes: int
    voted: bool
    changed: bool


def vote(store: Store, user_id: int, paper_id: int, up: bool) -> VoteResult:
    """Upvote a paper (once) or take the upvote back; NotFound for an unknown paper."""
    paper = get_paper(store, paper_id)
    changed = (
        store.votes.add_vote(user_id, paper_id)
        if up
        else store.votes.remove_vote(user_id, paper_id)
    )
    return VoteResult(paper_id, upvote_count(store, paper), up, bool(changed))


def clean_collection_fields(name: str, description: str) -> tuple[str, str]:
    """Trimmed name and description; BadRequest when the name is empty or either is too long."""
    name, description = name.strip(), description.strip()
    if not name:
        raise BadRequest("name: required")
    if len(name) > 200:
        raise BadRequest("name: at most 200 characters")
    if len(description) > 2000:
        raise BadRequest("description: at most 2000 characters")
    return name, description


def create_collection(store: Store, user_id: int, name: str, description: str, is_public: bool,
                      first_paper: int | None = None) -> Collection:
    """A new collection of the user's, optionally with a first paper; a paper that does not exist
    creates nothing."""
    name, description = clean_collection_fields(name, description)
    if first_paper is not None and store.papers.get_paper(first_paper) is None:
        raise NotFound(f"no paper {first_paper}")  # before anything is written
    coll = store.collections.create_collection(user_id, name, description, is_public)
    if first_paper is not None:
        try:
            collect(store, user_id, coll.id, first_paper)
        except NotFound:  # merged away in between: take the new collection back
            store.collections.delete_collection(user_id, coll.id)
            raise
    return coll


def collect(store: Store, user_id: int, collection_id: int, paper_id: int) -> bool:
    """Add a paper to an own collection; whether it was new there."""
    return bool(store.collections.add_to_collection(user_id, collection_id, paper_id))


def visible_collection(store: Store, collection_id: int, viewer_id: int | None) -> Collection:
    """A collection the viewer may see (public, their own, or shared with their lab); NotFound
    otherwise."""
    found = store.collections.get_collection(collection_id)
    if found is None or not (found.is_public or found.user_id == viewer_id
                             or store.groups.collection_shared_with(collection_id, viewer_id)):
        raise NotFound(f"no collection {collection_id}")
    return found


def collection_data(
    c: Collection, papers: Sequence[Paper] | None = None, full: bool = False
) -> JsonDict:
    """A collection as data (with its papers when given)."""
    out: JsonDict = {
        "id": c.id,
        "owner": c.owner,
        "name": c.name,
        "description": c.description,
        "is_public": c.is_public,
        "created_at": c.created_at.isoformat(),
        "paper_count": c.paper_count,
    }
    if papers is not None:
        out["papers"] = [paper_data(p, full=full) for p in papers]
    return out


def collection_export_json(c: Collection, papers: Sequence[Paper]) -> str:
    """A collection with its papers (full records) as JSON."""
    return json.dumps(collection_data(c, papers, full=True), indent=2, ensure_ascii=False)
