"""Reading a `paperfeed-profile` file (docs/profile-export.md): every value is checked before
anything is stored, and a bad one is refused with its path (`votes[1].created_at: ...`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from paperfeed.core.addresses import is_email
from paperfeed.core.errors import BadRequest
from paperfeed.core.rules import MAX_FOLLOWS, MAX_SAVED_SEARCHES, no_nul, validate_subscription
from paperfeed.store.profiles import Row

FORMAT = "paperfeed-profile"
VERSION = 1
MAX_FILE_BYTES = 50 * 1024 * 1024
# an export is at most 5 levels deep (file, collections, a collection, items, an item)
MAX_DEPTH = 16


def _depth(doc: object) -> int:
    """How deeply lists and objects nest in a parsed document (iterative: no recursion limit)."""
    deepest, todo = 0, [(doc, 1)]
    while todo:
        value, level = todo.pop()
        if isinstance(value, dict):
            children: list[object] = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        todo.extend((child, level + 1) for child in children)
    return deepest


MAX_TEXT = 10_000  # the longest text field (a comment body)
Json = dict[str, Any]


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

    def text(
        self, doc: Json, key: str, path: str, optional: bool = False, limit: int = 1000
    ) -> str | None:
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


Ref = tuple[str | None, str]


@dataclass
class ParsedProfile:
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


def parse_profile(raw: str | bytes) -> ParsedProfile:
    """Check a profile file completely (before anything is stored); BadRequest names what is
    wrong."""
    if len(raw) > MAX_FILE_BYTES:
        raise BadRequest(f"profile file: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"profile file: not JSON ({exc})") from None
    except RecursionError:  # #21 F17: a deeply nested file is bad input, not a traceback
        raise BadRequest(f"profile file: nested deeper than {MAX_DEPTH} levels") from None
    if _depth(doc) > MAX_DEPTH:
        raise BadRequest(f"profile file: nested deeper than {MAX_DEPTH} levels")
    r = _Reader()
    doc = r.obj(doc, "the file")
    if doc.get("format") != FORMAT:
        raise r.fail("format", f"expected {FORMAT!r}, got {doc.get('format')!r}")
    if doc.get("version") != VERSION:
        raise r.fail(
            "version", f"this paperfeed reads version {VERSION}, got {doc.get('version')!r}"
        )
    acc = r.obj(doc.get("account"), "account")
    email = r.need(acc, "email", "account", limit=320)
    if not is_email(email):
        raise r.fail("account.email", f"not an email address: {email!r}")
    out = ParsedProfile(
        account={
            "username": r.need(acc, "username", "account", limit=64),
            "email": email,
            "created_at": r.when(acc, "created_at", "account"),
            "email_verified_at": r.when(acc, "email_verified_at", "account", optional=True),
        }
    )
    for path, v in r.items(doc, "votes"):
        out.votes.append((r.paper(v, path), {"created_at": r.when(v, "created_at", path)}))
    for path, c in r.items(doc, "collections"):
        papers: list[tuple[Ref, Row]] = [
            (r.paper(p, f"{path}.{sub}"), {"added_at": r.when(p, "added_at", f"{path}.{sub}")})
            for sub, p in r.items(c, "papers")
        ]
        out.collections.append(
            (
                {
                    "name": r.need(c, "name", path, limit=200),
                    "description": r.text(c, "description", path, optional=True, limit=MAX_TEXT)
                    or "",
                    "is_public": r.flag(c, "public", path),
                    "created_at": r.when(c, "created_at", path),
                },
                papers,
            )
        )
    if doc.get("subscription") is not None:
        s = r.obj(doc["subscription"], "subscription")
        sections = s.get("sections")
        if not isinstance(sections, list) or not all(isinstance(x, str) for x in sections):
            raise r.fail("subscription.sections", "expected a list of section names")
        sub: Row = {
            "frequency": r.need(s, "frequency", "subscription"),
            "send_hour": r.integer(s, "send_hour", "subscription"),
            "weekday": r.integer(s, "weekday", "subscription"),
            "timezone": r.need(s, "timezone", "subscription", limit=64),
            "max_papers": r.integer(s, "max_papers", "subscription"),
            "sections": json.dumps(sections),
            "active": r.flag(s, "active", "subscription"),
        }
        try:
            validate_subscription(
                str(sub["frequency"]),
                int(s["send_hour"]),
                int(s["weekday"]),
                str(sub["timezone"]),
                int(s["max_papers"]),
                sections,
            )
        except BadRequest as exc:
            raise r.fail("subscription", exc.message) from None
        out.subscription = sub
    for path, s in r.items(doc, "saved_searches", MAX_SAVED_SEARCHES):
        out.saved_searches.append(
            {
                "name": r.need(s, "name", path, limit=200),
                "query": r.text(s, "query", path, True, 500) or "",
                "category": r.text(s, "category", path, True, 64),
                "author": r.text(s, "author", path, True, 200),
                "created_at": r.when(s, "created_at", path),
            }
        )
    for kind, key, limit in (
        ("followed_categories", "category", 64),
        ("followed_authors", "author", 200),
    ):
        for path, f in r.items(doc, kind, MAX_FOLLOWS):
            getattr(out, kind).append(
                {
                    key: r.need(f, key, path, limit=limit),
                    "created_at": r.when(f, "created_at", path),
                }
            )
    for path, f in r.items(doc, "feedback"):
        signal = r.integer(f, "signal", path)
        if signal not in (1, -1):
            raise r.fail(
                f"{path}.signal", f"expected 1 (more like this) or -1 (less), got {signal}"
            )
        out.feedback.append(
            (r.paper(f, path), {"signal": signal, "created_at": r.when(f, "created_at", path)})
        )
    for path, c in r.items(doc, "comments"):
        ref, state = r.paper(c, path), r.need(c, "state", path)
        if state not in ("visible", "hidden", "deleted"):
            raise r.fail(f"{path}.state", f"expected visible, hidden or deleted, got {state!r}")
        row: Row = {
            "body": r.text(c, "body", path, optional=state == "deleted", limit=MAX_TEXT),
            "created_at": r.when(c, "created_at", path),
            "edited_at": r.when(c, "edited_at", path, True),
        }
        if c.get("reply_to") is not None:
            to = r.obj(c["reply_to"], f"{path}.reply_to")
            row.update(
                parent_author=r.need(to, "author", f"{path}.reply_to", limit=64),
                parent_at=r.when(to, "created_at", f"{path}.reply_to"),
            )
        if state != "visible" or r.flag(c, "group_only", path):
            why = "group-only" if state == "visible" else state
            out.skipped.append(f"{path}: a {why} comment is not imported")
            continue
        out.comments.append((ref, row))
    for path, c in r.items(doc, "claims"):
        out.claims.append(
            (
                r.paper(c, path),
                {
                    "author": r.need(c, "author", path, limit=500),
                    "status": "pending",
                    "method": r.need(c, "method", path, limit=32),
                    "created_at": r.when(c, "created_at", path),
                    "decided_at": None,
                },
            )
        )
    if r.items(doc, "groups"):
        out.skipped.append("groups: memberships are not imported (ask the group for an invite)")
    return out
