"""The collections part of the REST API under /api/v1: list, create, change, fill and export."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Security
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed.core.errors import Unauthorized
from paperfeed.delivery.app import community, papers
from paperfeed.delivery.web.api import ERRORS, Caller, PaperOut, Writer, bearer, no_nul
from paperfeed.delivery.web.deps import CollectionId, PaperId, json_response
from paperfeed.delivery.web.state import WebState, get_state

router = APIRouter(prefix="/api/v1", tags=["api"])


class CollectionIn(BaseModel):
    """A new collection."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    is_public: bool = False


class CollectionPatch(BaseModel):
    """Changes to a collection."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    is_public: bool | None = None


class CollectionOut(BaseModel):
    """A collection (with its papers when fetched alone)."""

    id: int
    owner: str
    name: str
    description: str
    is_public: bool
    created_at: str
    paper_count: int
    papers: list[PaperOut] | None = None


@router.get(
    "/collections",
    response_model=list[CollectionOut],
    responses=ERRORS,
    dependencies=[Security(bearer)],
)
def my_collections(request: Request, user: Caller) -> Response:
    """The caller's collections."""
    if user is None:
        raise Unauthorized("log in or send a Bearer token to list your collections")
    return json_response(
        [
            community.collection_data(c)
            for c in get_state(request).store.collections.user_collections(user.id)
        ]
    )


@router.post("/collections", response_model=CollectionOut, responses=ERRORS, status_code=201,
             dependencies=[Security(bearer)])
def create_collection(request: Request, body: CollectionIn, user: Writer) -> Response:
    """Create a collection."""
    no_nul(body.name, body.description)
    state = get_state(request)
    coll = community.create_collection(
        state.store, user.id, body.name, body.description, body.is_public
    )
    state.after_write()
    return json_response(community.collection_data(coll, []), 201)


@router.get("/collections/{collection_id}", response_model=CollectionOut, responses=ERRORS,
            dependencies=[Security(bearer)])
def get_collection(request: Request, collection_id: CollectionId, user: Caller) -> Response:
    """A public collection, or one of the caller's own."""
    state = get_state(request)
    coll = community.visible_collection(state.store, collection_id, user.id if user else None)
    return json_response(
        community.collection_data(coll, state.store.collections.collection_papers(collection_id))
    )


@router.patch("/collections/{collection_id}", response_model=CollectionOut, responses=ERRORS,
              dependencies=[Security(bearer)])
def update_collection(request: Request, body: CollectionPatch, collection_id: CollectionId,
                      user: Writer) -> Response:
    """Rename, describe, publish or hide an own collection."""
    no_nul(body.name, body.description)
    name = description = None
    if body.name is not None:
        name, _ = community.clean_collection_fields(body.name, "")
    if body.description is not None:
        description = body.description.strip()
    state = get_state(request)
    coll = state.store.collections.update_collection(
        user.id, collection_id, name, description, body.is_public
    )
    state.after_write()
    return json_response(community.collection_data(coll))


@router.delete(
    "/collections/{collection_id}",
    status_code=204,
    responses=ERRORS,
    dependencies=[Security(bearer)],
)
def delete_collection(request: Request, collection_id: CollectionId, user: Writer) -> Response:
    """Delete an own collection."""
    state = get_state(request)
    state.store.collections.delete_collection(user.id, collection_id)
    state.after_write()
    return Response(status_code=204)


@router.put(
    "/collections/{collection_id}/papers/{paper_id}",
    response_model=CollectionOut,
    responses=ERRORS,
    dependencies=[Security(bearer)],
)
def add_paper(request: Request, collection_id: CollectionId, paper_id: PaperId,
              user: Writer) -> Response:
    """Put a paper in an own collection (idempotent)."""
    state = get_state(request)
    community.collect(state.store, user.id, collection_id, paper_id)
    return _collection_after_write(state, collection_id, user.id)


@router.delete(
    "/collections/{collection_id}/papers/{paper_id}",
    response_model=CollectionOut,
    responses=ERRORS,
    dependencies=[Security(bearer)],
)
def remove_paper(request: Request, collection_id: CollectionId, paper_id: PaperId,
                 user: Writer) -> Response:
    """Take a paper out of an own collection (idempotent)."""
    state = get_state(request)
    state.store.collections.remove_from_collection(user.id, collection_id, paper_id)
    return _collection_after_write(state, collection_id, user.id)


def _collection_after_write(state: WebState, collection_id: int, user_id: int) -> Response:
    state.after_write()
    return json_response(
        community.collection_data(community.visible_collection(state.store, collection_id, user_id))
    )


@router.get(
    "/collections/{collection_id}/export", responses=ERRORS, dependencies=[Security(bearer)]
)
def export_collection(
    request: Request,
    collection_id: CollectionId,
    user: Caller,
    format: Literal["bibtex", "json"] = "bibtex",
) -> Response:
    """The collection as BibTeX or JSON."""
    state = get_state(request)
    coll = community.visible_collection(state.store, collection_id, user.id if user else None)
    members = state.store.collections.collection_papers(collection_id)
    if format == "json":
        return Response(
            community.collection_export_json(coll, members), media_type="application/json"
        )
    return Response(papers.bibtex(members), media_type="application/x-bibtex; charset=utf-8")
