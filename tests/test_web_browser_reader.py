"""What a daily reader sees (issue 19), in Chromium, on the bundled sample served on a port that is
not 8000.

The instance is set up as `make run` sets it up (ingest of the bundled sample, topics built from it)
and served with `paperfeed serve --port N`; mail goes to the file mailer so the verification mail
can be read as a reader's mail program would. Each check is a thing a reader coming from Hugging
Face Daily Papers meets in the first minutes: arXiv-id addresses, links on the served port, one
person per author page, math and accents as they are meant, one search box, a date picker, a dark
scheme, the first paper above the fold on a phone, marked search words, distinct topic names, an
/about without internals, readable API operation names, and no axe-core violation.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._mail import body_of
from tests.conftest import ROOT
from tests.test_web_browser_sample import CHROMIUM, SAMPLE, _cli, _env, _launch, _serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium (apt-get install chromium, or `make chromium`)",
    ),
]
AXE_TAGS = ["wcag2a", "wcag2aa", "best-practice"]
PASSWORD = "correct horse battery staple 1871"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The bundled sample as `make run` serves it, with file mail, on a free port (never 8000)."""
    data = tmp_path_factory.mktemp("reader") / "data"
    env = _env(data)
    env["PAPERFEED_MAILER"] = "file"
    done = _cli(env, "ingest", str(SAMPLE))
    assert done.returncode == 0, done.stderr
    built = _cli(env, "topics", "build")
    assert built.returncode == 0, built.stderr
    for base in _serve(env):
        assert not base.endswith(":8000")
        yield base, data


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _axe(page: Any) -> list[dict[str, Any]]:
    import axe_playwright_python

    script = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(
        encoding="utf-8"
    )
    page.evaluate(script)
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return list(result["violations"])


def test_arxiv_id_addresses_serve_the_paper(site: tuple[str, Path]) -> None:
    base, _ = site
    status, html = _get(base + "/papers/2602.23152")
    assert status == 200 and "The Trinity of Consistency" in html
    assert _get(base + "/papers/2602.23152v1")[0] == 200  # with a version
    status, body = _get(base + "/api/v1/papers/2602.23152")
    assert status == 200 and json.loads(body)["arxiv_id"] == "2602.23152"
    status, html = _get(base + "/papers/not-a-paper")
    assert status == 404 and "Input should be" not in html and "/papers/2602.23152" in html
    status, html = _get(base + "/papers/hep-th/9901001")  # old-style id, not in the sample
    assert status == 404 and "hep-th/9901001" in html


def test_links_in_feeds_and_mail_use_the_served_port(site: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, data = site
    _, feed = _get(base + "/feeds/daily.xml")
    links = re.findall(r'<link href="([^"]+)"', feed)
    assert links and all(link.startswith(base + "/") for link in links), links[:3]
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page()
            page.goto(base + "/signup")
            page.fill("input[name=username]", "reader19")
            page.fill("input[name=email]", "reader19@example.org")
            page.locator("main form[action=\"/signup\"] button[type=submit]").click()
            expect(page.locator("main")).not_to_contain_text("Internal error")
        finally:
            browser.close()
    outbox = data / "outbox"
    deadline = time.monotonic() + 20
    while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
        time.sleep(0.2)  # the mail may leave after the answer
    raw = next(outbox.glob("*.eml")).read_bytes()
    assert b"=3D" not in raw and b"=\r\n" not in raw  # readable as text, the link whole
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = body_of(msg)
    link = next(w for w in text.split() if "/signup/finish?t=" in w)  # the sign-up link (#21 F13)
    assert link.startswith(base + "/signup/finish?t="), link


def test_author_pages_keep_different_people_apart(site: tuple[str, Path]) -> None:
    base, _ = site
    status, html = _get(base + "/authors/Jingxuan%20Wei")
    assert status == 200
    head, _, body = html.partition('id="ap-h"')
    # another first name is another person: not among the papers
    assert body and "Jerry Wei" not in body
    # pointed to instead
    assert "Different people with a similar name" in head and "Jerry Wei" in head


def test_math_and_accents_read_as_meant(site: tuple[str, Path]) -> None:
    base, _ = site
    _, html = _get(base + "/papers/2402.14253")  # "MVD$^2$: ..."
    title = re.search(r'<h1 class="paper-title">(.*?)</h1>', html, re.DOTALL)
    assert title and "<math" in title.group(1) and "$^2$" not in title.group(1)
    _, html = _get(base + "/papers/2401.09084")  # abstract: "Fr\'echet Video Distance"
    assert "Fréchet" in html and "Fr\\'echet" not in html


def test_daily_page_layout_desktop_phone_and_dark(site: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, _ = site
    shots = ROOT / "test-output"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/")
            assert page.locator("input[type=search]").count() == 1  # one search box
            first = page.locator(".card").first
            count = first.locator(".vote-btn .count").inner_text()
            # the upvote count is shown once
            assert count not in first.locator(".meta").inner_text()
            # the date picker, without JavaScript's help: a GET form
            day = page.locator("input[type=date][name=day]")
            expect(day).to_be_visible()
            day.fill("2026-02-26")
            page.locator("form.day-pick button").click()
            expect(page.locator("h1#daily")).to_contain_text("26 February 2026")
            # anchors land below the sticky header
            margin = page.evaluate(
                "getComputedStyle(document.querySelector('#main')).scrollMarginTop"
            )
            assert float(margin.removesuffix("px")) >= 92

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(base + "/")
            box = phone.locator(".card-title").first.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 844  # first paper above the fold
            phone.screenshot(path=str(shots / "reader-home-phone.png"))

            dark = browser.new_context(
                color_scheme="dark", viewport={"width": 1280, "height": 900}
            ).new_page()
            dark.goto(base + "/")
            bg = dark.evaluate("getComputedStyle(document.body).backgroundColor")
            rgb = [int(x) for x in re.findall(r"\d+", bg)[:3]]
            assert sum(rgb) < 150, bg  # a dark background
            dark.screenshot(path=str(shots / "reader-home-dark.png"))
        finally:
            browser.close()


def test_search_marks_matched_words(site: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    base, _ = site
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page()
            page.goto(base + "/search?mode=lexical&q=diffusion+video+generation")
            line = page.locator("#result-count").inner_text()
            assert re.match(
                r"\d+ papers? with all the words .*, shown first · \d+ more with some of them", line
            ), line
            assert page.locator(".card-title mark").count() > 0
            assert page.locator(".card .why").first.inner_text().startswith("matched:")
            assert page.locator("input[type=search]").count() == 1  # the search page's own box only
        finally:
            browser.close()


def test_topic_names_are_distinct(site: tuple[str, Path]) -> None:
    base, _ = site
    status, html = _get(base + "/topics")
    assert status == 200
    names = re.findall(r'<h2[^>]*>\s*<a href="/topics/\d+">([^<]+)</a>', html)
    assert len(names) >= 3, html[:2000]
    words: dict[str, int] = {}
    for name in names:
        for w in {w.strip(",").lower() for w in name.split()}:
            words[w] = words.get(w, 0) + 1
    assert max(words.values()) <= 2, words


def test_about_is_for_readers_and_api_names_are_readable(site: tuple[str, Path]) -> None:
    base, data = site
    _, html = _get(base + "/about")
    assert str(data) not in html and "index_dir" not in html
    _, status_html = _get(base + "/status")
    assert "no sources followed" in status_html and "all sources current" not in status_html
    _, spec = _get(base + "/openapi.json")
    ops = [op for path in json.loads(spec)["paths"].values() for op in path.values()]
    assert ops and all(op.get("summary") and not op["summary"].startswith("Api ") for op in ops)
    assert all(op.get("tags") for op in ops)


def test_no_axe_violations_on_the_reader_pages(site: tuple[str, Path]) -> None:
    from playwright.sync_api import sync_playwright

    base, _ = site
    pages = ["/", "/trending", "/papers/2602.23152", "/search?q=diffusion+model", "/topics",
             "/authors/Jingxuan%20Wei", "/categories", "/about", "/signup", "/?period=week"]
    found: dict[str, list[str]] = {}
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            for scheme in ("light", "dark"):
                page = browser.new_context(bypass_csp=True, color_scheme=scheme).new_page()
                for path in pages:
                    page.goto(base + path)
                    for v in _axe(page):
                        found.setdefault(f"{scheme} {path}", []).append(
                            f"{v['id']}: {v['nodes'][0]['html'][:120]}"
                        )
        finally:
            browser.close()
    assert not found, found
