"""A lab's feed: the papers its members upvoted or added to collections shared with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, select

from paperfeed.store.community import FeedItem
from paperfeed.store.runs import utc
from paperfeed.store.schema import collection_papers, collections, users, votes
from paperfeed.store.social_schema import group_collections, group_members


def feed_items(conn: Connection, group_id: int, since: datetime, until: datetime, limit: int,
               members_view: bool) -> list[FeedItem]:
    """The feed in (since, until], most active first; without members' votes for outsiders (F2)."""
    voted = (select(votes.c.paper_id, users.c.username, votes.c.created_at.label("at"))
             .join(group_members, and_(group_members.c.user_id == votes.c.user_id,
                                       group_members.c.group_id == group_id))
             .join(users, users.c.id == votes.c.user_id)
             .where(and_(votes.c.created_at > since, votes.c.created_at <= until)))
    collected = (
        select(
            collection_papers.c.paper_id,
            users.c.username,
            collection_papers.c.added_at.label("at"),
        )
        .join(
            group_collections,
            and_(
                group_collections.c.collection_id == collection_papers.c.collection_id,
                group_collections.c.group_id == group_id,
            ),
        )
        .join(collections, collections.c.id == collection_papers.c.collection_id)
        .join(users, users.c.id == collections.c.user_id)
        .where(
            and_(collection_papers.c.added_at > since, collection_papers.c.added_at <= until)
        )
    )
    queries = [("v", voted), ("c", collected)]
    if not members_view:
        queries = [("c", collected.where(collections.c.is_public == 1))]
    by: dict[int, tuple[set[str], set[str], datetime]] = {}
    for kind, query in queries:
        for pid, name, at in conn.execute(query):
            up, col, last = by.get(int(pid), (set(), set(), since))
            (up if kind == "v" else col).add(str(name))
            stamp = utc(at) or since
            by[int(pid)] = (up, col, max(last, stamp))
    items = [
        FeedItem(pid, tuple(sorted(up)), tuple(sorted(col)), last)
        for pid, (up, col, last) in by.items()
    ]
    items.sort(
        key=lambda i: (
            -(len(i.upvoters) + len(i.collectors)),
            -i.last_at.timestamp(),
            i.paper_id,
        )
    )
    return items[:limit]
