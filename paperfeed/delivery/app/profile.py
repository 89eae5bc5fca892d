"""The portable profile: export everything a user has as one JSON file (docs/profile-export.md),
import it into another paperfeed (a new or an existing account; importing twice changes nothing;
papers this site lacks are reported, never invented), and delete an account with all it owns."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from paperfeed.core.errors import BadRequest, Conflict, NotFound
from paperfeed.core.models import User
from paperfeed.delivery.app.credentials import hash_password, verify_password
from paperfeed.delivery.app.profile_file import (
    FORMAT,
    VERSION,
    Json,
    ParsedProfile,
    Ref,
    parse_profile,
)
from paperfeed.store import Store
from paperfeed.store.profiles import ProfileRows, Row, Value
from paperfeed.store.runs import now_utc

__all__ = [
    "FORMAT",
    "VERSION",
    "ImportReport",
    "delete_own_account",
    "delete_user",
    "export_json",
    "export_profile",
    "import_profile",
    "parse_profile",
]
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")

# ----- export -------------------------------------------------------------------------------------


def _time(value: Value) -> str | None:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else None


def _ref(row: Row) -> Json:
    return {"arxiv_id": row["arxiv_id"], "title": row["title"]}


def _comment_state(c: Row) -> str:
    return "deleted" if c["deleted_at"] else "hidden" if c["hidden_at"] else "visible"


def export_profile(store: Store, user: User, now: datetime | None = None) -> Json:
    """Everything the user has, as the documented `paperfeed-profile` version 1 object."""
    rows = store.profiles.profile_rows(user.id)
    acc = rows.account
    sub = rows.subscription
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _time(now or now_utc()),
        "account": {
            "username": acc["username"],
            "email": acc["email"],
            "is_admin": bool(acc["is_admin"]),
            "created_at": _time(acc["created_at"]),
            "email_verified_at": _time(acc["email_verified_at"]),
        },
        "votes": [{"paper": _ref(v), "created_at": _time(v["created_at"])} for v in rows.votes],
        "collections": [
            {
                "name": c["name"],
                "description": c["description"],
                "public": bool(c["is_public"]),
                "created_at": _time(c["created_at"]),
                "papers": [{"paper": _ref(p), "added_at": _time(p["added_at"])} for p in items],
            }
            for c, items in rows.collections
        ],
        "subscription": None
        if sub is None
        else {
            "frequency": sub["frequency"],
            "send_hour": sub["send_hour"],
            "weekday": sub["weekday"],
            "timezone": sub["timezone"],
            "max_papers": sub["max_papers"],
            "sections": json.loads(str(sub["sections"] or "[]")),
            "active": bool(sub["active"]),
        },
        "saved_searches": [
            {
                "name": s["name"],
                "query": s["query"],
                "category": s["category"],
                "author": s["author"],
                "created_at": _time(s["created_at"]),
            }
            for s in rows.saved_searches
        ],
        "followed_categories": [
            {"category": f["category"], "created_at": _time(f["created_at"])}
            for f in rows.followed_categories
        ],
        "followed_authors": [
            {"author": f["author"], "created_at": _time(f["created_at"])}
            for f in rows.followed_authors
        ],
        "feedback": [
            {"paper": _ref(f), "signal": f["signal"], "created_at": _time(f["created_at"])}
            for f in rows.feedback
        ],
        "comments": [
            {
                "paper": _ref(c),
                "body": "" if c["deleted_at"] else c["body"],
                "state": _comment_state(c),
                "group_only": c["group_id"] is not None,
                "created_at": _time(c["created_at"]),
                "edited_at": _time(c["edited_at"]),
                "reply_to": {"author": c["parent_author"], "created_at": _time(c["parent_at"])}
                if c["parent_author"]
                else None,
            }
            for c in rows.comments
        ],
        "claims": [
            {
                "paper": _ref(c),
                "author": c["author"],
                "status": c["status"],
                "method": c["method"],
                "created_at": _time(c["created_at"]),
                "decided_at": _time(c["decided_at"]),
            }
            for c in rows.claims
        ],
        "groups": [
            {"name": g["name"], "role": g["role"], "joined_at": _time(g["joined_at"])}
            for g in rows.groups
        ],
    }


def export_json(store: Store, user: User, now: datetime | None = None) -> str:
    """The export as the JSON text of the downloadable file."""
    return json.dumps(export_profile(store, user, now), indent=2, ensure_ascii=False) + "\n"


# ----- importing ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: the account, rows added per kind, papers missing here, what was
    skipped."""

    username: str
    created: bool
    added: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> Json:
        """JSON-friendly form."""
        return {
            "username": self.username,
            "created": self.created,
            "added": self.added,
            "missing": self.missing,
            "skipped": self.skipped,
        }


class _Papers:
    """Paper references resolved against this site once each; the ones it lacks are remembered."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.found: dict[tuple[str | None, str], int | None] = {}
        self.missing: list[str] = []

    def __call__(self, ref: tuple[str | None, str]) -> int | None:
        if ref not in self.found:
            arxiv_id, title = ref
            paper = self.store.papers.get_paper_by_arxiv(arxiv_id) if arxiv_id else None
            if paper is None and title:
                paper = self.store.papers.find_by_title(title)
            self.found[ref] = paper.id if paper is not None else None
            if paper is None:
                self.missing.append(f"arXiv {arxiv_id}" if arxiv_id else f"“{title}”")
        return self.found[ref]


def _target(store: Store, parsed: ParsedProfile, as_name: str | None, merge: bool) -> User | None:
    """The account to merge into (None: create one).

    An existing account only with `merge` (the operator's --merge: a file proves nothing about who
    owns it, #21 F17); without --as, only when its email is the file's too (a namesake on another
    site is someone else).
    """
    name = as_name or str(parsed.account["username"])
    found = store.users.get_user_by_name(name)
    if found is not None and not merge:
        raise Conflict(
            f"account {name!r} exists here: a file is no proof it is the same person; pass --merge "
            "to import into it, or --as NAME for a new account"
        )
    if found is None:
        if not _USERNAME.match(name):  # the sign-up form's rule (delivery/web/security.py)
            raise BadRequest(
                f"{'--as' if as_name else 'profile file: account.username'}: {name!r}: "
                "3 to 32 letters, digits, '.', '_' or '-'"
            )
        parsed.account["username"] = name
        return None
    if as_name is None and found.email.lower() != str(parsed.account["email"]).lower():
        raise Conflict(f"account {name!r} exists here with another email: import with --as NAME")
    return found


def import_profile(
    store: Store, raw: str | bytes, as_name: str | None = None, merge: bool = False
) -> ImportReport:
    """Import a profile file: checked in full first, then written in one transaction (nothing is
    stored when it is malformed); rows already present are kept; missing papers are reported.

    Into an existing account only with `merge`; the file's email verification is never trusted
    (the address is confirmed here, by the link, before any mail but that one goes to it).
    """
    parsed = parse_profile(raw)
    parsed.account["email_verified_at"] = None
    target = _target(store, parsed, as_name, merge)
    resolve = _Papers(store)

    def known(pairs: list[tuple[Ref, Row]]) -> list[Row]:
        out = []
        for ref, row in pairs:
            pid = resolve(ref)
            if pid is not None:
                out.append({**row, "paper_id": pid})
        return out

    rows = ProfileRows(
        account=parsed.account,
        votes=known(parsed.votes),
        collections=[(c, known(items)) for c, items in parsed.collections],
        subscription=parsed.subscription,
        saved_searches=parsed.saved_searches,
        followed_categories=parsed.followed_categories,
        followed_authors=parsed.followed_authors,
        feedback=known(parsed.feedback),
        comments=known(parsed.comments),
        claims=known(parsed.claims),
    )
    # A new account gets a password nobody knows: its owner sets one with a reset link.
    password = hash_password(secrets.token_urlsafe(32)) if target is None else ""
    _, added = store.profiles.apply_profile(target.id if target else None, rows, password)
    return ImportReport(
        username=target.username if target else str(parsed.account["username"]),
        created=target is None,
        added=added,
        missing=resolve.missing,
        skipped=parsed.skipped,
    )


# ----- deleting -----------------------------------------------------------------------------------


def delete_user(store: Store, username: str) -> User:
    """Delete an account and everything it owns (CLI: the operator decides); NotFound when
    unknown."""
    user = store.users.get_user_by_name(username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    store.profiles.delete_user(user.id)
    return user


def delete_own_account(store: Store, user: User, password: str) -> None:
    """Delete the caller's own account after checking the password."""
    found = store.users.user_credentials(user.username)
    if found is None or not verify_password(found[1], password):
        raise BadRequest("password: wrong password (your account was not deleted)")
    store.profiles.delete_user(user.id)
