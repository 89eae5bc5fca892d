"""The one table of settings: name, default, help.

Read from PAPERFEED_* variables and a TOML file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from paperfeed.core.errors import ConfigError

# what a setting holds (TOML, environment and flags give these)
SettingValue = str | int | float | bool
_V = TypeVar("_V", str, int, float, bool)


@dataclass(frozen=True)
class Setting:
    """One documented setting."""

    name: str
    default: SettingValue
    help: str

    @property
    def env_var(self) -> str:
        """The environment variable that sets it."""
        return "PAPERFEED_" + self.name.upper()


def _s(default: _V, help: str) -> _V:
    # typed as the default itself, so each Settings field keeps its own type
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Resolved settings (build with `load_settings`); each field is one documented setting."""

    data_dir: str = _s(
        "~/.local/share/paperfeed", "Directory for the SQLite database, indexes and logs."
    )
    database_url: str = _s("", "SQLAlchemy URL; empty means sqlite:///<data_dir>/paperfeed.db.")
    config_file: str = _s(
        "", "TOML file with settings; empty means <data_dir>/paperfeed.toml if it exists."
    )
    env: str = _s(
        "development",
        "'development' or 'production'; production refuses to start without secret_key.",
    )
    secret_key: str = _s(
        "", "Key that signs sessions and email tokens; set it from the environment only."
    )
    base_url: str = _s(
        "",
        "Public URL of the site, used in links of pages, feeds and emails; empty means the "
        "address `paperfeed serve` listens on (http://HOST:PORT, recorded in "
        "<data_dir>/served-url so the worker's mails use it too). Production needs an explicit "
        "https:// URL.",
    )
    host: str = _s("127.0.0.1", "Address `paperfeed serve` listens on.")
    port: int = _s(8000, "Port `paperfeed serve` listens on.")
    ingest_batch_size: int = _s(2000, "Papers written per transaction during an ingest.")
    http_timeout: float = _s(30.0, "Seconds before an HTTP request to a source gives up.")
    http_retries: int = _s(
        4, "Retries of a failed HTTP request (503, 429, timeouts) before giving up."
    )
    http_allow_private_redirects: bool = _s(
        False,
        "Follow a redirect from a public address to a private, loopback or link-local one "
        "(refused by default: a URL given to `ingest` must not reach internal hosts through a "
        "redirect).",
    )
    http_backoff: float = _s(
        5.0,
        "Seconds of the first retry wait; doubles each retry unless Retry-After says otherwise.",
    )
    arxiv_delay: float = _s(
        3.0, "Minimum seconds between two requests to arXiv (arXiv asks for 3)."
    )
    arxiv_api_url: str = _s("https://export.arxiv.org/api/query", "arXiv search API endpoint.")
    arxiv_oai_url: str = _s("https://oaipmh.arxiv.org/oai", "arXiv OAI-PMH endpoint.")
    hf_api_url: str = _s(
        "https://huggingface.co/api/daily_papers", "Hugging Face daily papers API endpoint."
    )
    hf_delay: float = _s(1.0, "Minimum seconds between two requests to Hugging Face.")
    user_agent: str = _s(
        "paperfeed/0.1 (+https://github.com/paperfeed)", "User-Agent sent to sources."
    )
    contact_email: str = _s(
        "",
        "Contact address added to the User-Agent (arXiv asks harvesters for one), e.g. "
        "'lab@example.org'.",
    )
    sources: str = _s(
        "",
        "Followed sources declared here, ';'-separated: 'arxiv category=cs.CL,cs.LG; arxiv-oai "
        "set=cs; hf-daily' (name=... names one; arxiv-oai takes prefix=arXivRaw (default) or "
        "prefix=arXiv); synced into the database by `paperfeed sources` and the worker.",
    )
    sources_interval_minutes: float = _s(
        60.0, "`paperfeed worker`: minutes between two harvests of one followed source."
    )
    sources_initial_days: int = _s(
        2, "A newly followed source first brings the papers of this many most recent days."
    )
    sources_catchup_days: int = _s(
        30,
        "After an outage a source catches up at most this many days (older gaps are reported, not "
        "read).",
    )
    sources_arxiv_max_pages: int = _s(
        20,
        "arXiv API sources: pages read back per run at most while looking for papers already "
        "stored.",
    )
    topics_weeks: int = _s(
        12, "Emerging topics: weeks of the newest papers clustered (`paperfeed topics build`)."
    )
    topics_clusters: int = _s(
        0, "Emerging topics: number of clusters; 0 picks sqrt(papers / 20) within 2..60."
    )
    topics_recent_weeks: int = _s(
        2,
        "Emerging topics: the last weeks whose share of activity is compared with the weeks "
        "before (growth).",
    )
    topics_vote_weight: float = _s(
        1.0,
        "Emerging topics: a paper weighs 1 + this * ln(1 + local votes + external upvotes) in its "
        "topic's activity.",
    )
    topics_refresh_hours: float = _s(
        24.0,
        "`paperfeed worker` rebuilds topics.json when it is older than this many hours; 0 never.",
    )
    topics_rising_share: float = _s(
        0.2,
        "Digest section 'rising': a topic is in a followed category when at least this share of "
        "its papers list it.",
    )
    sources_arxiv_page_size: int = _s(100, "arXiv API sources: results per request.")
    sources_stale_hours: float = _s(
        36.0,
        "`paperfeed status --check` fails when a source has had no successful run for this many "
        "hours.",
    )
    sources_lease_seconds: float = _s(
        900.0,
        "A harvest lock not renewed for this long (a crashed worker on another machine) is taken "
        "over.",
    )
    sources_today: str = _s(
        "",
        "The day followed sources treat as today (YYYY-MM-DD); empty means the UTC date. For "
        "replays and tests.",
    )
    hf_refresh_days: int = _s(
        7,
        "Hugging Face sources re-read this many most recent days each run, so upvotes, comments "
        "and code links stay current.",
    )
    sources_oai_max_restarts: int = _s(
        2,
        "arXiv OAI-PMH sources: times one run restarts a harvest whose resumption token arXiv "
        "refused (badResumptionToken) before the run fails.",
    )
    sources_max_requests: int = _s(
        2000,
        "Followed sources and OAI-PMH URLs: requests one run may send at most, failed ones and "
        "retries included; then it stops with an error.",
    )
    sources_max_run_minutes: float = _s(
        180.0,
        "Followed sources: minutes one run may take at most; then it stops with an error (its "
        "cursor keeps what it committed).",
    )
    hf_max_requests: int = _s(
        60, "Hugging Face sources: requests per run at most (with hf_delay between two)."
    )
    trending_gravity: float = _s(
        1.8,
        "Trending: how fast papers sink with age (HN gravity; score = points / (hours + offset) "
        "** gravity).",
    )
    trending_offset_hours: float = _s(
        2.0, "Trending: hours added to a paper's age so brand-new papers do not dominate."
    )
    trending_external_weight: float = _s(
        1.0, "Trending: weight of one Hugging Face upvote relative to one community vote."
    )
    trending_window_days: int = _s(
        14, "Trending: only papers from this many most recent days compete."
    )
    web_page_size: int = _s(30, "Papers per page on list pages and API lists (default page size).")
    web_threads: int = _s(
        4,
        "Threads per server worker that run page and API handlers; more only queue for the GIL "
        "(on 2 cores 16 threads halved search throughput).",
    )
    web_cache_seconds: float = _s(
        30.0, "Seconds list pages, feeds and trending stay cached (writes invalidate sooner)."
    )
    rate_limit_login: str = _s(
        "10/minute",
        "Rate limit on login and sign-up attempts per client address ('limits' notation).",
    )
    rate_limit_write: str = _s(
        "60/minute", "Rate limit on write requests (votes, submissions, collections) per user."
    )
    web_max_body_bytes: int = _s(
        1_000_000,
        "Largest request body (bytes) the web server reads; larger ones get 413 before any "
        "authentication.",
    )
    trusted_proxies: str = _s(
        "",
        "Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto are believed "
        "(uvicorn's proxy-header handling); empty trusts none, so rate limits see the real peer.",
    )
    allowed_hosts: str = _s(
        "",
        "Comma-separated Host names the site answers to (Starlette TrustedHostMiddleware); empty "
        "means base_url's host in production and any host in development.",
    )
    rate_limit_comment: str = _s(
        "10/minute",
        "Rate limit on posting comments per user, on top of rate_limit_write ('limits' notation).",
    )
    rate_limit_storage: str = _s(
        "memory://",
        "Storage URI for rate-limit counters ('limits'); memory:// is per worker process.",
    )
    mailer: str = _s(
        "console",
        "How digests are delivered: 'smtp', 'console' (print to stdout) or 'file' (write .eml "
        "files to mail_dir).",
    )
    mail_from: str = _s(
        "paperfeed <paperfeed@localhost>",
        "From address of digest emails, e.g. 'paperfeed <digest@example.org>'.",
    )
    mail_dir: str = _s(
        "", "Directory the 'file' mailer writes .eml files to; empty means <data_dir>/outbox."
    )
    smtp_host: str = _s("localhost", "SMTP server that sends digests.")
    smtp_port: int = _s(587, "SMTP port (587 for STARTTLS, 465 for TLS, 25 for plain relay).")
    smtp_user: str = _s("", "SMTP login name; empty means no AUTH.")
    smtp_password: str = _s(
        "", "SMTP password; set it from the environment only (PAPERFEED_SMTP_PASSWORD)."
    )
    smtp_starttls: bool = _s(
        True, "Upgrade the SMTP connection with STARTTLS (ignored when smtp_ssl is on)."
    )
    smtp_ssl: bool = _s(
        False, "Connect to SMTP over TLS from the start (implicit TLS, usually port 465)."
    )
    smtp_timeout: float = _s(30.0, "Seconds before an SMTP connect or command gives up.")
    smtp_ca_file: str = _s(
        "",
        "PEM file of CA certificates trusted for SMTP TLS (a private relay); empty means the "
        "system's.",
    )
    digest_max_catchup_days: int = _s(
        14, "Digests: after a gap (server down), the next digest covers at most this many days."
    )
    digest_retry_seconds: float = _s(
        60.0, "Digests: first wait after a transient SMTP failure; doubles each attempt."
    )
    digest_max_attempts: int = _s(
        8, "Digests: transient failures before a digest is marked failed."
    )
    digest_lease_seconds: float = _s(
        900.0, "Digests: a claim older than this whose owner cannot be checked is taken over."
    )
    worker_sources: str = _s(
        "", "`paperfeed worker`: comma-separated URLs or paths ingested on schedule."
    )
    worker_ingest_minutes: float = _s(
        60.0, "`paperfeed worker`: minutes between two ingests of worker_sources."
    )
    worker_poll_seconds: float = _s(
        60.0, "`paperfeed worker`: seconds between two checks for due digests."
    )
    worker_embed_batch: int = _s(
        1000,
        "`paperfeed worker`: papers without a vector embedded per cycle (0: never), so vectors "
        "catch up in the background.",
    )
    embed_precision: str = _s(
        "int8",
        "Semantic search: model weights, 'int8' (dynamic quantisation: ~2.8x faster on CPU, same "
        "SciFact nDCG@10) or 'fp32'.",
    )
    embed_device: str = _s(
        "auto",
        "Semantic search: 'auto' (a GPU through onnxruntime's CUDA provider when present, else "
        "CPU), 'cpu' or 'cuda'.",
    )
    embed_max_length: int = _s(
        256,
        "Semantic search: tokens of title + abstract the model reads (8..512; 128 is ~2x faster, "
        "-0.02 nDCG@10).",
    )
    log_format: str = _s(
        "text",
        "Log lines: 'text' or 'json' (one JSON object per line with the request id; for log "
        "shippers).",
    )
    log_level: str = _s(
        "warning",
        "Lowest level logged: 'debug', 'info' (one access line per request), 'warning' or 'error'.",
    )
    metrics_address: str = _s(
        "",
        "Where Prometheus scrapes /metrics: empty means the site's /metrics for administrators "
        "(Bearer token); 'HOST:PORT' means a separate listener there (and none on the site).",
    )
    ready_stale_hours: float = _s(
        36.0,
        "/readyz reports not ready when a worker_sources source had no successful ingest for this "
        "many hours (0: never).",
    )
    index_memory_mb: int = _s(
        2048,
        "Index builds: memory ceiling in MiB; the lexical index is built in runs that fit it and "
        "merged (64 or more).",
    )

    # Not a setting: true when base_url was left empty and derived from the served address.
    base_url_derived: bool = field(default=False, compare=False)

    @property
    def data_path(self) -> Path:
        """The data directory, expanded."""
        return Path(self.data_dir).expanduser()

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / 'paperfeed.db'}"

    @property
    def is_production(self) -> bool:
        """Whether the server runs in production mode."""
        return self.env == "production"


def _setting(f: Field[object]) -> Setting:
    """The documented setting of one Settings field (each has a plain default)."""
    assert isinstance(f.default, (str, int, float, bool)), f.name
    return Setting(f.name, f.default, f.metadata["help"])


SETTINGS: tuple[Setting, ...] = tuple(_setting(f) for f in fields(Settings) if "help" in f.metadata)
_DEFAULTS: dict[str, SettingValue] = {s.name: s.default for s in SETTINGS}


def _coerce(setting: Setting, raw: Any, origin: str) -> Any:
    kind = type(setting.default)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    try:
        if kind is bool:
            text = str(raw).strip().lower()
            if text not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(text)
            return text in {"1", "true", "yes", "on"}
        return kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"setting {setting.name} from {origin}: {raw!r} is not a valid {kind.__name__}"
        ) from None


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Resolve settings: defaults < TOML file < PAPERFEED_* environment < explicit overrides."""
    env = os.environ if environ is None else environ
    by_name = {s.name: s for s in SETTINGS}
    values: dict[str, Any] = dict(_DEFAULTS)
    from_env = {s.name: env[s.env_var] for s in SETTINGS if s.env_var in env}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    for name in given:
        if name not in by_name:
            raise ConfigError(f"unknown setting {name!r}; valid: {', '.join(sorted(by_name))}")
    data_dir = given.get("data_dir", from_env.get("data_dir", values["data_dir"]))
    config_file = given.get("config_file", from_env.get("config_file", ""))
    path = (
        Path(config_file).expanduser()
        if config_file
        else Path(data_dir).expanduser() / "paperfeed.toml"
    )
    if path.is_file():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read settings file {path}: {exc}") from None
        for name, raw in table.items():
            if name not in by_name:
                raise ConfigError(
                    f"{path}: unknown setting {name!r}; valid: {', '.join(sorted(by_name))}"
                )
            values[name] = _coerce(by_name[name], raw, str(path))
    elif config_file:
        raise ConfigError(f"settings file not found: {path}")
    for name, raw in from_env.items():
        values[name] = _coerce(by_name[name], raw, by_name[name].env_var)
    for name, raw in given.items():
        values[name] = _coerce(by_name[name], raw, "the command line")
    settings = Settings(**{s.name: values[s.name] for s in SETTINGS})
    if not settings.base_url:
        settings = replace(settings, base_url=served_url(settings), base_url_derived=True)
    if settings.log_format not in {"text", "json"}:
        raise ConfigError(
            f"setting log_format: {settings.log_format!r} is not one of 'text', 'json'"
        )
    if settings.log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise ConfigError(
            f"setting log_level: {settings.log_level!r} is not one of 'debug', 'info', 'warning', "
            "'error'"
        )
    if settings.env not in {"development", "production"}:
        raise ConfigError(
            f"setting env: {settings.env!r} is not one of 'development', 'production'"
        )
    return settings


SERVED_URL_FILE = "served-url"


def served_url(settings: Settings) -> str:
    """Where the site is served: the address `serve` recorded in the data directory, else
    host:port."""
    try:
        recorded = (settings.data_path / SERVED_URL_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        recorded = ""
    if recorded.startswith(("http://", "https://")) and len(recorded) < 300:
        return recorded
    return listen_url(settings.host, settings.port)


def listen_url(host: str, port: int) -> str:
    """The URL a browser uses for a listening address (a wildcard address becomes 127.0.0.1)."""
    shown = "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """A copy of settings with some values changed (used by tests and jobs)."""
    return replace(settings, **changes)
