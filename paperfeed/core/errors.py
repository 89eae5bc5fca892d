"""Error classes; each carries the HTTP status a web handler should answer with."""

from __future__ import annotations

from dataclasses import dataclass


class PaperfeedError(Exception):
    """Base class of every error paperfeed raises on purpose."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(PaperfeedError):
    """The input was wrong: a bad path, format, id or value."""

    status = 400


class Unauthorized(PaperfeedError):
    """The caller is not logged in or the credentials are wrong."""

    status = 401


class Forbidden(PaperfeedError):
    """The caller may not do this."""

    status = 403


class NotFound(PaperfeedError):
    """The thing asked for does not exist."""

    status = 404


class Conflict(PaperfeedError):
    """The request clashes with what is stored (a duplicate, say)."""

    status = 409


class PayloadTooLarge(PaperfeedError):
    """The request body is larger than the server accepts."""

    status = 413


class TooManyRequests(PaperfeedError):
    """The caller went over a rate limit; `retry_after` is the seconds to wait (the Retry-After
    header)."""

    status = 429

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ConfigError(PaperfeedError):
    """A setting is missing or has a value that cannot be used."""

    status = 500


class SourceError(PaperfeedError):
    """A remote source failed for good (after retries) or answered garbage."""

    status = 502


@dataclass(frozen=True)
class RecordError:
    """One rejected input record: where it was and why it was rejected."""

    location: str  # "file:line" or "url#record"
    reason: str

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"
