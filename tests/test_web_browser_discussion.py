"""A paper's discussion in real headless Chromium: post, reply, edit, hide; XSS payloads must not
run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Dialog

from paperfeed.core.settings import Settings
from paperfeed.delivery.common.secret_key import resolve_secret_key
from paperfeed.store import Store
from tests.test_web_browser import CHROMIUM, OUT, _launch, _serving
from tests.web_fixtures import browser_signup, paper_id

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium"),
]

XSS = [
    "<script>window.pwned = 'script'</script>",
    "<img src=x onerror=\"window.pwned = 'img'\">",
    "<svg/onload=\"window.pwned = 'svg'\">",
    "<iframe srcdoc=\"<script>parent.pwned = 'iframe'</script>\"></iframe>",
    "[click me](javascript:window.pwned='md-link')",
    "<a href=\"javascript:window.pwned='html-link'\">html link</a>",
    "[data](data:text/html;base64,PHNjcmlwdD5wYXJlbnQucHduZWQ9MTwvc2NyaXB0Pg==)",
    "\"><b onmouseover=\"window.pwned='attr'\">hover</b>",
    "`<script>window.pwned='code'</script>`",
    "![img](javascript:window.pwned='md-img')",
]


@pytest.fixture
def server(settings: Settings, seeded: Store) -> Iterator[str]:
    """The site over the sample papers."""
    with _serving(settings, seeded) as base:
        yield base


@pytest.fixture
def secret(settings: Settings) -> str:
    """The site's key (signs the sign-up links the mail would carry)."""
    return resolve_secret_key(settings)


def _signup(page: Any, base: str, secret: str, name: str) -> None:
    browser_signup(page, base, secret, name)  # the form, then the mailed link (#21 F13)


def test_thread_post_reply_edit_hide_in_chromium(server: str, seeded: Store, secret: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    pid = paper_id(seeded, "2501.00004")
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            _signup(page, server, secret, "ada")
            page.goto(f"{server}/papers/{pid}")
            expect(page.locator("#comments-h")).to_contain_text("0 comments")
            page.fill("#new-comment", "Does this **scale** past `1e9` images?")
            page.click("button:has-text('Post comment')")
            expect(page.locator(".flash").last).to_contain_text("Comment posted")
            first = page.locator(".thread > li.comment").first
            expect(first.locator(".comment-body strong")).to_have_text("scale")
            expect(first.locator(".comment-body code")).to_have_text("1e9")

            # a second account replies
            other = browser.new_context().new_page()
            _signup(other, server, secret, "bob")
            other.goto(f"{server}/papers/{pid}")
            other.locator(".thread > li.comment").first.locator("details.reply summary").click()
            other.fill("textarea[id^=reply-]", "It does, see *Table 3*.")
            other.click("button:has-text('Post reply')")
            reply = other.locator(".replies li.comment").first
            expect(reply.locator(".comment-author")).to_have_text("bob")
            expect(reply.locator(".comment-body em")).to_have_text("Table 3")
            expect(other.locator("#comments-h")).to_contain_text("2 comments")

            # ada edits her comment
            page.reload()
            first = page.locator(".thread > li.comment").first
            first.locator("details.edit summary").first.click()
            first.locator("textarea[id^=edit-]").first.fill(
                "Does this scale past a billion images?"
            )
            first.locator("button:has-text('Save')").first.click()
            expect(
                page.locator(".thread > li.comment").first.locator(".comment-body").first
            ).to_contain_text("past a billion images")
            expect(page.locator(".thread > li.comment .comment-head").first).to_contain_text(
                "(edited)"
            )

            # ada, made an admin, hides bob's reply with a reason
            seeded.users.set_admin("ada")
            page.reload()
            reply = page.locator(".replies li.comment").first
            reply.locator("details.hide summary").click()
            reply.locator("input[id^=hide-]").fill("Spoilers for the benchmark")
            reply.locator("button:has-text('Hide comment')").click()
            expect(page.locator(".flash").last).to_contain_text("Comment hidden")
            anon = browser.new_context().new_page()
            anon.goto(f"{server}/papers/{pid}")
            hidden = anon.locator(".replies li.comment").first
            expect(hidden.locator(".hidden-note")).to_have_text(
                "Hidden by a moderator: Spoilers for the benchmark"
            )
            expect(hidden.locator(".comment-body")).to_have_count(0)
            expect(anon.locator("#comments-h")).to_contain_text("1 comment")

            # the count on the Daily page's card
            anon.goto(f"{server}/?day=2025-01-05")
            expect(
                anon.locator(".card", has_text="Vision Transformers at Scale").locator(
                    ".comments-link"
                )
            ).to_have_text("1")
            page.goto(f"{server}/papers/{pid}")
            OUT.mkdir(exist_ok=True)
            page.screenshot(path=str(OUT / "paper-discussion.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()


def test_xss_payloads_do_not_run_in_chromium(server: str, seeded: Store, secret: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    pid = paper_id(seeded, "2501.00001")
    user = seeded.users.create_user("mallory", "m@example.org", "x")
    for payload in XSS:
        seeded.comments.add_comment(pid, user.id, payload)
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_context().new_page()
            dialogs: list[str] = []
            def _dismiss(dialog: Dialog) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", _dismiss)
            for url in (f"{server}/papers/{pid}", f"{server}/api/v1/papers/{pid}/comments",
                        f"{server}/feeds/papers/{pid}/comments.atom"):
                page.goto(url)
                assert page.evaluate("window.pwned") is None, url
            page.goto(f"{server}/papers/{pid}")
            expect(page.locator(".thread > li.comment")).to_have_count(len(XSS))
            bodies = page.locator(".comment-body")
            assert page.locator(".comment-body script, .comment-body img, .comment-body svg, "
                                ".comment-body iframe, .comment-body [onmouseover]").count() == 0
            hrefs = page.eval_on_selector_all(
                ".comment-body a", "els => els.map(e => e.getAttribute('href'))"
            )
            assert all(h is None or h.startswith(("http:", "https:", "mailto:")) for h in hrefs), (
                hrefs
            )
            for i in range(bodies.count()):  # hover and click everything a payload left behind
                body = bodies.nth(i)
                body.hover()
                for link in body.locator("a, b").all():
                    link.click(no_wait_after=True)
            page.wait_for_timeout(300)
            assert page.evaluate("window.pwned") is None and dialogs == []
            # the payloads are shown as text, not lost
            expect(page.locator(".thread")).to_contain_text(
                "<script>window.pwned = 'script'</script>"
            )
        finally:
            browser.close()


def test_lab_create_invite_accept_share_and_feed_in_chromium(
    server: str, seeded: Store, secret: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    pid = paper_id(seeded, "2501.00004")
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            owner = browser.new_context().new_page()
            errors: list[str] = []
            owner.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            _signup(owner, server, secret, "olga")
            owner.click("nav >> text=Labs")
            owner.fill("#g-name", "Vision Lab")
            owner.fill("#g-desc", "We read vision papers together")
            owner.click("button:has-text('Create lab')")
            expect(owner.locator("h1")).to_have_text("Vision Lab")
            group_url = owner.url
            owner.click("#make-link")
            link = owner.locator("#invite-link").inner_text()
            assert "/groups/join/" in link

            # a second account accepts the invitation
            member = browser.new_context().new_page()
            _signup(member, server, secret, "max")
            member.goto(link)
            expect(member.locator("h1")).to_have_text("Join “Vision Lab”")
            member.click("#accept-invite")
            expect(member.locator(".flash").last).to_contain_text("Welcome to Vision Lab")
            expect(member.locator("#members")).to_contain_text("olga")

            # max collects a paper privately and shares the collection with the lab
            member.goto(f"{server}/papers/{pid}")
            member.fill("#new-coll", "Max reads")
            member.click("form.stack button:has-text('Create')")
            member.goto(group_url)
            member.select_option("#share-coll", label="Max reads (private)")
            member.click("#share-form button")
            expect(member.locator("#shared")).to_contain_text("Max reads")

            # olga sees the shared (private) collection and the lab's week
            owner.goto(group_url)
            expect(owner.locator("#feed")).to_contain_text("Vision Transformers at Scale")
            expect(owner.locator("#feed")).to_contain_text("collected by max")
            owner.click("#shared a:has-text('Max reads')")
            expect(owner.locator("h1")).to_contain_text("Max reads")
            # a lab-only comment: members see it, a visitor does not
            owner.goto(f"{server}/papers/{pid}")
            owner.fill("#new-comment", "Lab only: Friday reading group")
            owner.select_option("#new-comment-group", label="Vision Lab only")
            owner.click("button:has-text('Post comment')")
            expect(owner.locator(".group-only")).to_have_text("Vision Lab only")
            member.goto(f"{server}/papers/{pid}")
            expect(member.locator(".thread")).to_contain_text("Friday reading group")
            visitor = browser.new_context().new_page()
            visitor.goto(f"{server}/papers/{pid}")
            expect(visitor.locator("#comments")).not_to_contain_text("Friday reading group")
            visitor.goto(group_url)
            expect(visitor.locator("h1")).to_have_text("Not found")
            expect(visitor.locator("main")).not_to_contain_text("Vision Lab")
            owner.goto(group_url)
            owner.screenshot(path=str(OUT / "lab.png"), full_page=True)
            assert errors == [], errors
        finally:
            browser.close()
