"""The site's secret key (signs sessions and email links): from the environment, or kept in data_dir."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from paperfeed.core.errors import ConfigError
from paperfeed.core.settings import Settings

MIN_SECRET_LENGTH = 32


def resolve_secret_key(settings: Settings) -> str:
    """The session-signing key: required from the environment in production, kept in data_dir otherwise."""
    if settings.secret_key:
        if settings.is_production and len(settings.secret_key) < MIN_SECRET_LENGTH:
            raise ConfigError(f"PAPERFEED_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production")
        return settings.secret_key
    if settings.is_production:
        raise ConfigError(
            "production mode needs a secret key: set PAPERFEED_SECRET_KEY in the environment "
            f"(at least {MIN_SECRET_LENGTH} random characters, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    # Development: one key per data directory, so several workers and restarts share sessions.
    path = settings.data_path / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    except FileExistsError:
        return Path(path).read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        key = secrets.token_urlsafe(48)
        fh.write(key)
    return key
