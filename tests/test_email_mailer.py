"""Mailers against a real SMTP server (aiosmtpd on 127.0.0.1): plain, STARTTLS with login,
errors."""

from __future__ import annotations

import asyncio
import io
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.mail.compose import Outgoing
from paperfeed.delivery.mail.mailer import (
    ConsoleMailer,
    FileMailer,
    PermanentMailError,
    SMTPMailer,
    TransientMailError,
    open_mailer,
)
from tests._digest_fixtures import SinkHandler, free_port, smtp_settings

MESSAGE = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\nMessage-ID: <m1@x>\r\n\r\n"
           b"line one\r\n.leading dot\r\n")


def _out(to: str = "b@example.org", data: bytes = MESSAGE, utf8: bool = False) -> Outgoing:
    return Outgoing("<m1@x>", "a@example.org", to, data, utf8)


def test_send_reuses_the_connection_and_calls_the_hook_before_the_end(
    smtp_sink: tuple[SinkHandler, int], settings: Settings
) -> None:
    sink, port = smtp_sink
    mailer = SMTPMailer(smtp_settings(settings, port))
    seen: list[int] = []
    try:
        for i in range(3):
            mailer.send(_out(f"r{i}@example.org"), lambda: seen.append(len(sink.received)))
    finally:
        mailer.close()
    assert seen == [0, 1, 2]  # the hook ran before the server had the message
    assert [r.rcpt_tos for r in sink.received] == [
        ["r0@example.org"],
        ["r1@example.org"],
        ["r2@example.org"],
    ]
    # dot-stuffing undone
    assert sink.received[0].message.get_content().splitlines()[1] == ".leading dot"


def test_refusals_are_transient_or_permanent(
    smtp_sink: tuple[SinkHandler, int], settings: Settings
) -> None:
    sink, port = smtp_sink
    sink.refuse["busy@example.org"] = "452 4.2.2 RCPT mailbox full"
    sink.refuse["gone@example.org"] = "550 5.1.1 RCPT no such user"
    sink.refuse["spam@example.org"] = "554 5.7.1 rejected as spam"
    mailer = SMTPMailer(smtp_settings(settings, port))
    hooks: list[str] = []
    try:
        with pytest.raises(TransientMailError):
            mailer.send(_out("busy@example.org"), lambda: hooks.append("busy"))
        with pytest.raises(PermanentMailError) as exc:
            mailer.send(_out("gone@example.org"), lambda: hooks.append("gone"))
        assert exc.value.code == 550
        with pytest.raises(PermanentMailError):
            # refused after DATA
            mailer.send(_out("spam@example.org"), lambda: hooks.append("spam"))
        # the connection still works
        mailer.send(_out("ok@example.org"), lambda: hooks.append("ok"))
    finally:
        mailer.close()
    assert hooks == ["spam", "ok"]  # RCPT refusals never reach the end of DATA
    assert [r.rcpt_tos for r in sink.received] == [["ok@example.org"]]


def test_unreachable_server_is_transient(settings: Settings) -> None:
    mailer = SMTPMailer(smtp_settings(settings, free_port(), smtp_timeout=2.0))
    with pytest.raises(TransientMailError, match="cannot connect"):
        mailer.send(_out(), lambda: None)
    mailer.close()


def test_smtputf8_needed_but_not_offered_is_permanent(settings: Settings) -> None:
    handler = SinkHandler()
    port = free_port()
    loop = asyncio.new_event_loop()
    controller = Controller(
        handler, loop=loop, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False
    )
    controller.start()
    mailer = SMTPMailer(smtp_settings(settings, port))
    try:
        with pytest.raises(PermanentMailError, match="SMTPUTF8"):
            mailer.send(_out("jörg@example.org", utf8=True), lambda: None)
    finally:
        mailer.close()
        controller.stop()
        loop.close()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_sink(tls_files: tuple[Path, Path]) -> Iterator[tuple[SinkHandler, int, Path]]:
    """An SMTP server that requires STARTTLS and then AUTH PLAIN."""
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))

    def auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == b"mailer"
            and data.password == b"s3cret pass"
        )
        return AuthResult(success=ok, handled=False)

    handler = SinkHandler()
    port = free_port()
    loop = asyncio.new_event_loop()
    controller = Controller(
        handler,
        loop=loop,
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=auth,
        auth_required=True,
        auth_require_tls=True,
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    try:
        yield handler, port, cert
    finally:
        controller.stop()
        loop.close()


def test_starttls_and_login(tls_sink: tuple[SinkHandler, int, Path], settings: Settings) -> None:
    sink, port, cert = tls_sink
    good = smtp_settings(
        settings,
        port,
        smtp_starttls=True,
        smtp_ca_file=str(cert),
        smtp_user="mailer",
        smtp_password="s3cret pass",
    )
    mailer = SMTPMailer(good)
    try:
        mailer.send(_out(), lambda: None)
    finally:
        mailer.close()
    assert len(sink.received) == 1
    bad = SMTPMailer(with_overrides(good, smtp_password="wrong"))
    with pytest.raises(TransientMailError, match="login"):
        bad.send(_out(), lambda: None)
    bad.close()
    # self-signed: refused by verification
    untrusted = SMTPMailer(with_overrides(good, smtp_ca_file=""))
    with pytest.raises(TransientMailError):
        untrusted.send(_out(), lambda: None)
    untrusted.close()


def test_console_and_file_mailers(tmp_path: Path, settings: Settings) -> None:
    buf = io.StringIO()
    calls: list[str] = []
    ConsoleMailer(buf).send(_out(), lambda: calls.append("c"))
    assert "Subject: hi" in buf.getvalue() and calls == ["c"]
    fm = open_mailer(with_overrides(settings, mailer="file", mail_dir=str(tmp_path / "out")))
    assert isinstance(fm, FileMailer)
    fm.send(_out(), lambda: calls.append("f"))
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["m1_x.eml"] and calls == ["c", "f"]
    with pytest.raises(RuntimeError):
        fm.send(
            Outgoing("<m2@x>", "a@x.org", "b@x.org", MESSAGE),
            lambda: (_ for _ in ()).throw(RuntimeError()),
        )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["m1_x.eml"]  # nothing half-written
