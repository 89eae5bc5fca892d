"""Helpers for the digest tests: a real SMTP server (aiosmtpd) on 127.0.0.1, users, papers."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

from paperfeed.core.models import Paper, User
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.store import Store

SECRET = "s" * 48


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        """The parsed message."""
        msg = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class SinkHandler:
    """Accepts (or refuses, when told) and records every message."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_data: Any = None  # called with the message count after each accepted message

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.refuse.get(address)
        if reply and reply.startswith(("4", "5")) and "RCPT" in reply:
            return reply.replace("RCPT ", "")
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            reply = self.refuse.get(rcpt)
            if reply and "RCPT" not in reply:
                return reply
        with self.lock:
            self.received.append(
                Received(
                    envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)
                )
            )
            n = len(self.received)
        if self.on_data is not None:
            self.on_data(n)
        return "250 OK queued"

    def by_recipient(self) -> dict[str, list[Received]]:
        """Messages per recipient address."""
        out: dict[str, list[Received]] = {}
        with self.lock:
            for r in self.received:
                for to in r.rcpt_tos:
                    out.setdefault(to, []).append(r)
        return out


def smtp_settings(settings: Settings, port: int, **more: Any) -> Settings:
    """Settings that send through the sink."""
    values: dict[str, Any] = {
        "mailer": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_timeout": 10.0,
        "secret_key": SECRET,
        "base_url": "https://papers.example.org",
        "mail_from": "paperfeed <digest@papers.example.org>",
        "digest_retry_seconds": 60.0,
    }
    values.update(more)
    return with_overrides(settings, **values)


def add_user(store: Store, name: str, email_addr: str | None = None, **sub: Any) -> User:
    """An account with a subscription (daily, 07:00 UTC unless told otherwise)."""
    user = store.users.create_user(name, email_addr or f"{name}@example.org", "x")
    # digests go only to confirmed addresses
    store.comments.mark_email_verified(user.id, user.email)
    store.subscriptions.save_subscription(user.id, **{"timezone": "UTC", **sub})
    return store.users.get_user(user.id) or user


TOPICS = {
    "diffusion": (
        "Diffusion models for {x}",
        "We train a denoising diffusion model for {x} generation with score matching.",
        "cs.CV",
    ),
    "language": (
        "Large language models for {x}",
        "A large language model is instruction tuned for {x} question answering.",
        "cs.CL",
    ),
    "robots": (
        "Robot learning for {x}",
        "A reinforcement learning policy controls a robot arm for {x} manipulation.",
        "cs.RO",
    ),
}
THINGS = [
    "images",
    "video",
    "proteins",
    "audio",
    "maps",
    "code",
    "chemistry",
    "law",
    "medicine",
    "music",
    "weather",
    "finance",
    "sports",
    "poetry",
    "satellites",
    "tables",
]


def topic_papers(topic: str, n: int, start: int, day: date) -> list[Paper]:
    """n synthetic papers on a topic with distinct titles and arXiv ids."""
    title, abstract, cat = TOPICS[topic]
    out = []
    for i in range(n):
        x = f"{THINGS[i % len(THINGS)]} {i}"
        out.append(
            Paper(
                title=title.format(x=x),
                abstract=abstract.format(x=x),
                arxiv_id=f"2603.{start + i:05d}",
                version=1,
                authors=(f"Author {topic.title()} {i}", "Shared Person"),
                categories=(cat,),
                published=day,
                source="jsonl",
            )
        )
    return out


def at(day: str, hour: int = 0) -> datetime:
    """A UTC datetime."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)
