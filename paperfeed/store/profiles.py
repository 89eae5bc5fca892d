"""A user's own rows: read for a profile export, written for an import (one transaction, rows that
exist are left alone, so importing twice changes nothing), and deleted with the account."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from paperfeed.core.errors import Conflict, NotFound
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import (
    collection_papers,
    collections,
    digest_feedback,
    followed_authors,
    followed_categories,
    papers,
    saved_searches,
    subscriptions,
    users,
    votes,
)
from paperfeed.store.social_schema import comments, group_members, groups, paper_claims

Value = str | int | bool | datetime | None
Row = dict[str, Value]
_SUB_FIELDS = ("frequency", "send_hour", "weekday", "timezone", "max_papers", "sections", "active")


@dataclass
class ProfileRows:
    """Everything a user has, as plain rows.

    Read from a store, papers are named by `arxiv_id` and `title`; written to one, by `paper_id`. A
    comment's `parent_author` / `parent_at` name the comment it replies to; `groups` are read only
    (memberships are not imported).
    """

    account: Row
    votes: list[Row] = field(default_factory=list)
    collections: list[tuple[Row, list[Row]]] = field(default_factory=list)
    subscription: Row | None = None
    saved_searches: list[Row] = field(default_factory=list)
    followed_categories: list[Row] = field(default_factory=list)
    followed_authors: list[Row] = field(default_factory=list)
    feedback: list[Row] = field(default_factory=list)
    comments: list[Row] = field(default_factory=list)
    claims: list[Row] = field(default_factory=list)
    groups: list[Row] = field(default_factory=list)


def _rows(conn: Connection, query: Executable) -> list[Row]:
    out: list[Row] = []
    for r in conn.execute(query).mappings():
        out.append({k: (utc(v) if isinstance(v, datetime) else v) for k, v in r.items()})
    return out


_REF = (papers.c.arxiv_id, papers.c.title)


class ProfileRepo:
    """Reading, importing and deleting everything one user owns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def profile_rows(self, user_id: int) -> ProfileRows:
        """Every row the user owns, in a stable order; NotFound when there is no such user."""
        parent = comments.alias("parent")
        parent_user = users.alias("parent_user")
        with self.engine.connect() as conn:
            account = _rows(
                conn,
                select(
                    users.c.username,
                    users.c.email,
                    users.c.is_admin,
                    users.c.created_at,
                    users.c.email_verified_at,
                ).where(users.c.id == user_id),
            )
            if not account:
                raise NotFound(f"no user {user_id}")
            out = ProfileRows(account=account[0])
            out.votes = _rows(
                conn,
                select(*_REF, votes.c.created_at)
                .join(papers, papers.c.id == votes.c.paper_id)
                .where(votes.c.user_id == user_id)
                .order_by(votes.c.created_at, papers.c.id),
            )
            for coll in _rows(
                conn,
                select(collections)
                .where(collections.c.user_id == user_id)
                .order_by(collections.c.created_at, collections.c.id),
            ):
                items = _rows(
                    conn,
                    select(*_REF, collection_papers.c.added_at)
                    .join(papers, papers.c.id == collection_papers.c.paper_id)
                    .where(collection_papers.c.collection_id == coll["id"])
                    .order_by(collection_papers.c.added_at, papers.c.id),
                )
                out.collections.append((coll, items))
            subs = _rows(
                conn,
                select(*[subscriptions.c[f] for f in _SUB_FIELDS]).where(
                    subscriptions.c.user_id == user_id
                ),
            )
            out.subscription = subs[0] if subs else None
            out.saved_searches = _rows(
                conn,
                select(saved_searches)
                .where(saved_searches.c.user_id == user_id)
                .order_by(saved_searches.c.created_at, saved_searches.c.id),
            )
            out.followed_categories = _rows(
                conn,
                select(followed_categories)
                .where(followed_categories.c.user_id == user_id)
                .order_by(followed_categories.c.category),
            )
            out.followed_authors = _rows(
                conn,
                select(followed_authors)
                .where(followed_authors.c.user_id == user_id)
                .order_by(followed_authors.c.author),
            )
            out.feedback = _rows(
                conn,
                select(*_REF, digest_feedback.c.signal, digest_feedback.c.created_at)
                .join(papers, papers.c.id == digest_feedback.c.paper_id)
                .where(digest_feedback.c.user_id == user_id)
                .order_by(digest_feedback.c.created_at, papers.c.id),
            )
            out.comments = _rows(
                conn,
                select(
                    *_REF,
                    comments.c.body,
                    comments.c.created_at,
                    comments.c.edited_at,
                    comments.c.deleted_at,
                    comments.c.hidden_at,
                    comments.c.group_id,
                    parent_user.c.username.label("parent_author"),
                    parent.c.created_at.label("parent_at"),
                )
                .join(papers, papers.c.id == comments.c.paper_id)
                .outerjoin(parent, parent.c.id == comments.c.parent_id)
                .outerjoin(parent_user, parent_user.c.id == parent.c.user_id)
                .where(comments.c.user_id == user_id)
                .order_by(comments.c.created_at, comments.c.id),
            )
            out.claims = _rows(
                conn,
                select(
                    *_REF,
                    paper_claims.c.author,
                    paper_claims.c.status,
                    paper_claims.c.method,
                    paper_claims.c.created_at,
                    paper_claims.c.decided_at,
                )
                .join(papers, papers.c.id == paper_claims.c.paper_id)
                .where(paper_claims.c.user_id == user_id)
                .order_by(paper_claims.c.created_at, papers.c.id),
            )
            out.groups = _rows(
                conn,
                select(groups.c.name, group_members.c.role, group_members.c.joined_at)
                .join(groups, groups.c.id == group_members.c.group_id)
                .where(group_members.c.user_id == user_id)
                .order_by(group_members.c.joined_at, groups.c.id),
            )
        return out

    def apply_profile(
        self, user_id: int | None, rows: ProfileRows, password_hash: str
    ) -> tuple[int, dict[str, int]]:
        """Write imported rows in one transaction into the user (a new account from `rows.account`
        when None); rows that exist stay as they are.

        Returns the user id and the rows added per kind.
        """
        added: dict[str, int] = {}

        def count(kind: str, n: int = 1) -> None:
            added[kind] = added.get(kind, 0) + n

        with self.engine.begin() as conn:
            if user_id is None:
                user_id = _new_account(conn, rows.account, password_hash)
                count("account")
            uid = user_id
            for v in rows.votes:
                count(
                    "votes",
                    _add(
                        conn,
                        votes,
                        {"user_id": uid, "paper_id": v["paper_id"]},
                        {"created_at": v["created_at"]},
                    ),
                )
            for coll, items in rows.collections:
                cid = conn.execute(
                    select(collections.c.id).where(
                        and_(collections.c.user_id == uid, collections.c.name == coll["name"])
                    )
                ).scalar()
                if cid is None:
                    cid = conn.execute(
                        insert(collections)
                        .values(
                            user_id=uid,
                            name=coll["name"],
                            description=coll["description"],
                            is_public=int(bool(coll["is_public"])),
                            created_at=coll["created_at"],
                        )
                        .returning(collections.c.id)
                    ).scalar_one()
                    count("collections")
                for it in items:
                    count(
                        "collection_papers",
                        _add(
                            conn,
                            collection_papers,
                            {"collection_id": cid, "paper_id": it["paper_id"]},
                            {"added_at": it["added_at"]},
                        ),
                    )
            if rows.subscription is not None:
                count("subscription", _put_subscription(conn, uid, rows.subscription))
            for s in rows.saved_searches:
                same = {k: s[k] for k in ("name", "query", "category", "author")}
                count(
                    "saved_searches",
                    _add(
                        conn,
                        saved_searches,
                        {"user_id": uid, **same},
                        {"created_at": s["created_at"]},
                    ),
                )
            for table, kind, key in (
                (followed_categories, "followed_categories", "category"),
                (followed_authors, "followed_authors", "author"),
            ):
                for f in getattr(rows, kind):
                    count(
                        kind,
                        _add(
                            conn,
                            table,
                            {"user_id": uid, key: f[key]},
                            {"created_at": f["created_at"]},
                        ),
                    )
            for fb in rows.feedback:
                count(
                    "feedback",
                    _add(
                        conn,
                        digest_feedback,
                        {"user_id": uid, "paper_id": fb["paper_id"]},
                        {"signal": fb["signal"], "created_at": fb["created_at"]},
                    ),
                )
            for c in rows.comments:
                count("comments", _add_comment(conn, uid, c))
            for cl in rows.claims:
                count(
                    "claims",
                    _add(
                        conn,
                        paper_claims,
                        {"user_id": uid, "paper_id": cl["paper_id"]},
                        {
                            k: cl[k]
                            for k in ("author", "status", "method", "created_at", "decided_at")
                        },
                    ),
                )
        return uid, {k: n for k, n in added.items() if n}

    def delete_user(self, user_id: int) -> None:
        """Delete the account and everything it owns (the schema's cascades).

        The user's comments go; replies to them by others stay, moved up to the nearest remaining
        comment (or the paper).
        """
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.id == user_id)).first() is None:
                raise NotFound(f"no user {user_id}")
            parent_of = {
                int(i): p
                for i, p in conn.execute(
                    select(comments.c.id, comments.c.parent_id).where(comments.c.user_id == user_id)
                )
            }
            if parent_of:
                others = conn.execute(
                    select(comments.c.id, comments.c.parent_id).where(
                        and_(
                            comments.c.parent_id.in_(list(parent_of)), comments.c.user_id != user_id
                        )
                    )
                ).all()
                for cid, pid in others:
                    while pid is not None and pid in parent_of:
                        pid = parent_of[pid]
                    conn.execute(update(comments).where(comments.c.id == cid).values(parent_id=pid))
                conn.execute(delete(comments).where(comments.c.user_id == user_id))
            _hand_over_labs(conn, user_id)
            conn.execute(delete(users).where(users.c.id == user_id))


def _hand_over_labs(conn: Connection, user_id: int) -> None:
    """Before a sole owner's account goes, the longest-standing admin (else member) becomes owner
    (F18).

    A lab nobody else is in goes with the account: nobody could ever manage or read it again.
    """
    owned = [
        int(g)
        for g in conn.execute(
            select(group_members.c.group_id).where(
                and_(group_members.c.user_id == user_id, group_members.c.role == "owner")
            )
        ).scalars()
    ]
    rank = case({"admin": 0}, value=group_members.c.role, else_=1)
    for gid in owned:
        others = select(group_members.c.user_id).where(
            and_(group_members.c.group_id == gid, group_members.c.user_id != user_id)
        )
        if conn.execute(others.where(group_members.c.role == "owner").limit(1)).first():
            continue  # another owner stays
        heir = conn.execute(
            others.order_by(rank, group_members.c.joined_at, group_members.c.user_id).limit(1)
        ).scalar_one_or_none()
        if heir is None:
            conn.execute(delete(groups).where(groups.c.id == gid))
            continue
        conn.execute(
            update(group_members)
            .where(and_(group_members.c.group_id == gid, group_members.c.user_id == heir))
            .values(role="owner")
        )


def _add(conn: Connection, table: Table, key: Row, values: Row) -> int:
    """Insert key + values unless a row with `key` exists; 1 when inserted."""
    where = [(table.c[k].is_(None) if v is None else table.c[k] == v) for k, v in key.items()]
    if conn.execute(select(func.count()).select_from(table).where(and_(*where))).scalar_one():
        return 0
    conn.execute(insert(table).values({**key, **values}))
    return 1


def _new_account(conn: Connection, account: Row, password_hash: str) -> int:
    name, email = str(account["username"]), str(account["email"])
    taken = conn.execute(
        select(users.c.username).where(
            or_(
                func.lower(users.c.username) == name.lower(),
                func.lower(users.c.email) == email.lower(),
            )
        )
    ).scalar()
    if taken is not None:
        what = "username" if str(taken).lower() == name.lower() else "email"
        raise Conflict(
            f"account: that {what} is already registered here (import with --as an existing "
            "account)"
        )
    return int(
        conn.execute(
            insert(users)
            .values(
                username=name,
                email=email,
                password_hash=password_hash,
                created_at=account["created_at"] or now_utc(),
                email_verified_at=account.get("email_verified_at"),
            )
            .returning(users.c.id)
        ).scalar_one()
    )


def _put_subscription(conn: Connection, uid: int, sub: Row) -> int:
    values = {
        f: (json.dumps(sub[f]) if f == "sections" and not isinstance(sub[f], str) else sub[f])
        for f in _SUB_FIELDS
    }
    values["active"] = int(bool(values["active"]))
    have = (
        conn.execute(
            select(*[subscriptions.c[f] for f in _SUB_FIELDS]).where(subscriptions.c.user_id == uid)
        )
        .mappings()
        .first()
    )
    now = now_utc()
    if have is None:
        conn.execute(
            insert(subscriptions).values(user_id=uid, created_at=now, updated_at=now, **values)
        )
        return 1
    if dict(have) == values:
        return 0
    conn.execute(
        update(subscriptions).where(subscriptions.c.user_id == uid).values(updated_at=now, **values)
    )
    return 1


def _add_comment(conn: Connection, uid: int, c: Row) -> int:
    exists_ = conn.execute(
        select(comments.c.id).where(
            and_(
                comments.c.user_id == uid,
                comments.c.paper_id == c["paper_id"],
                comments.c.created_at == c["created_at"],
            )
        )
    ).first()
    if exists_ is not None:
        return 0
    parent_id = None
    if c.get("parent_author"):
        parent_id = conn.execute(
            select(comments.c.id)
            .join(users, users.c.id == comments.c.user_id)
            .where(
                and_(
                    users.c.username == c["parent_author"],
                    comments.c.created_at == c["parent_at"],
                    comments.c.paper_id == c["paper_id"],
                )
            )
        ).scalar()
    conn.execute(
        insert(comments).values(
            paper_id=c["paper_id"],
            user_id=uid,
            parent_id=parent_id,
            body=c["body"],
            created_at=c["created_at"],
            edited_at=c.get("edited_at"),
        )
    )
    return 1
