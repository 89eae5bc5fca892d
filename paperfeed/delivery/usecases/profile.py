"""The portable profile: export everything a user has as one JSON file (docs/profile-export.md),
import it into another paperfeed (a new or an existing account; importing twice changes nothing;
papers this site lacks are reported, never invented), and delete an account with all it owns."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from paperfeed.core.errors import BadRequest, Conflict, NotFound
from paperfeed.core.models import User
from paperfeed.core.rules import MAX_FOLLOWS, MAX_SAVED_SEARCHES, no_nul, validate_subscription
from paperfeed.delivery.credentials import hash_password, verify_password
from paperfeed.store import Store
from paperfeed.store.profiles import ProfileRows, Row, Value
from paperfeed.store.runs import now_utc

FORMAT = "paperfeed-profile"
VERSION = 1
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TEXT = 10_000  # the longest text field (a comment body)
Json = dict[str, Any]
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


# ----- export -------------------------------------------------------------------------------------


def _time(value: Value) -> str | None:
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else None


def _ref(row: Row) -> Json:
    return {"arxiv_id": row["arxiv_id"], "title": row["title"]}


def _comment_state(c: Row) -> str:
    return "deleted" if c["deleted_at"] else "hidden" if c["hidden_at"] else "visible"


def export_profile(store: Store, user: User, now: datetime | None = None) -> Json:
    """Everything the user has, as the documented `paperfeed-profile` version 1 object."""
    rows = store.profile_rows(user.id)
    acc = rows.account
    sub = rows.subscription
    return {
        "format": FORMAT, "version": VERSION, "exported_at": _time(now or now_utc()),
        "account": {"username": acc["username"], "email": acc["email"], "is_admin": bool(acc["is_admin"]),
                    "created_at": _time(acc["created_at"]), "email_verified_at": _time(acc["email_verified_at"])},
        "votes": [{"paper": _ref(v), "created_at": _time(v["created_at"])} for v in rows.votes],
        "collections": [{
            "name": c["name"], "description": c["description"], "public": bool(c["is_public"]),
            "created_at": _time(c["created_at"]),
            "papers": [{"paper": _ref(p), "added_at": _time(p["added_at"])} for p in items],
        } for c, items in rows.collections],
        "subscription": None if sub is None else {
            "frequency": sub["frequency"], "send_hour": sub["send_hour"], "weekday": sub["weekday"],
            "timezone": sub["timezone"], "max_papers": sub["max_papers"],
            "sections": json.loads(str(sub["sections"] or "[]")), "active": bool(sub["active"]),
        },
        "saved_searches": [{"name": s["name"], "query": s["query"], "category": s["category"],
                            "author": s["author"], "created_at": _time(s["created_at"])} for s in rows.saved_searches],
        "followed_categories": [{"category": f["category"], "created_at": _time(f["created_at"])}
                                for f in rows.followed_categories],
        "followed_authors": [{"author": f["author"], "created_at": _time(f["created_at"])}
                             for f in rows.followed_authors],
        "feedback": [{"paper": _ref(f), "signal": f["signal"], "created_at": _time(f["created_at"])}
                     for f in rows.feedback],
        "comments": [{
            "paper": _ref(c), "body": "" if c["deleted_at"] else c["body"], "state": _comment_state(c),
            "group_only": c["group_id"] is not None, "created_at": _time(c["created_at"]),
            "edited_at": _time(c["edited_at"]),
            "reply_to": {"author": c["parent_author"], "created_at": _time(c["parent_at"])}
            if c["parent_author"] else None,
        } for c in rows.comments],
        "claims": [{"paper": _ref(c), "author": c["author"], "status": c["status"], "method": c["method"],
                    "created_at": _time(c["created_at"]), "decided_at": _time(c["decided_at"])} for c in rows.claims],
        "groups": [{"name": g["name"], "role": g["role"], "joined_at": _time(g["joined_at"])} for g in rows.groups],
    }


def export_json(store: Store, user: User, now: datetime | None = None) -> str:
    """The export as the JSON text of the downloadable file."""
    return json.dumps(export_profile(store, user, now), indent=2, ensure_ascii=False) + "\n"


# ----- reading a file -----------------------------------------------------------------------------


class _Reader:
    """Typed reads out of the parsed JSON; each bad value raises BadRequest naming its path."""

    @staticmethod
    def fail(path: str, what: str) -> BadRequest:
        """The error for a bad value at `path`."""
        return BadRequest(f"profile file: {path}: {what}")

    def obj(self, value: object, path: str) -> Json:
        """An object."""
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {type(value).__name__}")
        return value

    def items(self, doc: Json, key: str, limit: int = 100_000) -> list[tuple[str, Json]]:
        """A list of objects (absent: empty), each with its path."""
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {type(value).__name__}")
        if len(value) > limit:
            raise self.fail(key, f"at most {limit} entries")
        return [(f"{key}[{i}]", self.obj(v, f"{key}[{i}]")) for i, v in enumerate(value)]

    def text(self, doc: Json, key: str, path: str, optional: bool = False, limit: int = 1000) -> str | None:
        """A string (None when optional and absent)."""
        value = doc.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or (not value.strip() and not optional):
            raise self.fail(f"{path}.{key}", "expected a non-empty string")
        if len(value) > limit:
            raise self.fail(f"{path}.{key}", f"at most {limit} characters")
        no_nul(f"{path}.{key}", value)
        return value

    def need(self, doc: Json, key: str, path: str, limit: int = 1000) -> str:
        """A non-empty string."""
        value = self.text(doc, key, path, limit=limit)
        assert value is not None
        return value

    def integer(self, doc: Json, key: str, path: str) -> int:
        """An integer."""
        value = doc.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"{path}.{key}", f"expected an integer, got {value!r}")
        return value

    def flag(self, doc: Json, key: str, path: str) -> bool:
        """true or false (absent: false)."""
        value = doc.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{path}.{key}", f"expected true or false, got {value!r}")
        return value

    def when(self, doc: Json, key: str, path: str, optional: bool = False) -> datetime | None:
        """An ISO 8601 time, made UTC-aware."""
        value = doc.get(key)
        if value is None and optional:
            return None
        try:
            parsed = datetime.fromisoformat(str(value)) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise self.fail(f"{path}.{key}", f"expected an ISO 8601 time, got {value!r}")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def paper(self, doc: Json, path: str) -> tuple[str | None, str]:
        """The (arxiv_id, title) reference in `paper`."""
        ref = self.obj(doc.get("paper"), f"{path}.paper")
        arxiv_id = self.text(ref, "arxiv_id", f"{path}.paper", optional=True, limit=64)
        title = self.text(ref, "title", f"{path}.paper", optional=arxiv_id is not None, limit=2000)
        return arxiv_id, title or ""


@dataclass
class ImportReport:
    """What an import did: the account, rows added per kind, papers missing here, what was skipped."""

    username: str
    created: bool
    added: dict[str, int] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> Json:
        """JSON-friendly form."""
        return {"username": self.username, "created": self.created, "added": self.added,
                "missing": self.missing, "skipped": self.skipped}


class _Papers:
    """Paper references resolved against this site once each; the ones it lacks are remembered."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.found: dict[tuple[str | None, str], int | None] = {}
        self.missing: list[str] = []

    def __call__(self, ref: tuple[str | None, str]) -> int | None:
        if ref not in self.found:
            arxiv_id, title = ref
            paper = self.store.get_paper_by_arxiv(arxiv_id) if arxiv_id else None
            if paper is None and title:
                paper = self.store.find_by_title(title)
            self.found[ref] = paper.id if paper is not None else None
            if paper is None:
                self.missing.append(f"arXiv {arxiv_id}" if arxiv_id else f"“{title}”")
        return self.found[ref]


Ref = tuple[str | None, str]


@dataclass
class _Parsed:
    """A checked file: rows with paper references still to resolve."""

    account: Row
    votes: list[tuple[Ref, Row]] = field(default_factory=list)
    collections: list[tuple[Row, list[tuple[Ref, Row]]]] = field(default_factory=list)
    subscription: Row | None = None
    saved_searches: list[Row] = field(default_factory=list)
    followed_categories: list[Row] = field(default_factory=list)
    followed_authors: list[Row] = field(default_factory=list)
    feedback: list[tuple[Ref, Row]] = field(default_factory=list)
    comments: list[tuple[Ref, Row]] = field(default_factory=list)
    claims: list[tuple[Ref, Row]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def parse_profile(raw: str | bytes) -> _Parsed:
    """Check a profile file completely (before anything is stored); BadRequest names what is wrong."""
    if len(raw) > MAX_FILE_BYTES:
        raise BadRequest(f"profile file: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"profile file: not JSON ({exc})") from None
    r = _Reader()
    doc = r.obj(doc, "the file")
    if doc.get("format") != FORMAT:
        raise r.fail("format", f"expected {FORMAT!r}, got {doc.get('format')!r}")
    if doc.get("version") != VERSION:
        raise r.fail("version", f"this paperfeed reads version {VERSION}, got {doc.get('version')!r}")
    acc = r.obj(doc.get("account"), "account")
    email = r.need(acc, "email", "account", limit=320)
    if not _EMAIL.match(email):
        raise r.fail("account.email", f"not an email address: {email!r}")
    out = _Parsed(account={"username": r.need(acc, "username", "account", limit=64), "email": email,
                           "created_at": r.when(acc, "created_at", "account"),
                           "email_verified_at": r.when(acc, "email_verified_at", "account", optional=True)})
    for path, v in r.items(doc, "votes"):
        out.votes.append((r.paper(v, path), {"created_at": r.when(v, "created_at", path)}))
    for path, c in r.items(doc, "collections"):
        papers: list[tuple[Ref, Row]] = [(r.paper(p, f"{path}.{sub}"), {"added_at": r.when(p, "added_at", f"{path}.{sub}")})
                  for sub, p in r.items(c, "papers")]
        out.collections.append(({"name": r.need(c, "name", path, limit=200),
                                 "description": r.text(c, "description", path, optional=True, limit=MAX_TEXT) or "",
                                 "is_public": r.flag(c, "public", path),
                                 "created_at": r.when(c, "created_at", path)}, papers))
    if doc.get("subscription") is not None:
        s = r.obj(doc["subscription"], "subscription")
        sections = s.get("sections")
        if not isinstance(sections, list) or not all(isinstance(x, str) for x in sections):
            raise r.fail("subscription.sections", "expected a list of section names")
        sub: Row = {"frequency": r.need(s, "frequency", "subscription"),
                    "send_hour": r.integer(s, "send_hour", "subscription"),
                    "weekday": r.integer(s, "weekday", "subscription"),
                    "timezone": r.need(s, "timezone", "subscription", limit=64),
                    "max_papers": r.integer(s, "max_papers", "subscription"),
                    "sections": json.dumps(sections), "active": r.flag(s, "active", "subscription")}
        try:
            validate_subscription(str(sub["frequency"]), int(s["send_hour"]), int(s["weekday"]),
                                  str(sub["timezone"]), int(s["max_papers"]), sections)
        except BadRequest as exc:
            raise r.fail("subscription", exc.message) from None
        out.subscription = sub
    for path, s in r.items(doc, "saved_searches", MAX_SAVED_SEARCHES):
        out.saved_searches.append({"name": r.need(s, "name", path, limit=200), "query": r.text(s, "query", path, True, 500) or "",
                                   "category": r.text(s, "category", path, True, 64),
                                   "author": r.text(s, "author", path, True, 200), "created_at": r.when(s, "created_at", path)})
    for kind, key, limit in (("followed_categories", "category", 64), ("followed_authors", "author", 200)):
        for path, f in r.items(doc, kind, MAX_FOLLOWS):
            getattr(out, kind).append({key: r.need(f, key, path, limit=limit), "created_at": r.when(f, "created_at", path)})
    for path, f in r.items(doc, "feedback"):
        signal = r.integer(f, "signal", path)
        if signal not in (1, -1):
            raise r.fail(f"{path}.signal", f"expected 1 (more like this) or -1 (less), got {signal}")
        out.feedback.append((r.paper(f, path), {"signal": signal, "created_at": r.when(f, "created_at", path)}))
    for path, c in r.items(doc, "comments"):
        ref, state = r.paper(c, path), r.need(c, "state", path)
        if state not in ("visible", "hidden", "deleted"):
            raise r.fail(f"{path}.state", f"expected visible, hidden or deleted, got {state!r}")
        row: Row = {"body": r.text(c, "body", path, optional=state == "deleted", limit=MAX_TEXT),
                    "created_at": r.when(c, "created_at", path), "edited_at": r.when(c, "edited_at", path, True)}
        if c.get("reply_to") is not None:
            to = r.obj(c["reply_to"], f"{path}.reply_to")
            row.update(parent_author=r.need(to, "author", f"{path}.reply_to", limit=64),
                       parent_at=r.when(to, "created_at", f"{path}.reply_to"))
        if state != "visible" or r.flag(c, "group_only", path):
            why = "group-only" if state == "visible" else state
            out.skipped.append(f"{path}: a {why} comment is not imported")
            continue
        out.comments.append((ref, row))
    for path, c in r.items(doc, "claims"):
        out.claims.append((r.paper(c, path), {"author": r.need(c, "author", path, limit=500), "status": "pending",
                                              "method": r.need(c, "method", path, limit=32),
                                              "created_at": r.when(c, "created_at", path), "decided_at": None}))
    if r.items(doc, "groups"):
        out.skipped.append("groups: memberships are not imported (ask the group for an invite)")
    return out


def _target(store: Store, parsed: _Parsed, as_name: str | None) -> User | None:
    """The account to merge into (None: create one). Without --as, an account of the same name is
    used only when its email is the file's too (a namesake on another site is someone else)."""
    name = as_name or str(parsed.account["username"])
    found = store.get_user_by_name(name)
    if found is None:
        if not _USERNAME.match(name):  # the sign-up form's rule (delivery/web/security.py)
            raise BadRequest(f"{'--as' if as_name else 'profile file: account.username'}: {name!r}: "
                             "3 to 32 letters, digits, '.', '_' or '-'")
        parsed.account["username"] = name
        return None
    if as_name is None and found.email.lower() != str(parsed.account["email"]).lower():
        raise Conflict(f"account {name!r} exists here with another email: import with --as NAME")
    return found


def import_profile(store: Store, raw: str | bytes, as_name: str | None = None) -> ImportReport:
    """Import a profile file: checked in full first, then written in one transaction (nothing is
    stored when it is malformed); rows already present are kept; missing papers are reported."""
    parsed = parse_profile(raw)
    target = _target(store, parsed, as_name)
    resolve = _Papers(store)

    def known(pairs: list[tuple[Ref, Row]]) -> list[Row]:
        out = []
        for ref, row in pairs:
            pid = resolve(ref)
            if pid is not None:
                out.append({**row, "paper_id": pid})
        return out

    rows = ProfileRows(
        account=parsed.account, votes=known(parsed.votes),
        collections=[(c, known(items)) for c, items in parsed.collections], subscription=parsed.subscription,
        saved_searches=parsed.saved_searches, followed_categories=parsed.followed_categories,
        followed_authors=parsed.followed_authors, feedback=known(parsed.feedback), comments=known(parsed.comments),
        claims=known(parsed.claims),
    )
    # A new account gets a password nobody knows: its owner sets one with a reset link.
    password = hash_password(secrets.token_urlsafe(32)) if target is None else ""
    _, added = store.apply_profile(target.id if target else None, rows, password)
    return ImportReport(username=target.username if target else str(parsed.account["username"]),
                        created=target is None, added=added, missing=resolve.missing, skipped=parsed.skipped)


# ----- deleting -----------------------------------------------------------------------------------


def delete_user(store: Store, username: str) -> User:
    """Delete an account and everything it owns (CLI: the operator decides); NotFound when unknown."""
    user = store.get_user_by_name(username)
    if user is None:
        raise NotFound(f"no user named {username!r}")
    store.delete_user(user.id)
    return user


def delete_own_account(store: Store, user: User, password: str) -> None:
    """Delete the caller's own account after checking the password."""
    found = store.user_credentials(user.username)
    if found is None or not verify_password(found[1], password):
        raise BadRequest("password: wrong password (your account was not deleted)")
    store.delete_user(user.id)
