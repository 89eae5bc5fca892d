"""Real headless Chromium (Playwright): /topics shows each topic's chart as visible SVG, with
JavaScript off, under the site's Content-Security-Policy (no inline style is refused)."""

from __future__ import annotations

import pytest

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app.topics import build_topics
from paperfeed.store import Store
from tests._topics_fixtures import planted
from tests.test_web_browser import CHROMIUM, OUT, _launch, _serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium (apt-get install chromium, or `make chromium`)",
    ),
]


def test_topics_chart_is_visible_without_javascript(settings: Settings, store: Store) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings = with_overrides(settings, topics_clusters=4, topics_weeks=8)
    store.papers.upsert_papers(planted().papers)
    build_topics(settings, store)
    OUT.mkdir(exist_ok=True)
    with _serving(settings, store) as base, sync_playwright() as pw:
        browser = _launch(pw)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, java_script_enabled=False
            )
            page = context.new_page()
            errors: list[str] = []
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type in ("error", "warning") else None,
            )
            page.goto(base + "/")
            page.click("nav >> text=Topics")
            expect(page.locator("h1")).to_have_text("Emerging topics")
            charts = page.locator("svg.chart")
            expect(charts).to_have_count(4)
            first = charts.first
            expect(first).to_be_visible()
            assert first.get_attribute("role") == "img"
            assert "share of papers" in (first.get_attribute("aria-label") or "")
            box = first.bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
            # the line is drawn in its colour (a presentation attribute, not a refused inline style)
            assert page.locator("svg.chart path[stroke='#2b6cb0']").count() >= 4
            page.screenshot(path=str(OUT / "topics.png"), full_page=True)
            page.click("ol.topics li:first-child h2 a")
            expect(page.locator("svg.chart")).to_be_visible()
            expect(page.locator(".card").first).to_be_visible()
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            browser.close()
