"""Screenshots of what a reader sees, for the README: `python scripts/screenshots.py http://127.0.0.1:PORT`.

Home, a paper, a search and the topics page, each at desktop (1280x900) and phone (390x844) size, in
Debian's Chromium (driven by Playwright; nothing is downloaded), written to docs/screenshots/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = {
    "home": "/",
    "paper": "/papers/2602.23152",
    "search": "/search?q=diffusion+video+generation",
    "topics": "/topics",
}
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main(base: str, out: Path) -> None:
    """Write one PNG per page and size (plus the home page in the dark scheme)."""
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        try:
            for size, viewport in SIZES.items():
                for scheme in ("light", "dark"):
                    page = browser.new_context(viewport=viewport, color_scheme=scheme).new_page()
                    for name, path in PAGES.items():
                        if scheme == "dark" and name != "home":
                            continue
                        page.goto(base.rstrip("/") + path)
                        suffix = "-dark" if scheme == "dark" else ""
                        page.screenshot(path=str(out / f"{name}-{size}{suffix}.png"))
                    page.context.close()
        finally:
            browser.close()


if __name__ == "__main__":
    main(
        sys.argv[1],
        Path(sys.argv[2])
        if len(sys.argv) > 2
        else Path(__file__).parents[1] / "docs" / "screenshots",
    )
