"""The one HTTP client every fetcher uses: per-host pacing, timeouts, retries with backoff.

arXiv asks for at most one request every three seconds on a single connection, so requests to a host
with a delay hold that host's lock for the whole request and the next one starts no sooner than
`delay` seconds after the previous one ended. The pacing state is shared by every client in the
process (one RateLimiter), so two jobs in one process cannot together go faster.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Self
from urllib.parse import urlsplit

import httpx

from paperfeed.core.errors import SourceError
from paperfeed.core.settings import Settings

Sleep = Callable[[float], None]
Clock = Callable[[], float]
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A server may ask for long pauses; past this we wait this long rather than hang a job for hours.
MAX_RETRY_AFTER = 120.0
_SNIPPET = 200


@dataclass
class _Gate:
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_start: float = 0.0


class RateLimiter:
    """Per-host minimum spacing between requests, one request at a time per paced host."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._gates: dict[str, _Gate] = {}
        self._guard = threading.Lock()

    def _gate(self, host: str) -> _Gate:
        with self._guard:
            return self._gates.setdefault(host, _Gate())

    @contextmanager
    def hold(self, host: str, delay: float, sleep: Sleep) -> Iterator[None]:
        """Wait for the host's turn, keep it during the block, and space the next one `delay`
        after."""
        if delay <= 0:
            yield
            return
        gate = self._gate(host)
        with gate.lock:
            wait = gate.next_start - self.clock()
            if wait > 0:
                sleep(wait)
            try:
                yield
            finally:
                gate.next_start = self.clock() + delay


SHARED_LIMITER = RateLimiter()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None when unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def user_agent(settings: Settings) -> str:
    """The User-Agent: the setting plus the contact address, as arXiv asks of harvesters."""
    if not settings.contact_email:
        return settings.user_agent
    return f"{settings.user_agent} mailto:{settings.contact_email}"


def host_of(url: str) -> str:
    """The lower-case host[:port] of a URL."""
    return urlsplit(url).netloc.lower()


@dataclass
class Budget:
    """How many requests (every attempt, failed ones and retries included) and how much time a job
    may spend; the client refuses the next request once either is used up."""

    max_requests: int
    max_seconds: float
    what: str  # named in the error, e.g. "sources_max_requests / sources_max_run_minutes"
    clock: Clock = time.monotonic
    started: float = field(default=-1.0)
    used: int = 0

    def spend(self, url: str) -> None:
        """Count one request; SourceError when the budget is spent."""
        now = self.clock()
        if self.started < 0:
            self.started = now
        if self.used >= self.max_requests:
            raise SourceError(
                f"stopped before GET {url}: {self.used} requests sent, the most one run may send "
                f"({self.what})"
            )
        if now - self.started > self.max_seconds:
            raise SourceError(
                f"stopped before GET {url}: the run took {now - self.started:.0f} s, longer than "
                f"allowed ({self.what})"
            )
        self.used += 1


MAX_REDIRECTS = 10


def is_private_host(host: str) -> bool:
    """Whether a host name or address is (or resolves to) a non-public address: loopback, private,
    link-local."""
    name = host.strip("[]")
    if not name:
        return False
    try:
        addresses = [ipaddress.ip_address(name)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return False  # unresolvable: the request itself will fail and say so
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return any(not a.is_global for a in addresses)


class HttpClient:
    """GET with pacing and retries over an httpx.Client; raises SourceError when a source fails.

    `requests` counts every attempt sent (failed ones and retries too); a `budget`, when set, bounds
    them in number and time.
    """

    def __init__(
        self,
        settings: Settings,
        client: httpx.Client | None = None,
        *,
        sleep: Sleep = time.sleep,
        limiter: RateLimiter | None = None,
        max_retry_after: float = MAX_RETRY_AFTER,
    ) -> None:
        self.settings = settings
        self._owns_client = client is None
        self.client = client or httpx.Client(
            timeout=settings.http_timeout,
            headers={"User-Agent": user_agent(settings)},
            follow_redirects=True,
        )
        self.sleep = sleep
        self.limiter = limiter or SHARED_LIMITER
        self.max_retry_after = max_retry_after
        self.delays = self._host_delays(settings)
        self.requests = 0
        self.budget: Budget | None = None

    @staticmethod
    def _host_delays(settings: Settings) -> dict[str, float]:
        delays = {host_of(settings.hf_api_url): settings.hf_delay}
        for url in (settings.arxiv_api_url, settings.arxiv_oai_url):
            delays[host_of(url)] = settings.arxiv_delay
        return delays

    def delay_for(self, url: str) -> float:
        """Minimum seconds between two requests to this URL's host."""
        host = host_of(url)
        if host in self.delays:
            return self.delays[host]
        name = host.split(":")[0]
        if name == "arxiv.org" or name.endswith(".arxiv.org"):
            return self.settings.arxiv_delay
        return 0.0

    def close(self) -> None:
        """Close the underlying httpx client if this object created it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        asked = (
            retry_after_seconds(response.headers.get("Retry-After"))
            if response is not None
            else None
        )
        if asked is not None:
            return min(asked, self.max_retry_after)
        return min(self.settings.http_backoff * 2.0**attempt, self.max_retry_after)

    def _follow(self, url: str, response: httpx.Response) -> httpx.Response:
        """Follow redirects one hop at a time, refusing a hop from a public host to a private
        one."""
        origin_private = is_private_host(urlsplit(url).hostname or "")
        for _ in range(MAX_REDIRECTS):
            nxt = response.next_request
            if not response.is_redirect or nxt is None:
                return response
            target = nxt.url
            if (not origin_private and not self.settings.http_allow_private_redirects
                    and is_private_host(target.host)):
                response.close()
                raise SourceError(
                    f"GET {url}: redirected to {target.scheme}://{target.host}, a private address; "
                    "refused (set http_allow_private_redirects to follow it)"
                )
            response.close()
            response = self.client.send(nxt)
        raise SourceError(f"GET {url}: more than {MAX_REDIRECTS} redirects")

    def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        accept: frozenset[int] = frozenset({200}),
    ) -> httpx.Response:
        """GET url, retrying 429/5xx, timeouts and connection errors; SourceError after the last
        try."""
        tries = max(0, self.settings.http_retries) + 1
        problem = ""
        for attempt in range(tries):
            response: httpx.Response | None = None
            if self.budget is not None:
                self.budget.spend(url)
            self.requests += 1
            try:
                with self.limiter.hold(host_of(url), self.delay_for(url), self.sleep):
                    response = self._follow(
                        url, self.client.get(url, params=params, follow_redirects=False)
                    )
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise SourceError(f"GET {url}: {exc}") from None
            except httpx.TimeoutException as exc:
                problem = (
                    f"timed out ({type(exc).__name__}, timeout {self.settings.http_timeout:g}s)"
                )
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
            except httpx.HTTPError as exc:
                raise SourceError(f"GET {url}: {type(exc).__name__}: {exc}") from None
            if response is not None:
                if response.status_code in accept:
                    return response
                problem = f"HTTP {response.status_code} {response.reason_phrase}"
                if response.status_code not in RETRY_STATUSES:
                    snippet = " ".join(response.text[:_SNIPPET].split())
                    raise SourceError(
                        f"GET {response.url}: {problem}" + (f": {snippet}" if snippet else "")
                    )
            if attempt + 1 < tries:
                self.sleep(self._backoff(attempt, response))
        raise SourceError(
            f"GET {url} failed after {tries} attempt{'s' if tries > 1 else ''}: {problem}"
        )


def as_http(client: HttpClient | httpx.Client | None, settings: Settings) -> HttpClient:
    """An HttpClient: the given one, one wrapping a given httpx.Client, or a new one (caller
    closes)."""
    if isinstance(client, HttpClient):
        return client
    return HttpClient(settings, client)
