"""Digest emails: multipart/alternative, headers (RFC 8058, Message-ID, Date), encodings, signed
links."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest

from paperfeed.core.errors import BadRequest
from paperfeed.core.models import Paper, User
from paperfeed.core.settings import load_settings
from paperfeed.delivery.mail.compose import DigestContent, build_message, message_id_for
from paperfeed.delivery.mail.tokens import (
    FEEDBACK_SALT,
    feedback_token,
    link_stamp,
    read_feedback_token,
    read_unsubscribe_token,
    unsubscribe_token,
)
from tests._mail import body_of

SECRET = "k" * 48
SETTINGS = load_settings({"secret_key": SECRET, "base_url": "https://papers.example.org/",
                          "mail_from": "Pâperfeed Digest <digest@papers.example.org>"}, environ={})
NOW = datetime(2026, 3, 10, 8, tzinfo=UTC)
PAPERS = {
    7: Paper(
        id=7,
        title="Ünïcode & <b>markup</b> in titles",
        abstract="An abstract " * 60,
        authors=("Zoë Ø", "B C"),
        categories=("cs.CL",),
        published=date(2026, 3, 10),
        pdf_url="https://arxiv.org/pdf/2603.00007",
    ),
    8: Paper(
        id=8,
        title="Second paper",
        abstract="Short.",
        authors=tuple(f"Author {i}" for i in range(9)),
    ),
}
ITEMS = [
    {"paper_id": 7, "section": "searches", "reason": "matches your saved search “LLM” (language)"},
    {"paper_id": 8, "section": "recommended", "reason": "similar to “X”, which you upvoted"},
    {"paper_id": 99, "section": "trending", "reason": "merged away since"},
]


def _build(user: User, gap: int = 0) -> tuple[EmailMessage, object]:
    content = DigestContent(
        user=user,
        period="d:2026-03-10",
        items=ITEMS,
        papers=PAPERS,
        gap_days=gap,
        window_start=NOW,
        message_id=message_id_for(SETTINGS, 12, user.id, "d:2026-03-10"),
    )
    out = build_message(SETTINGS, SECRET, content, NOW)
    msg = email.message_from_bytes(out.data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg, out


def test_multipart_alternative_with_headers() -> None:
    user = User(id=3, username="Jürgen Müller", email="jm@example.org", created_at=NOW)
    msg, out = _build(user)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Message-ID"] == "<digest-12.3.d-2026-03-10@papers.example.org>"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == NOW
    assert (
        msg["To"].addresses[0].display_name == "Jürgen Müller"
        and msg["From"].addresses[0].display_name == "Pâperfeed Digest"
    )
    raw_headers = out.data.split(b"\r\n\r\n", 1)[0]  # type: ignore[attr-defined]
    assert raw_headers.isascii() and b"=?utf-8?" in raw_headers  # names are RFC 2047-encoded
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = msg["List-Unsubscribe"]
    assert unsub.startswith("<https://papers.example.org/unsubscribe?t=") and unsub.endswith(">")
    token = parse_qs(urlsplit(unsub[1:-1]).query)["t"][0]
    assert read_unsubscribe_token(SECRET, token) == (3, link_stamp(user))
    assert not out.smtputf8 and out.recipient == "jm@example.org"  # type: ignore[attr-defined]
    # "–" encoded, decoded
    assert msg["Subject"] == "paperfeed: 2 new papers for you – Tuesday 10 March 2026"
    assert all(
        len(line) <= 78
        for line in raw_headers.split(b"\r\n")
        if line.startswith((b"Subject", b" =?"))
    )
    text = body_of(msg)
    html = body_of(msg, "html")
    assert "Ünïcode & <b>markup</b> in titles" in text
    assert "Ünïcode &amp; &lt;b&gt;markup&lt;/b&gt; in titles" in html and "<b>markup" not in html
    assert (
        "https://papers.example.org/papers/7" in text
        and 'href="https://papers.example.org/papers/7"' in html
    )
    assert (
        "Why: matches your saved search “LLM”" in text
        and "Author 0, Author 1, Author 2 and 6 more" in text
    )
    # inline CSS, no remote images
    assert "<img" not in html and "<link" not in html and "style=" in html
    assert "papers/99" not in text  # a paper merged away is left out
    assert text.index("Your saved searches") < text.index("Recommended for you")


def test_feedback_links_are_signed_per_paper_and_signal() -> None:
    user = User(id=3, username="u", email="u@example.org", created_at=NOW)
    msg, _ = _build(user)
    html = body_of(msg, "html")
    links = [parse_qs(urlsplit(u.replace("&amp;", "&")).query) for u in
             (part.split('"')[0] for part in html.split('href="')[1:]) if "/feedback?" in u]
    got = {(*read_feedback_token(SECRET, q["t"][0]), int(q["s"][0])) for q in links}
    stamp = link_stamp(user)
    assert got == {(3, 7, stamp, 1), (3, 7, stamp, -1), (3, 8, stamp, 1), (3, 8, stamp, -1)}
    tokens = [q["t"][0] for q in links]
    with pytest.raises(BadRequest):
        read_feedback_token("another secret" * 4, tokens[0])
    with pytest.raises(BadRequest):
        read_unsubscribe_token(SECRET, feedback_token(SECRET, user, 7))  # salts keep kinds apart
    with pytest.raises(BadRequest):
        read_unsubscribe_token(SECRET, unsubscribe_token(SECRET, user)[:-3] + "abc")


def test_tokens_are_exactly_what_itsdangerous_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import itsdangerous

    monkeypatch.setattr(time, "time", lambda: 1_772_000_000.5)  # the clock itsdangerous reads
    user = User(id=3, username="u", email="u@example.org", created_at=NOW)
    stamp = link_stamp(user)
    stock = (
        itsdangerous.TimestampSigner(SECRET, salt=FEEDBACK_SALT)
        .sign(f"3.7.{stamp}")
        .decode("ascii")
    )
    assert feedback_token(SECRET, user, 7) == stock
    assert read_feedback_token(SECRET, stock) == (3, 7, stamp)


def test_gap_is_announced() -> None:
    msg, _ = _build(User(id=3, username="u", email="u@example.org", created_at=NOW), gap=4)
    assert "(catching up)" in msg["Subject"]
    assert "missed sending you digests for 4 days" in body_of(msg)


def test_international_addresses() -> None:
    _, out = _build(User(id=4, username="u", email="user@bücher.example", created_at=NOW))
    assert out.recipient == "user@xn--bcher-kva.example" and not out.smtputf8  # type: ignore[attr-defined]
    _, out = _build(User(id=5, username="Jörg", email="jörg@example.org", created_at=NOW))
    assert out.smtputf8 and out.recipient == "jörg@example.org"  # type: ignore[attr-defined]
    assert "jörg@example.org".encode() in out.data.split(b"\r\n\r\n", 1)[0]  # type: ignore[attr-defined]
    with pytest.raises(BadRequest):
        _build(User(id=6, username="x", email="not-an-address", created_at=NOW))


def test_abstracts_are_shortened_at_a_word() -> None:
    from paperfeed.delivery.mail.compose import _shorten

    assert _shorten("short  abstract\n", 280) == "short abstract"
    long = "word " * 200
    cut = _shorten(long, 280)
    assert cut.endswith("…") and len(cut) <= 281 and "  " not in cut
    spaced = "a" + " " * 1000 + "b"  # mostly whitespace: still collapsed, nothing cut
    assert _shorten(spaced, 280) == "a b"
