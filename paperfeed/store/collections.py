"""Collections of papers, owned by users (ownership enforced in the queries)."""

from __future__ import annotations

from sqlalchemy import Engine, and_, delete, desc, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import NotFound
from paperfeed.core.models import Paper
from paperfeed.store.community import (
    Collection,
    _collection,
    _collection_query,
    paper_exists,
)
from paperfeed.store.paper_rows import row_to_paper
from paperfeed.store.runs import now_utc
from paperfeed.store.schema import (
    collection_papers,
    collections,
    papers,
)


class CollectionRepo:
    """Collections and their papers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_collection(
        self, user_id: int, name: str, description: str = "", is_public: bool = False
    ) -> Collection:
        """Create a collection owned by `user_id`."""
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(collections)
                .values(
                    user_id=user_id, name=name, description=description,
                    is_public=int(is_public), created_at=now_utc(),
                )
                .returning(collections.c.id)
            ).scalar_one()
        found = self.get_collection(int(new_id))
        assert found is not None
        return found

    def get_collection(self, collection_id: int) -> Collection | None:
        """One collection by id (visibility is the caller's check)."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(_collection_query().where(collections.c.id == collection_id))
                .mappings()
                .first()
            )
        return _collection(row) if row else None

    def user_collections(self, user_id: int, public_only: bool = False) -> list[Collection]:
        """A user's collections, newest first."""
        query = _collection_query().where(collections.c.user_id == user_id)
        if public_only:
            query = query.where(collections.c.is_public == 1)
        with self.engine.connect() as conn:
            rows = conn.execute(
                query.order_by(desc(collections.c.created_at), desc(collections.c.id))
            ).mappings()
            return [_collection(r) for r in rows]

    def collections_with_paper(
        self, paper_id: int, viewer_id: int | None = None
    ) -> list[Collection]:
        """Collections holding a paper that the viewer may see: public ones and the viewer's own."""
        visible = collections.c.is_public == 1
        if viewer_id is not None:
            visible = or_(visible, collections.c.user_id == viewer_id)
        query = _collection_query().where(
            and_(
                visible,
                collections.c.id.in_(
                    select(collection_papers.c.collection_id).where(
                        collection_papers.c.paper_id == paper_id
                    )
                ),
            )
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                query.order_by(collections.c.name, collections.c.id).limit(100)
            ).mappings()
            return [_collection(r) for r in rows]

    def update_collection(
        self, owner_id: int, collection_id: int, name: str | None = None,
        description: str | None = None, is_public: bool | None = None,
    ) -> Collection:
        """Change an owned collection; NotFound when it does not exist or is someone else's."""
        values: dict[str, object] = {}
        if name is not None:
            values["name"] = name
        if description is not None:
            values["description"] = description
        if is_public is not None:
            values["is_public"] = int(is_public)
        self._owned(owner_id, collection_id)
        if values:
            with self.engine.begin() as conn:
                conn.execute(
                    update(collections)
                    .where(
                        and_(collections.c.id == collection_id, collections.c.user_id == owner_id)
                    )
                    .values(values)
                )
        found = self.get_collection(collection_id)
        assert found is not None
        return found

    def delete_collection(self, owner_id: int, collection_id: int) -> None:
        """Delete an owned collection; NotFound otherwise."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(collections).where(
                    and_(collections.c.id == collection_id, collections.c.user_id == owner_id)
                )
            )
        if not result.rowcount:
            raise NotFound(f"no collection {collection_id} of yours")

    def add_to_collection(self, owner_id: int, collection_id: int, paper_id: int) -> bool:
        """Put a paper in an owned collection; False when it was already there."""
        self._owned(owner_id, collection_id)
        if not paper_exists(self.engine, paper_id):
            raise NotFound(f"no paper {paper_id}")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(collection_papers).values(
                        collection_id=collection_id, paper_id=paper_id, added_at=now_utc()
                    )
                )
        except IntegrityError:
            return False
        return True

    def remove_from_collection(self, owner_id: int, collection_id: int, paper_id: int) -> bool:
        """Take a paper out of an owned collection; False when it was not there."""
        self._owned(owner_id, collection_id)
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(collection_papers).where(
                    and_(
                        collection_papers.c.collection_id == collection_id,
                        collection_papers.c.paper_id == paper_id,
                    )
                )
            )
        return bool(result.rowcount)

    def collection_papers(self, collection_id: int, limit: int = 1000) -> list[Paper]:
        """The papers in a collection, most recently added first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(papers)
                .join(collection_papers, collection_papers.c.paper_id == papers.c.id)
                .where(collection_papers.c.collection_id == collection_id)
                .order_by(desc(collection_papers.c.added_at), desc(papers.c.id))
                .limit(limit)
            ).mappings()
            return [row_to_paper(r) for r in rows]

    def _owned(self, owner_id: int, collection_id: int) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(collections.c.id).where(
                    and_(collections.c.id == collection_id, collections.c.user_id == owner_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"no collection {collection_id} of yours")
