"""Accounts and API tokens (tokens are stored by their hash)."""

from __future__ import annotations

from sqlalchemy import Engine, and_, delete, desc, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.core.errors import Conflict, NotFound
from paperfeed.core.models import User
from paperfeed.store.community import (
    ApiToken,
    _user,
)
from paperfeed.store.runs import now_utc, utc
from paperfeed.store.schema import (
    api_tokens,
    users,
)


class UserRepo:
    """Accounts and their API tokens."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ----- users ------------------------------------------------------------------------------

    def create_user(self, username: str, email: str, password_hash: str) -> User:
        """Create an account; Conflict when the username or email is taken."""
        now = now_utc()
        with self.engine.connect() as conn:
            taken = conn.execute(
                select(users.c.username, users.c.email).where(
                    or_(
                        func.lower(users.c.username) == username.lower(),
                        func.lower(users.c.email) == email.lower(),
                    )
                )
            ).first()
        if taken is not None:
            what = "username" if taken[0].lower() == username.lower() else "email"
            raise Conflict(f"that {what} is already registered")
        try:
            with self.engine.begin() as conn:
                new_id = conn.execute(
                    insert(users)
                    .values(
                        username=username, email=email, password_hash=password_hash, created_at=now
                    )
                    .returning(users.c.id)
                ).scalar_one()
        except IntegrityError:
            raise Conflict("that username or email is already registered") from None
        return User(id=int(new_id), username=username, email=email, created_at=now)

    def get_user(self, user_id: int) -> User | None:
        """One account by id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
        return _user(row) if row else None

    def get_user_by_name(self, username: str) -> User | None:
        """One account by username (case-insensitive)."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(users).where(func.lower(users.c.username) == username.lower()))
                .mappings()
                .first()
            )
        return _user(row) if row else None

    def list_users(self, limit: int = 10_000) -> list[User]:
        """Accounts, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.id).limit(limit)).mappings().all()
        return [_user(r) for r in rows]

    def user_credentials(self, login: str) -> tuple[User, str] | None:
        """The account and password hash for a username or email (case-insensitive)."""
        key = login.strip().lower()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(users).where(
                        or_(func.lower(users.c.username) == key, func.lower(users.c.email) == key)
                    )
                )
                .mappings()
                .first()
            )
        return (_user(row), row["password_hash"]) if row else None

    def verify_email_once(self, user_id: int, email: str) -> bool:
        """Mark `email` verified if the account still has it and is not verified yet (one use, F10).

        One UPDATE, so two clicks racing cannot both count; False when used already or changed.
        """
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users)
                .where(
                    and_(
                        users.c.id == user_id,
                        func.lower(users.c.email) == email.lower(),
                        users.c.email_verified_at.is_(None),
                    )
                )
                .values(email_verified_at=now_utc())
            )
        return bool(done.rowcount)

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's password hash (after a rehash with newer parameters)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )

    def set_admin(self, username: str, is_admin: bool = True) -> User:
        """Grant or revoke administrator rights (the digest delivery log); NotFound if no such
        user."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(users)
                .where(func.lower(users.c.username) == username.lower())
                .values(is_admin=int(is_admin))
            )
        if done.rowcount == 0:
            raise NotFound(f"no user named {username!r}")
        user = self.get_user_by_name(username)
        assert user is not None
        return user

    # ----- API tokens -------------------------------------------------------------------------

    def create_token(self, user_id: int, name: str, token_hash: str) -> ApiToken:
        """Record a new token by its hash."""
        now = now_utc()
        with self.engine.begin() as conn:
            new_id = conn.execute(
                insert(api_tokens)
                .values(user_id=user_id, name=name, token_hash=token_hash, created_at=now)
                .returning(api_tokens.c.id)
            ).scalar_one()
        return ApiToken(int(new_id), user_id, name, now, None)

    def user_tokens(self, user_id: int) -> list[ApiToken]:
        """A user's tokens, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(api_tokens)
                .where(api_tokens.c.user_id == user_id)
                .order_by(desc(api_tokens.c.id))
            ).mappings()
            return [
                ApiToken(
                    r["id"],
                    r["user_id"],
                    r["name"],
                    utc(r["created_at"]) or now_utc(),
                    utc(r["last_used_at"]),
                )
                for r in rows
            ]

    def revoke_token(self, owner_id: int, token_id: int) -> None:
        """Delete an owned token; NotFound otherwise."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(api_tokens).where(
                    and_(api_tokens.c.id == token_id, api_tokens.c.user_id == owner_id)
                )
            )
        if not result.rowcount:
            raise NotFound(f"no token {token_id} of yours")

    def user_for_token(self, token_hash: str) -> User | None:
        """The account a live (unexpired) token hash belongs to; notes the use (see
        SecurityRepo.token_user)."""
        from paperfeed.store.security import SecurityRepo

        found = SecurityRepo(self.engine).token_user(token_hash)
        return found[0] if found else None
