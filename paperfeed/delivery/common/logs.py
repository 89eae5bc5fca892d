"""Logging for every entry point: text or one JSON object per line, the request id, secrets masked.

`configure_logging(settings)` installs one handler on the root logger (replacing its own on a second
call). Every record gets `request_id` from a context variable the web middleware sets, and passes a
redaction filter that masks the configured secrets (secret_key, smtp_password, the database
password) and anything shaped like a credential (Bearer tokens, password=..., token=...).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from paperfeed.core.settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("paperfeed_request_id", default=None)
MASK = "[redacted]"
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # The key must be a word of its own: arXiv's "badResumptionToken: The value of ..." is no
    # credential.
    re.compile(
        r"(?i)((?<![A-Za-z])(?:password|passwd|secret|secret_key|token|csrf_token|api_key)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"
    ),
    re.compile(r"(?i)(://[^:/@\s]+:)[^@\s]+(@)"),  # user:password@ in URLs
]
# Attributes every LogRecord has: the rest were passed with `extra=` and go into the JSON object.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
}


# Paths that carry a secret as a path segment (an invite link's token, #21): logged masked.
_SECRET_PATHS = re.compile(r"^(/groups/join/)[^/]+")


def safe_path(path: str) -> str:
    """A request path fit for the access log: secret path segments masked."""
    return _SECRET_PATHS.sub(lambda m: m.group(1) + MASK, path)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """The text with known secrets and credential-shaped values masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + MASK + (m.group(2) if m.lastindex and m.lastindex > 1 else ""),
            text,
        )
    return text


class ContextFilter(logging.Filter):
    """Adds the current request id to every record and masks secrets in its message."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate and clean the record; never drops it."""
        record.request_id = REQUEST_ID.get()
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info), self.secrets
            )
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one text line (plus a traceback)."""
        rid = getattr(record, "request_id", None)
        record.rid = f" [{rid}]" if rid else ""
        return super().format(record)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """The secret values in settings that must never appear in a log."""
    found = [settings.secret_key, settings.smtp_password]
    try:
        password = urlsplit(settings.db_url).password
    except ValueError:  # a bad URL is reported elsewhere
        password = None
    if password:
        found += [password, unquote(password)]
    return tuple(s for s in found if s)


def make_handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """A handler formatting as the settings say, with the context/redaction filter on it."""
    handler = _StderrHandler(stream)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(ContextFilter(secrets_of(settings)))
    handler.set_name("paperfeed")
    return handler


def configure_logging(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Install paperfeed's handler on the root logger (once; a second call replaces it)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "paperfeed"]:
        root.removeHandler(old)
    handler = make_handler(settings, stream)
    root.addHandler(handler)
    level = getattr(logging, settings.log_level.upper(), logging.WARNING)
    root.setLevel(level)
    # uvicorn's own loggers go through ours (and its access log is replaced by paperfeed.access)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    return handler
