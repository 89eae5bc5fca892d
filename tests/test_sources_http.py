"""The shared HTTP client against a real local server: pacing, retries, Retry-After, timeouts."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from paperfeed.core.errors import SourceError
from paperfeed.sources.http import MAX_RETRY_AFTER, HttpClient, RateLimiter, retry_after_seconds
from tests.sources_server import Reply, ScriptedServer, Sleeps, quick_client, serve, settings_for


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serve() as s:
        yield s


def test_a_plain_get_returns_the_response(server: ScriptedServer) -> None:
    server.add("/x", Reply(b"hello", content_type="text/plain"))
    with quick_client(settings_for(server)) as http:
        response = http.get(server.url("/x"), params={"a": "1"})
    assert response.text == "hello"
    assert server.paths("/x")[0].query == {"a": "1"}


def test_503_with_retry_after_is_retried_after_the_asked_wait(server: ScriptedServer) -> None:
    server.add("/x", Reply(b"busy", 503, {"Retry-After": "7"}), Reply(b"ok"))
    sleeps = Sleeps()
    with quick_client(settings_for(server), sleeps) as http:
        assert http.get(server.url("/x")).content == b"ok"
    assert sleeps.waits == [7.0]
    assert len(server.paths("/x")) == 2


def test_retry_after_as_an_http_date_and_a_cap() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert (
        retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    )
    assert (
        retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    )
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None) is None


def test_a_huge_retry_after_is_capped(server: ScriptedServer) -> None:
    server.add("/x", Reply(b"", 429, {"Retry-After": "86400"}), Reply(b"ok"))
    sleeps = Sleeps()
    with quick_client(settings_for(server), sleeps) as http:
        http.get(server.url("/x"))
    assert sleeps.waits == [MAX_RETRY_AFTER]


def test_backoff_doubles_then_gives_up_with_a_clear_source_error(server: ScriptedServer) -> None:
    server.add("/x", Reply(b"down", 502))
    sleeps = Sleeps()
    settings = settings_for(server, http_retries=3, http_backoff=1.5)
    with quick_client(settings, sleeps) as http, pytest.raises(SourceError) as info:
        http.get(server.url("/x"))
    assert sleeps.waits == [1.5, 3.0, 6.0]
    assert len(server.paths("/x")) == 4
    assert "failed after 4 attempts" in info.value.message and "HTTP 502" in info.value.message


def test_a_404_fails_at_once_naming_the_status(server: ScriptedServer) -> None:
    with quick_client(settings_for(server)) as http, pytest.raises(SourceError, match="HTTP 404"):
        http.get(server.url("/missing"))
    assert len(server.paths("/missing")) == 1


def test_a_timeout_is_retried_then_reported(server: ScriptedServer) -> None:
    server.add("/slow", Reply(b"late", delay=0.6))
    settings = settings_for(server, http_timeout=0.15, http_retries=1)
    with quick_client(settings) as http, pytest.raises(SourceError, match="timed out"):
        http.get(server.url("/slow"))
    assert len(server.paths("/slow")) == 2


def test_a_timeout_then_success(server: ScriptedServer) -> None:
    # Generous margins: the quick second answer must not time out on a busy machine.
    server.add("/slow", Reply(b"late", delay=1.5), Reply(b"ok"))
    with quick_client(settings_for(server, http_timeout=0.5)) as http:
        assert http.get(server.url("/slow")).content == b"ok"


def test_a_body_cut_short_is_a_connection_error_and_retried(server: ScriptedServer) -> None:
    server.add("/cut", Reply(b"<feed>" + b"x" * 500, cut_at=100), Reply(b"whole"))
    with quick_client(settings_for(server)) as http:
        assert http.get(server.url("/cut")).content == b"whole"


def test_connection_refused_is_a_source_error() -> None:
    with serve() as gone:
        url = gone.url("/x")
    settings = settings_for(gone, http_retries=1)
    with quick_client(settings) as http, pytest.raises(SourceError, match="connection failed"):
        http.get(url)


def test_pacing_spaces_two_real_requests(server: ScriptedServer) -> None:
    server.add("/x", Reply(b"ok"))
    settings = settings_for(server, arxiv_api_url=server.url("/x"), arxiv_delay=0.2)
    with HttpClient(settings, limiter=RateLimiter()) as http:
        assert http.delay_for(server.url("/x")) == 0.2
        http.get(server.url("/x"))
        http.get(server.url("/x"))
    first, second = server.paths("/x")
    assert second.at - first.at >= 0.2


def test_pacing_holds_across_threads_one_request_at_a_time(server: ScriptedServer) -> None:
    server.add("/x", Reply(b"ok"))
    settings = settings_for(server, arxiv_api_url=server.url("/x"), arxiv_delay=0.1)
    limiter = RateLimiter()
    with HttpClient(settings, limiter=limiter) as a, HttpClient(settings, limiter=limiter) as b:
        threads = [threading.Thread(target=c.get, args=(server.url("/x"),)) for c in (a, b, a)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    times = sorted(r.at for r in server.paths("/x"))
    assert len(times) == 3 and all(
        later - earlier >= 0.1 for earlier, later in itertools.pairwise(times)
    )


def test_injected_sleep_is_used_for_pacing_waits() -> None:
    clock = [100.0]
    limiter = RateLimiter(clock=lambda: clock[0])
    waits: list[float] = []
    with limiter.hold("h", 3.0, waits.append):
        pass
    clock[0] += 1.0
    with limiter.hold("h", 3.0, waits.append):
        pass
    assert waits == [2.0]


def test_unpaced_hosts_and_arxiv_hosts(server: ScriptedServer) -> None:
    settings = settings_for(server, arxiv_delay=3.0)
    with quick_client(settings) as http:
        assert http.delay_for("https://example.org/x") == 0.0
        assert http.delay_for("https://export.arxiv.org/api/query") == 3.0
        assert http.delay_for(server.url("/oai")) == 3.0


def test_a_given_httpx_client_is_not_closed(server: ScriptedServer) -> None:
    server.add("/x", Reply(b"ok"))
    with httpx.Client() as raw:
        HttpClient(settings_for(server), raw).close()
        assert not raw.is_closed
        assert HttpClient(settings_for(server), raw).get(server.url("/x")).content == b"ok"


def test_a_bad_scheme_is_a_source_error(server: ScriptedServer) -> None:
    with quick_client(settings_for(server)) as http, pytest.raises(SourceError):
        http.get("ftp://127.0.0.1/x")


def test_a_redirect_from_a_public_host_to_a_private_one_is_refused() -> None:
    import httpx

    from paperfeed.core.errors import SourceError
    from paperfeed.core.settings import load_settings
    from paperfeed.sources.http import HttpClient, is_private_host

    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        if request.url.host == "93.184.216.34":  # a public address (literal, so no DNS is asked)
            target = request.url.params.get("to", "http://127.0.0.1:9/admin")
            return httpx.Response(302, headers={"Location": target})
        return httpx.Response(200, text="ok")

    settings = load_settings({"http_retries": 0}, environ={})
    with HttpClient(settings, httpx.Client(transport=httpx.MockTransport(answer))) as http:
        with pytest.raises(SourceError, match="redirected to http://127.0.0.1, a private address"):
            http.get("http://93.184.216.34/feed")
        assert sent == ["http://93.184.216.34/feed"]  # the internal host was never asked
        # public to public: followed
        public = http.get("http://93.184.216.34/feed?to=http://8.8.8.8/x")
        assert public.text == "ok"
        local = http.get("http://127.0.0.1:9/x")  # a local origin is the operator's own choice
        assert local.status_code == 200
    allowed = load_settings({"http_retries": 0, "http_allow_private_redirects": True}, environ={})
    with HttpClient(allowed, httpx.Client(transport=httpx.MockTransport(answer))) as http:
        assert http.get("http://93.184.216.34/feed").text == "ok"
    assert is_private_host("localhost") and is_private_host("10.1.2.3") and is_private_host("[::1]")
    assert not is_private_host("8.8.8.8")
