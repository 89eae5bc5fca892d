"""The site's secret key (signs sessions and email links): from the environment, or kept in
data_dir."""

from __future__ import annotations

import os
import secrets
import stat
import tomllib
from pathlib import Path

from zxcvbn import zxcvbn

from paperfeed.core.errors import ConfigError
from paperfeed.core.settings import Settings

MIN_SECRET_LENGTH = 32


MIN_DISTINCT_SECRET_CHARS = 12
MIN_SECRET_GUESSES_LOG10 = 30.0  # about 100 bits
# random keys score ~1.0 per character; "your-secret-key-..." 0.76
MIN_SECRET_GUESSES_PER_CHAR = 0.8
_SECRET_HINT = "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"


def secret_problem(secret: str) -> str | None:
    """Why a production secret key is unfit (None when it is fine)."""
    if secret != secret.strip() or any(c.isspace() for c in secret):
        return "PAPERFEED_SECRET_KEY must not contain spaces or other whitespace"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"PAPERFEED_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters in production"
    if len(set(secret)) < MIN_DISTINCT_SECRET_CHARS:
        return (
            f"PAPERFEED_SECRET_KEY looks like a pattern, not random ({len(set(secret))} distinct "
            "characters; "
            f"at least {MIN_DISTINCT_SECRET_CHARS} needed)"
        )
    # F12: zxcvbn finds sequences, keyboard walks and dictionary words; a random key is estimated
    # at about one decimal digit of guesses per character, a phrase or a pattern far below that.
    # zxcvbn's matching grows fast with length; 100 random characters are plenty
    sample = secret[:100]
    log10 = float(zxcvbn(sample)["guesses_log10"])
    if log10 < MIN_SECRET_GUESSES_LOG10 or log10 < MIN_SECRET_GUESSES_PER_CHAR * len(sample):
        return (f"PAPERFEED_SECRET_KEY is guessable (zxcvbn: about 10^{log10:.0f} guesses for "
                f"{len(sample)} characters: words, sequences or a pattern), use a random key")
    return None


def _file_secret(settings: Settings) -> Path | None:
    """The settings file the secret key was read from (None: it came from the environment or a
    flag)."""
    path = (Path(settings.config_file).expanduser() if settings.config_file
            else settings.data_path / "paperfeed.toml")
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return path if table.get("secret_key") == settings.secret_key else None


def check_production(settings: Settings) -> None:
    """Refuse to serve production with a base_url that is not https:// (the secret is checked on
    resolve)."""
    if not settings.is_production:
        return
    if not settings.base_url.startswith("https://"):
        raise ConfigError(
            f"production needs an https:// base_url (got {settings.base_url!r}): session cookies "
            "are only "
            "marked Secure and HSTS only sent over https; terminate TLS at a proxy and set "
            "PAPERFEED_BASE_URL "
            "to the public https:// address"
        )


def resolve_secret_key(settings: Settings) -> str:
    """The session-signing key: required from the environment in production, kept in data_dir
    otherwise."""
    if settings.secret_key:
        if settings.is_production:
            problem = secret_problem(settings.secret_key)
            if problem:
                raise ConfigError(f"{problem} ({_SECRET_HINT})")
            source = _file_secret(settings)
            mode = stat.S_IMODE(source.stat().st_mode) if source else 0
            if source is not None and mode & 0o077:
                raise ConfigError(
                    f"the settings file {source} holds secret_key but others may read it "
                    f"(mode {mode:04o}): `chmod 600 {source}`, or set PAPERFEED_SECRET_KEY in the "
                    "environment instead"
                )
        return settings.secret_key
    if settings.is_production:
        raise ConfigError(
            "production mode needs a secret key: set PAPERFEED_SECRET_KEY in the environment "
            f"(at least {MIN_SECRET_LENGTH} random characters, {_SECRET_HINT})"
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
