"""Reading the parts of a composed or received email in tests."""

from __future__ import annotations

from email.message import EmailMessage


def body_of(msg: EmailMessage, kind: str = "plain") -> str:
    """The text of the message's plain or html part (fails the test when the part is missing)."""
    part = msg.get_body((kind,))
    assert part is not None, f"no {kind} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content
