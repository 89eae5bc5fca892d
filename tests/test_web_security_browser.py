"""Real headless Chromium: script links from paper data and paper markup in feeds never run (issue
#11).

The payload sets document.title; a control page first shows it *would* run where it is used raw.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import feedparser
import httpx
import pytest

from paperfeed.core.settings import Settings
from paperfeed.delivery.mail.compose import DigestContent, render as render_digest, view
from paperfeed.store import Store
from tests.test_web_browser import CHROMIUM, _launch, _serving
from tests.test_web_security import XSS_TEXT, _nasty_paper
from tests.web_fixtures import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"
    ),
]
PWNED = "pwned"


@pytest.fixture
def site(settings: Settings, seeded: Store) -> Iterator[tuple[str, int]]:
    """The site over the sample papers plus one paper with script links and markup in its text."""
    pid = _nasty_paper(seeded)
    with _serving(settings, seeded) as base:
        yield base, pid


def _page(browser: Any) -> Any:
    page = browser.new_context().new_page()
    # Links that leave the site land on a blank stand-in page (no network here).
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith("http://127.0.0.1")
            else route.fulfill(status=200, content_type="text/html", body="<title>outside</title>")
        ),
    )
    return page


def _click_every_link(page: Any, selector: str) -> list[str]:
    """Click each matching link in turn (coming back each time); the titles seen after each
    click."""
    start = page.url
    titles = []
    for i in range(page.locator(selector).count()):
        if start.startswith("http"):
            page.goto(start)
        page.locator(selector).nth(i).click()
        page.wait_for_timeout(150)
        titles.append(page.title())
    return titles


def test_script_links_do_not_run_in_chromium(
    site: tuple[str, int], settings: Settings, seeded: Store
) -> None:
    from playwright.sync_api import sync_playwright

    base, pid = site
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = _page(browser)
            # Control: the payload runs when a page uses it as a raw href (and has no CSP).
            page.set_content(
                "<title>control</title><a id=x "
                "href=\"javascript:void(document.title='pwned')\">x</a>"
            )
            page.click("#x")
            page.wait_for_timeout(100)
            assert page.title() == PWNED
            for path in (f"/papers/{pid}", "/"):
                page.goto(base + path)
                hrefs = page.eval_on_selector_all(".links a", "els => els.map(e => e.protocol)")
                assert hrefs and set(hrefs) <= {"http:", "https:"}, (path, hrefs)
                assert PWNED not in _click_every_link(page, ".links a")
            # The digest email: no CSP protects its reader, so its links must be clean themselves.
            user = seeded.users.create_user("reader", "reader@example.org", "x")
            paper = seeded.papers.get_paper(pid)
            assert paper is not None
            ctx = view(
                settings,
                "s" * 48,
                DigestContent(
                    user,
                    "d:2025-01-06",
                    [{"paper_id": pid, "section": "trending", "reason": "r"}],
                    {pid: paper},
                ),
            )
            _, _, mail_html = render_digest(ctx)
            page = _page(browser)
            page.set_content(mail_html)
            assert page.locator("a").count() >= 4
            titles = []
            for i in range(page.locator("a").count()):
                page.set_content(mail_html)
                page.locator("a").nth(i).click()
                page.wait_for_timeout(100)
                titles.append(page.title())
            assert PWNED not in titles
        finally:
            browser.close()


def _reader_page(feed: feedparser.FeedParserDict) -> str:
    """What a feed reader shows: each entry's title and summary inserted as its declared type
    says."""

    def put(detail: Any) -> str:
        return (
            str(detail.value)
            if detail.type in ("text/html", "application/xhtml+xml")
            else html.escape(detail.value)
        )

    items = "".join(
        f"<article><h2>{put(e.title_detail)}</h2><p>{put(e.summary_detail)}</p>"
        f"<p>{''.join(html.escape(a.name) for a in e.authors)}</p></article>"
        for e in feed.entries
    )
    return f"<title>reader</title>{items}"


def test_feed_markup_does_not_run_in_chromium(site: tuple[str, int]) -> None:
    from playwright.sync_api import sync_playwright

    base, _ = site
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = _page(browser)
            # Control: the abstract's markup runs when a reader inserts it as HTML.
            page.set_content(f"<title>control</title>{XSS_TEXT}")
            page.wait_for_timeout(200)
            assert page.title() == PWNED
            for path in ("/feeds/daily.xml", "/feeds/c/cs.LG.xml", "/feeds/search.xml?q=links"):
                body = httpx.get(base + path).content
                feed = feedparser.parse(body, sanitize_html=False)
                assert any(XSS_TEXT in e.summary for e in feed.entries) or "search" in path
                page.set_content(_reader_page(feed))
                page.wait_for_timeout(200)
                assert page.title() == "reader", path
                # Chromium opening the feed itself (its XML viewer) runs nothing either.
                page.goto(base + path)
                page.wait_for_timeout(200)
                assert page.title() != PWNED
        finally:
            browser.close()


def test_swagger_ui_runs_under_its_csp(site: tuple[str, int], seeded: Store) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, _ = site
    seeded.users.create_user(
        "root",
        "root@example.org",
        __import__("paperfeed.delivery.web.security", fromlist=["hash_password"]).hash_password(
            PASSWORD
        ),
    )
    seeded.users.set_admin("root")
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_context().new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(base + "/login?next=/docs")
            page.fill("#login", "root")
            page.fill("#password", PASSWORD)
            page.click("form.stack button:has-text('Log in')")
            expect(page.locator("#swagger-ui .title").first).to_contain_text("paperfeed API")
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            browser.close()
