"""Helpers of the issue #21 tests: accounts with tokens, a real server in a thread, a slow SMTP
sink."""

from __future__ import annotations

import typing

from starlette.testclient import TestClient

from paperfeed.delivery.app.credentials import hash_password
from paperfeed.delivery.web.security import token_hash
from paperfeed.store import Store
from tests.test_web_browser import _serving
from tests.web_fixtures import PASSWORD, csrf_from

BEARER = "pf_round3-secret-token-value-1234"


def login(c: TestClient, login: str, password: str = PASSWORD) -> int:
    """Post the log-in form; the status code."""
    token = csrf_from(c.get("/login").text)
    r = c.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return r.status_code


def uid(store: Store, name: str) -> int:
    """The id of an account by name."""
    user = store.users.get_user_by_name(name)
    assert user is not None
    return user.id


def verified_token(store: Store, name: str, secret: str) -> dict[str, str]:
    """A verified account with a write token; its Authorization header."""
    user = store.users.create_user(name, f"{name}@example.org", hash_password(PASSWORD))
    store.comments.mark_email_verified(user.id, user.email)
    store.security.create_token(user.id, "t", token_hash(secret), "write", None)
    return {"Authorization": f"Bearer {secret}"}


# A real uvicorn server in a thread (its thread pool is what a stalled request would hold).
serving = _serving


class SlowSink:
    """A real SMTP server (aiosmtpd) that takes `delay` seconds to accept each message."""

    def __init__(self, delay: float) -> None:
        import asyncio

        from aiosmtpd.controller import Controller

        from tests._digest_fixtures import SinkHandler, free_port

        outer = self

        class Slow(SinkHandler):
            async def handle_DATA(
                self, server: typing.Any, session: typing.Any, envelope: typing.Any
            ) -> str:
                await asyncio.sleep(outer.delay)
                return await super().handle_DATA(server, session, envelope)

        self.delay = delay
        self.handler = Slow()
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.controller = Controller(
            self.handler, loop=self.loop, hostname="127.0.0.1", port=self.port, decode_data=False
        )
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
        self.loop.close()
