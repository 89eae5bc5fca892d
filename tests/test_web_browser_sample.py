"""The first run a new user sees: `make run`'s own commands over the bundled sample, in Chromium.

The instance is started the way `make run` starts it (paperfeed ingest of the bundled sample, which
indexes it for lexical search, then paperfeed serve; vectors are left out) in a fresh data
directory; the browser then checks that it is a real multi-day feed (authors, upvotes, code links,
real days, prev/next, week and month) and that Trending is not the Daily list again. An empty
instance shows how to add sources.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
SAMPLE = ROOT / "paperfeed" / "data" / "sample-feed.jsonl.gz"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium (apt-get install chromium, or `make chromium`)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _serve(env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperfeed", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, f"serve exited: {proc.stderr.read() if proc.stderr else ''}"
            try:
                with urllib.request.urlopen(base + "/", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not answer"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)
        if proc.stderr:
            proc.stderr.close()


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env["PAPERFEED_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over the bundled sample, set up with `make run`'s commands."""
    env = _env(tmp_path_factory.mktemp("sample") / "data")
    done = _cli(env, "ingest", str(SAMPLE))  # as make run: the ingest also builds the lexical index
    assert done.returncode == 0, done.stderr
    yield from _serve(env)


def _launch(pw: Any) -> Any:
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def _titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".card-title a").all_inner_texts()]


def _counts(page: Any) -> list[int]:
    return [int(c) for c in page.locator(".card .vote-btn .count").all_inner_texts()]


def test_first_run_is_a_real_multi_day_feed_and_trending_differs(sample_site: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(sample_site + "/")
            # What paperfeed is, and what a visitor does first.
            expect(page.locator(".tagline")).to_contain_text("searchable by words and by meaning")
            expect(page.locator("#nav-q")).to_be_visible()  # the one search box
            expect(page.locator(".tagline a", has_text="by email")).to_have_attribute(
                "href", "/subscriptions"
            )
            # The latest day with papers, said so (the clock is far past the sample's last day).
            expect(page.locator("h1#daily")).to_contain_text("27 February 2026")
            expect(page.locator(".notice")).to_contain_text("latest day with papers")
            cards = page.locator(".card")
            assert cards.count() >= 10
            daily = _titles(page)
            counts = _counts(page)
            # real upvotes, most first
            assert counts == sorted(counts, reverse=True) and counts[0] > 10
            assert page.locator(".card .authors").count() == cards.count()  # every card has authors
            assert page.locator(".card .code-link").count() >= 3  # code links
            assert page.locator(".card .day").all_inner_texts()[0] == "2026-02-27"
            code = page.locator(".card .code-link").first.get_attribute("href") or ""
            assert re.match(r"https://(github\.com|gitlab\.com|huggingface\.co)/", code), code

            # Previous day is a real, earlier day with other papers.
            page.click("a[rel=prev]:has-text('Previous day')")
            expect(page.locator("h1#daily")).not_to_contain_text("27 February 2026")
            prev_titles = _titles(page)
            assert prev_titles and set(prev_titles).isdisjoint(daily)
            page.click("a[rel=next]:has-text('Next day')")
            expect(page.locator("h1#daily")).to_contain_text("27 February 2026")

            # Week and month span real days and hold more papers.
            page.click("nav.tabs a:has-text('Week')")
            week_line = page.locator(".count-line").inner_text()
            page.click("nav.tabs a:has-text('Month')")
            month_line = page.locator(".count-line").inner_text()
            n_week = int(week_line.split()[0])
            n_month = int(month_line.split()[0])
            assert len(daily) < n_week < n_month, (week_line, month_line)
            assert "2026-01-29 to 2026-02-27" in month_line

            # Trending: ranked with decay as of the newest data, and says so; not the Daily list.
            page.goto(sample_site + "/trending")
            expect(page.locator(".notice")).to_contain_text("newest papers: 27 Feb 2026")
            trending = _titles(page)
            assert len(trending) >= 10
            assert trending[: len(daily)] != daily
            days = set(page.locator(".card .day").all_inner_texts()[:30])
            assert len(days) > 1  # several days compete
            page.screenshot(
                path=str(ROOT / "test-output" / "first-run-trending.png"), full_page=True
            )
        finally:
            browser.close()


def test_undated_listing_paper_is_searchable_and_marked(sample_site: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        undated = next(
            r for r in map(json.loads, f) if "featured_on" not in r and "published" not in r
        )
    words = " ".join(undated["title"].split()[:6])
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page()
            page.goto(sample_site + "/search?mode=lexical&q=" + urllib.parse.quote(words))
            page.click(f".card-title a:has-text({json.dumps(undated['title'][:40])})")
            expect(page.locator("h1.paper-title")).to_have_text(undated["title"])
            expect(page.locator("dd > .undated")).to_have_text("undated")
        finally:
            browser.close()


def test_empty_instance_shows_how_to_add_sources(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    env = _env(tmp_path / "data")
    assert _cli(env, "db", "migrate").returncode == 0
    for base in _serve(env):
        with sync_playwright() as pw:
            browser = _launch(pw)
            try:
                page = browser.new_page()
                page.goto(base + "/")
                expect(page.locator(".empty-instance")).to_contain_text("paperfeed ingest")
                expect(page.locator(".empty-instance")).to_contain_text("paperfeed index build")
                page.goto(base + "/trending")
                expect(page.locator(".empty-instance")).to_contain_text("paperfeed ingest")
            finally:
                browser.close()
