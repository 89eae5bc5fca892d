"""Mailers: SMTP (plain, STARTTLS or implicit TLS, with login and timeouts), console and file.

Every mailer takes a `before_end` callback and calls it at the last moment before the message
becomes irrevocable: for SMTP, after the whole message body was written and just before the final
"." of DATA; for the file mailer, just before the rename that publishes the file. The send job
records the 'data_end' state there (docs/digests.md explains why).

Failures come back as exceptions that say what the job should do: `TransientMailError` (not
delivered; retry later), `PermanentMailError` (5xx: not delivered; do not retry), or
`AmbiguousMailError` (the final dot went out but no reply came: it may have been delivered).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from paperfeed.core.errors import ConfigError
from paperfeed.core.settings import Settings
from paperfeed.core.util import atomic_file
from paperfeed.delivery.mail.compose import Outgoing

Hook = Callable[[], None]
_LEADING_DOT = re.compile(rb"(?m)^\.")
_BARE_LF = re.compile(rb"(?<!\r)\n")


class MailError(Exception):
    """A message was not (certainly) delivered."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientMailError(MailError):
    """Not delivered this time (4xx, connection trouble): try again later."""


class PermanentMailError(MailError):
    """Refused for good (5xx): do not retry this message."""


class AmbiguousMailError(MailError):
    """The end of the message was sent but no answer came: it may or may not have been delivered."""


class Mailer(Protocol):
    """Sends digest messages."""

    def send(self, message: Outgoing, before_end: Hook) -> None:
        """Deliver one message; call before_end right before it becomes irrevocable."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class SMTPMailer:
    """One SMTP connection reused for many messages, reopened after failures."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _tls(self) -> ssl.SSLContext:
        ca = self.settings.smtp_ca_file
        return ssl.create_default_context(cafile=str(Path(ca).expanduser()) if ca else None)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp: smtplib.SMTP
            if s.smtp_ssl:
                smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout,
                                        context=self._tls())
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            try:
                if smtp.sock is not None:
                    # the final dot is a tiny write after the body: without NODELAY, Nagle holds
                    # it for the server's delayed ACK (~40 ms a message on loopback)
                    smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                smtp.ehlo()
                if s.smtp_starttls and not s.smtp_ssl:
                    if not smtp.has_extn("starttls"):
                        raise TransientMailError(
                            f"{s.smtp_host}:{s.smtp_port} does not offer STARTTLS "
                            "(set smtp_starttls off for a plain local relay)"
                        )
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password)
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise TransientMailError(
                f"SMTP login as {s.smtp_user!r} failed: {exc.smtp_code} {_text(exc.smtp_error)}",
                exc.smtp_code,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            if isinstance(exc, MailError):
                raise
            raise TransientMailError(
                f"cannot connect to SMTP {s.smtp_host}:{s.smtp_port}: {exc}"
            ) from None
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def send(self, message: Outgoing, before_end: Hook) -> None:
        """Send one message over the (reused) connection, with the DATA phase split around
        before_end."""
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        ended = False
        try:
            options = []
            if message.smtputf8:
                if not smtp.has_extn("smtputf8"):
                    raise PermanentMailError(f"{message.recipient}: the address needs SMTPUTF8, "
                                             "which the SMTP server does not offer")
                options.append("SMTPUTF8")
            if smtp.has_extn("size"):
                options.append(f"SIZE={len(message.data)}")
            code, resp = smtp.mail(message.sender, options)
            if code != 250:
                _refused(smtp, "MAIL FROM", code, resp)
            code, resp = smtp.rcpt(message.recipient)
            if code not in (250, 251):
                _refused(smtp, f"RCPT TO {message.recipient}", code, resp)
            code, resp = smtp.docmd("DATA")
            if code != 354:
                _refused(smtp, "DATA", code, resp)
            body = _BARE_LF.sub(b"\r\n", message.data)
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
            smtp.send(_LEADING_DOT.sub(b"..", body))
            # Everything but the final dot is out. Record 'data_end', then end DATA at once:
            # the server takes responsibility for the message only when it reads the dot.
            before_end()
            ended = True
            smtp.send(b".\r\n")
            code, resp = smtp.getreply()
        except MailError:
            if not ended:
                self._reset()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            if ended:
                raise AmbiguousMailError(f"no answer after the end of DATA: {exc}") from None
            raise TransientMailError(f"SMTP connection failed: {exc}") from None
        except BaseException:
            self._drop()  # the hook failed (lost claim): abandon the transaction without the dot
            raise
        if code == 250:
            return
        if 400 <= code < 500:
            raise TransientMailError(f"message refused for now: {code} {_text(resp)}", code)
        raise PermanentMailError(f"message refused: {code} {_text(resp)}", code)

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def close(self) -> None:
        """Say QUIT and close."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()


def _text(resp: bytes | str) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def _refused(smtp: smtplib.SMTP, what: str, code: int, resp: bytes) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.rset()
    if 400 <= code < 500 or code == -1:
        raise TransientMailError(f"{what}: {code} {_text(resp)}", code)
    raise PermanentMailError(f"{what}: {code} {_text(resp)}", code)


class ConsoleMailer:
    """Prints messages to stdout (development)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def send(self, message: Outgoing, before_end: Hook) -> None:
        """Print the message."""
        before_end()
        self.out.write(f"----- digest to {message.recipient} {message.message_id} -----\n")
        self.out.write(message.data.decode("utf-8", "replace").replace("\r\n", "\n"))
        self.out.write("\n")
        self.out.flush()

    def close(self) -> None:
        """Nothing to release."""


class FileMailer:
    """Writes each message as an .eml file (development, tests, or a pickup directory)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def send(self, message: Outgoing, before_end: Hook) -> None:
        """Write the message, then publish it with an atomic rename."""
        name = re.sub(r"[^A-Za-z0-9._-]", "_", message.message_id.strip("<>")) + ".eml"
        # 0600 from the first byte: messages carry reset, verification and invite links (#21)
        with atomic_file(self.directory / name, before_replace=before_end, file_mode=0o600) as tmp:
            tmp.write_bytes(message.data)

    def close(self) -> None:
        """Nothing to release."""


def open_mailer(settings: Settings) -> Mailer:
    """The mailer the `mailer` setting names."""
    if settings.mailer == "smtp":
        return SMTPMailer(settings)
    if settings.mailer == "console":
        return ConsoleMailer()
    if settings.mailer == "file":
        return FileMailer(
            Path(settings.mail_dir).expanduser()
            if settings.mail_dir
            else settings.data_path / "outbox"
        )
    raise ConfigError(
        f"setting mailer: {settings.mailer!r} is not one of 'smtp', 'console', 'file'"
    )


__all__ = [
    "AmbiguousMailError",
    "ConsoleMailer",
    "FileMailer",
    "MailError",
    "Mailer",
    "PermanentMailError",
    "SMTPMailer",
    "TransientMailError",
    "open_mailer",
]
