"""Account security data: server-side sessions, failed log-ins per account, scoped API tokens.

A repository over SQLAlchemy Core (composed by Store as `store.security`). Secrets are never stored:
sessions and tokens are kept by their SHA-256, so a database leak yields no usable cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, RowMapping, and_, delete, desc, func, insert, select, update

from paperfeed.core.models import User
from paperfeed.store.dialect import upsert
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import api_tokens, login_failures, sessions, users

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is refreshed at most this often


@dataclass(frozen=True)
class SessionInfo:
    """One live browser session of a user (for the profile's session list)."""

    id: int
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str


@dataclass(frozen=True)
class TokenInfo:
    """A personal API token as its owner sees it (the secret is never stored)."""

    id: int
    name: str
    scope: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    def expired(self, now: datetime) -> bool:
        """Whether the token can no longer be used."""
        return self.expires_at is not None and self.expires_at <= now


def _user(row: RowMapping) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        created_at=utc(row["created_at"]) or now_utc(),
        is_admin=bool(row["is_admin"]),
        # F9: without it a logged-in user never counts as verified (invites 403, no auto-claims)
        email_verified=row.get("email_verified_at") is not None,
    )


class SecurityRepo:
    """Sessions, login failures and API tokens."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ----- sessions ---------------------------------------------------------------------------

    def create_session(
        self, user_id: int, token_hash: str, lifetime: timedelta, user_agent: str = ""
    ) -> None:
        """Record a new session by the hash of its cookie id."""
        now = now_utc()
        with self.engine.begin() as conn:
            conn.execute(
                insert(sessions).values(
                    token_hash=token_hash,
                    user_id=user_id,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + lifetime,
                    user_agent=user_agent[:200],
                )
            )

    def session_user(self, token_hash: str) -> User | None:
        """The user of a live session (None when unknown, revoked or expired); notes the use."""
        now = now_utc()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(
                        users,
                        sessions.c.id.label("sid"),
                        sessions.c.expires_at,
                        sessions.c.last_seen_at,
                    )
                    .join(sessions, sessions.c.user_id == users.c.id)
                    .where(sessions.c.token_hash == token_hash)
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        expires = utc(row["expires_at"])
        if expires is None or expires <= now:
            self.delete_session(token_hash)
            return None
        last = utc(row["last_seen_at"])
        if last is None or now - last > TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(
                    update(sessions).where(sessions.c.id == row["sid"]).values(last_seen_at=now)
                )
        return _user(row)

    def delete_session(self, token_hash: str) -> bool:
        """End one session; False when it did not exist."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash)).rowcount
            )

    def delete_user_sessions(self, user_id: int, keep_hash: str | None = None) -> int:
        """End every session of a user (but `keep_hash`); returns how many ended."""
        cond = sessions.c.user_id == user_id
        if keep_hash is not None:
            cond = and_(cond, sessions.c.token_hash != keep_hash)
        with self.engine.begin() as conn:
            return int(conn.execute(delete(sessions).where(cond)).rowcount or 0)

    def user_sessions(self, user_id: int) -> list[SessionInfo]:
        """A user's live sessions, most recently used first."""
        now = now_utc()
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(sessions)
                    .where(and_(sessions.c.user_id == user_id, sessions.c.expires_at > now))
                    .order_by(desc(sessions.c.last_seen_at), desc(sessions.c.id))
                )
                .mappings()
                .all()
            )
        return [
            SessionInfo(
                r["id"],
                utc(r["created_at"]) or now,
                utc(r["last_seen_at"]) or now,
                utc(r["expires_at"]) or now,
                r["user_agent"],
            )
            for r in rows
        ]

    def purge_expired_sessions(self) -> int:
        """Delete expired sessions; returns how many."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(delete(sessions).where(sessions.c.expires_at <= now_utc())).rowcount
                or 0
            )

    # ----- failed log-ins ---------------------------------------------------------------------

    def login_failures(self, key: str) -> tuple[int, datetime] | None:
        """(failures, time of the last one) for an account key, or None."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(login_failures).where(login_failures.c.key == key))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return int(row["failures"]), utc(row["last_failure_at"]) or now_utc()

    def record_login_failure(self, key: str) -> int:
        """Count one more failure (atomically, also under concurrent attempts); returns the new
        count."""
        now = now_utc()
        stmt = upsert(
            self.engine,
            login_failures,
            {"key": key, "failures": 1, "last_failure_at": now},
            keys=["key"],
            changes={"failures": login_failures.c.failures + 1, "last_failure_at": now},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
            return int(
                conn.execute(
                    select(login_failures.c.failures).where(login_failures.c.key == key)
                ).scalar_one()
            )

    def clear_login_failures(self, key: str) -> None:
        """Forget an account's failures (after a successful log-in or a password reset)."""
        with self.engine.begin() as conn:
            conn.execute(delete(login_failures).where(login_failures.c.key == key))

    # ----- API tokens -------------------------------------------------------------------------

    def create_token(
        self, user_id: int, name: str, token_hash: str, scope: str, expires_at: datetime | None
    ) -> TokenInfo:
        """Record a token by its hash, with its scope and expiry."""
        now = now_utc()
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(api_tokens)
                .values(
                    user_id=user_id,
                    name=name,
                    token_hash=token_hash,
                    created_at=now,
                    scope=scope,
                    expires_at=expires_at,
                )
                .returning(api_tokens.c.id)
            ).scalar_one()
        return TokenInfo(int(new_id), name, scope, now, expires_at, None)

    def user_tokens(self, user_id: int) -> list[TokenInfo]:
        """A user's tokens, newest first (expired ones included, marked by expires_at)."""
        with self.engine.connect() as conn:
            rows = (
                conn.execute(
                    select(api_tokens)
                    .where(api_tokens.c.user_id == user_id)
                    .order_by(desc(api_tokens.c.id))
                )
                .mappings()
                .all()
            )
        return [
            TokenInfo(
                r["id"],
                r["name"],
                r["scope"],
                utc(r["created_at"]) or now_utc(),
                utc(r["expires_at"]),
                utc(r["last_used_at"]),
            )
            for r in rows
        ]

    def token_user(self, token_hash: str) -> tuple[User, str] | None:
        """(account, scope) of a live token; None when unknown, revoked or expired.

        Notes the use.
        """
        now = now_utc()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(
                        users,
                        api_tokens.c.id.label("token_id"),
                        api_tokens.c.last_used_at,
                        api_tokens.c.expires_at,
                        api_tokens.c.scope,
                    )
                    .join(api_tokens, api_tokens.c.user_id == users.c.id)
                    .where(api_tokens.c.token_hash == token_hash)
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        expires = utc(row["expires_at"])
        if expires is not None and expires <= now:
            return None
        last = utc(row["last_used_at"])
        if last is None or now - last > TOUCH_EVERY:
            with self.engine.begin() as conn:
                conn.execute(
                    update(api_tokens)
                    .where(api_tokens.c.id == row["token_id"])
                    .values(last_used_at=now)
                )
        return _user(row), str(row["scope"])

    def delete_user_tokens(self, user_id: int) -> int:
        """Revoke every token of a user (after a password reset); returns how many."""
        with self.engine.begin() as conn:
            return int(
                conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount
                or 0
            )

    def count_sessions(self, user_id: int) -> int:
        """How many sessions (live or not yet purged) a user has."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(sessions).where(sessions.c.user_id == user_id)
                ).scalar_one()
            )
