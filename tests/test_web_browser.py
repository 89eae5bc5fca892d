"""Real headless Chromium (Playwright) against a real uvicorn server: the main user journeys.

Screenshots of the home, paper and search pages (desktop and phone) go to test-output/.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app.indexing import refresh_index_after_ingest
from paperfeed.delivery.app.submissions import process_submissions
from paperfeed.delivery.common.context import AppContext
from paperfeed.delivery.common.secret_key import resolve_secret_key
from paperfeed.delivery.jobs.digests import run_digests
from paperfeed.delivery.web.app import create_app
from paperfeed.store import Store
from tests._digest_fixtures import SinkHandler, smtp_settings
from tests._mail import body_of
from tests.conftest import ROOT
from tests.web_fixtures import PASSWORD, FakeArxiv, browser_signup

CHROMIUM = Path("/usr/bin/chromium")
OUT = ROOT / "test-output"
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


@contextlib.contextmanager
def _serving(settings: Settings, store: Store) -> Iterator[str]:
    """A uvicorn server in a thread over this store; yields its base URL."""
    import uvicorn

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    refresh_index_after_ingest(settings, store, embed_new=False)  # as `paperfeed ingest` does
    app = create_app(AppContext(with_overrides(settings, base_url=base), store))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield base
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def server(settings: Settings, seeded: Store, fake_arxiv: FakeArxiv) -> Iterator[str]:
    """The site over the sample papers, with arXiv pointed at the fake."""
    with _serving(
        with_overrides(settings, arxiv_api_url=fake_arxiv.url, arxiv_delay=0.0), seeded
    ) as base:
        yield base


def _launch(pw: Any) -> Any:
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


def test_user_journey_in_chromium(
    server: str, seeded: Store, settings: Settings, fake_arxiv: FakeArxiv
) -> None:
    from playwright.sync_api import expect, sync_playwright

    OUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_context(
                viewport={"width": 1280, "height": 900}, accept_downloads=True
            ).new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(server + "/")
            expect(page.locator("h1")).to_contain_text("Daily papers")
            expect(page.locator(".card").first).to_contain_text("Attention Is Still All You Need")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            page.screenshot(path=str(OUT / "home.png"), full_page=True)

            # Sign up, log out, log in.
            page.click("text=Sign up")
            expect(page.locator("h1")).to_have_text("Sign up")
            # the form, then the mailed link
            browser_signup(page, server, resolve_secret_key(settings), "ada")
            expect(page.locator(".flash").first).to_contain_text("Welcome, ada!")
            page.click("button:has-text('Log out')")
            page.click("text=Log in")
            page.fill("#login", "ada")
            page.fill("#password", PASSWORD)
            page.click("form.stack button:has-text('Log in')")
            expect(page.locator(".account")).to_contain_text("ada")

            # Search, open a paper.
            page.fill("#nav-q", "transformers")
            page.press("#nav-q", "Enter")
            expect(page.locator(".count-line")).to_contain_text("for “transformers”")
            page.screenshot(path=str(OUT / "search.png"), full_page=True)
            page.click(".card-title a:has-text('Vision Transformers at Scale')")
            expect(page.locator("h1.paper-title")).to_have_text("Vision Transformers at Scale")

            # Upvote in place (script), then the count survives a reload.
            button = page.locator(".paper-head .vote-btn")
            expect(button.locator(".count")).to_have_text("99")
            button.click()
            expect(button.locator(".count")).to_have_text("100")
            expect(button).to_have_attribute("aria-pressed", "true")
            page.reload()
            expect(page.locator(".paper-head .vote-btn .count")).to_have_text("100")

            # A collection with this paper, exported as BibTeX.
            page.fill("#new-coll", "Vision reading")
            page.check("input[name=is_public]")
            page.click("form.stack button:has-text('Create')")
            expect(page.locator("h1")).to_contain_text("Vision reading")
            expect(page.locator(".card")).to_contain_text("Vision Transformers at Scale")
            with page.expect_download() as info:
                page.click("#export-bib")
            bib = Path(info.value.path()).read_text(encoding="utf-8")
            assert "@misc{2501.00004," in bib and "Vision Transformers at Scale" in bib
            paper_url = page.locator(".card-title a").first.get_attribute("href")
            page.goto(server + str(paper_url))
            expect(page.locator(".side")).to_contain_text("Vision reading")
            page.screenshot(path=str(OUT / "paper.png"), full_page=True)

            # Submit by arXiv id: queued (a request never waits for arXiv, #21), then the worker
            # fetches it from the (fake, local) arXiv API.
            page.click("nav >> text=Submit")
            page.fill("#ref", "2503.11731")
            page.click("form.stack button:has-text('Submit')")
            expect(page.locator(".flash")).to_contain_text("2503.11731 is queued")
            expect(page.locator("main")).to_contain_text("2503.11731 · queued")
            assert (
                process_submissions(
                    with_overrides(settings, arxiv_api_url=fake_arxiv.url, arxiv_delay=0.0), seeded
                )["done"]
                == 1
            )
            page.reload()
            page.click("main li:has-text('2503.11731') >> text=open")
            expect(page.locator("h1.paper-title")).to_have_text("Submitted Paper on Tokenizers")
            page.click("nav >> text=Submit")
            page.fill("#ref", "not an id")
            page.click("form.stack button:has-text('Submit')")
            expect(page.locator(".flash.error")).to_contain_text("no arXiv id")
            # No script errors, CSP violations or missing assets (the 400 is the bad id above).
            assert [e for e in errors if "status of 400" not in e] == [], errors

            # Phone-sized screen.
            phone = browser.new_context(
                viewport={"width": 390, "height": 844},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
            ).new_page()
            phone.goto(server + "/")
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
            phone.screenshot(path=str(OUT / "home-phone.png"), full_page=False)
            phone.goto(server + str(paper_url))
            phone.screenshot(path=str(OUT / "paper-phone.png"), full_page=False)
        finally:
            browser.close()


def test_forms_work_without_javascript(server: str, seeded: Store, settings: Settings) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            browser_signup(page, server, resolve_secret_key(settings), "nojs")
            first = page.locator(".card").first
            expect(first.locator(".count")).to_have_text("40")
            first.locator(".vote-btn").click()
            expect(page.locator(".card").first.locator(".count")).to_have_text("41")
            expect(page.locator(".card").first.locator(".vote-btn")).to_have_class("vote-btn voted")
        finally:
            browser.close()


def test_subscribe_receive_a_digest_and_use_its_links(settings: Settings, seeded: Store,
                                                       smtp_sink: tuple[SinkHandler, int]) -> None:
    """Subscribe on the site, get the digest through a real SMTP server, click less-like-this and
    unsubscribe."""
    from playwright.sync_api import expect, sync_playwright

    sink, port = smtp_sink
    with _serving(smtp_settings(settings, port), seeded) as base, sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_context().new_page()
            page.goto(base + "/signup")
            page.fill("#username", "dina")
            page.fill("#email", "dina@example.org")
            page.click("button:has-text('Create account')")
            # The only mail before the account exists: the sign-up link (#21 F13); follow it.
            expect(page.locator("h1")).to_have_text("Check your inbox")
            deadline = time.monotonic() + 10
            while "dina@example.org" not in sink.by_recipient() and time.monotonic() < deadline:
                time.sleep(0.1)  # it leaves after the answer
            mail = sink.by_recipient()["dina@example.org"][0].message
            assert mail["Subject"] == "paperfeed: finish signing up"
            link = next(w for w in mail.get_content().split() if "/signup/finish?t=" in w)
            page.goto(base + "/signup/finish" + link.split("/signup/finish", 1)[1])
            page.fill("#password", PASSWORD)
            page.click("button:has-text('Create my account')")  # a GET changes nothing (#21)
            expect(page.locator(".flash").first).to_contain_text("dina@example.org is confirmed")
            sink.received.clear()
            page.click("nav >> text=Digest")
            expect(page.locator("h1")).to_have_text("Your digest")
            page.check("input[name=active]")
            page.fill("#send_hour", "0")
            page.fill("#timezone", "UTC")
            page.click("form.stacked button:has-text('Save')")
            page.fill("#s-query", "transformers")
            page.click("button:has-text('Save search')")
            expect(page.locator("#searches-h + ul")).to_contain_text("transformers")

            # The digest job, as cron would run it, sends through the SMTP server on 127.0.0.1.
            site = smtp_settings(settings, port, base_url=base)
            report = run_digests(site, seeded, now=datetime.now(UTC) + timedelta(minutes=1))
            assert report.sent == 1, report
            msg = sink.by_recipient()["dina@example.org"][0].message
            text = body_of(msg)
            assert "saved search “transformers”" in text and "Vision Transformers at Scale" in text
            html = body_of(msg, "html")
            links = [unescape(part.split('"')[0]) for part in html.split('href="')[1:]]
            less = next(u for u in links if "/feedback?" in u and u.endswith("s=-1"))

            page.goto(less)  # opening the link (as a mail scanner would) only asks
            expect(page.locator("h1")).to_have_text("Fewer papers like this?")
            user = seeded.users.get_user_by_name("dina")
            assert user is not None and seeded.subscriptions.feedback(user.id) == {}
            page.click("button:has-text('Yes, fewer like this')")
            expect(page.locator("h1")).to_have_text("Thanks: fewer papers like this")
            assert list(seeded.subscriptions.feedback(user.id).values()) == [-1]

            page.goto(msg["List-Unsubscribe"].strip("<>"))
            expect(page.locator("h1")).to_have_text("Unsubscribe from digests?")
            page.click("button:has-text('Unsubscribe')")
            expect(page.locator("h1")).to_have_text("You are unsubscribed")
            assert seeded.subscriptions.get_subscription(user.id).active is False  # type: ignore[union-attr]
            page.goto(base + "/subscriptions")
            expect(page.locator("input[name=active]")).not_to_be_checked()
        finally:
            browser.close()
