"""Helpers for the web tests: an app over a fresh store, sample papers, accounts, CSRF tokens."""

from __future__ import annotations

import html
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.app.indexing import refresh_index_after_ingest
from paperfeed.delivery.common.context import AppContext
from paperfeed.delivery.web.app import create_app
from paperfeed.store import Store

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

# Titles and abstracts with markup, ampersands and LaTeX: they must come out escaped.
NASTY_TITLE = "<script>alert('x')</script> & $\\alpha<\\beta$ Transformers"
SAMPLE = [
    Paper(
        title="Attention Is Still All You Need",
        abstract="We revisit attention for sequence models.",
        arxiv_id="2501.00001",
        version=2,
        authors=("Ada Lovelace", "Alan Turing"),
        categories=("cs.CL", "cs.LG"),
        published=date(2025, 1, 6),
        featured_on=date(2025, 1, 6),
        external_upvotes=40,
        source="hf-daily",
        code_url="https://github.com/example/attn",
    ),
    Paper(
        title="Diffusion Models for Protein Design",
        abstract="Protein structure generation with diffusion.",
        arxiv_id="2501.00002",
        version=1,
        authors=("Rosalind Franklin",),
        categories=("q-bio.BM", "cs.LG"),
        published=date(2025, 1, 6),
        featured_on=date(2025, 1, 6),
        external_upvotes=10,
        source="hf-daily",
    ),
    Paper(
        title=NASTY_TITLE,
        abstract="Bounds with $O(n \\log n)$ & <b>bold</b> claims for transformers.",
        arxiv_id="2501.00003",
        version=1,
        authors=("Grace Hopper",),
        categories=("cs.LG",),
        published=date(2025, 1, 6),
        featured_on=date(2025, 1, 6),
        external_upvotes=10,
        source="hf-daily",
    ),
    Paper(
        title="Vision Transformers at Scale",
        abstract="Scaling vision transformers to billions of images.",
        arxiv_id="2501.00004",
        version=1,
        authors=("Fei-Fei Li",),
        categories=("cs.CV",),
        published=date(2025, 1, 5),
        featured_on=date(2025, 1, 5),
        external_upvotes=99,
        source="hf-daily",
    ),
    Paper(
        title="Graph Neural Networks for Chemistry",
        abstract="Message passing networks predict molecules.",
        arxiv_id="2501.00005",
        version=1,
        authors=("Marie Curie",),
        categories=("cs.LG", "physics.chem-ph"),
        published=date(2025, 1, 3),
        source="arxiv-api",
    ),
]


def make_app(settings: Settings, store: Store, **overrides: object) -> TestClient:
    """A test client over an app on this store (rate limits generous unless overridden)."""
    values: dict[str, object] = {
        "rate_limit_login": "1000/minute",
        "rate_limit_write": "1000/minute",
    }
    values.update(overrides)
    refresh_index_after_ingest(settings, store, embed_new=False)  # as `paperfeed ingest` does
    app = create_app(AppContext(with_overrides(settings, **values), store))
    return TestClient(app, raise_server_exceptions=True)


def csrf_from(html: str) -> str:
    """The CSRF token in a page's first form."""
    m = _CSRF.search(html)
    assert m, "no csrf_token in page"
    return m.group(1)


def signup_link(secret: str, username: str, email: str | None = None, next: str = "") -> str:
    """The path of the link the sign-up mail carries (what one's inbox would give)."""
    from urllib.parse import quote

    from paperfeed.delivery.mail.signup import SignupClaim, signup_token

    claim = SignupClaim(username, email or f"{username}@example.org", next)
    return f"/signup/finish?t={quote(signup_token(secret, claim))}"


def finish_signup(client: TestClient, path: str, password: str = PASSWORD) -> object:
    """Follow a sign-up link: the page, then its form with the password (the response of that
    POST)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    t = html.unescape(re.search(r'name="t" value="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    return client.post(
        "/signup/finish",
        data={"t": t, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )


def signup(client: TestClient, username: str, password: str = PASSWORD) -> None:
    """Create an account through the form and the mailed link, and stay logged in."""
    token = csrf_from(client.get("/signup").text)
    r = client.post("/signup", data={"username": username, "email": f"{username}@example.org",
                                     "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 200 and "Check your inbox" in r.text, r.text
    secret = client.app.state.web.secret_key  # type: ignore[attr-defined]
    done = finish_signup(client, signup_link(secret, username), password)
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]


def browser_signup(
    page: Any, base: str, secret: str, username: str, password: str = PASSWORD
) -> None:
    """Sign up in a browser: the form, then the mailed link (minted here with the site's key), the
    password."""
    page.goto(base + "/signup")
    page.fill("#username", username)
    page.fill("#email", f"{username}@example.org")
    page.click("button:has-text('Create account')")
    page.locator("h1", has_text="Check your inbox").wait_for()
    page.goto(base + signup_link(secret, username))
    page.fill("#password", password)
    page.click("button:has-text('Create my account')")
    page.locator(".flash", has_text=f"Welcome, {username}!").first.wait_for()


def page_csrf(client: TestClient, path: str = "/profile") -> str:
    """The session's CSRF token, read from a page."""
    return csrf_from(client.get(path).text)


def hf_daily_papers(path: Path) -> list[Paper]:
    """Papers from the shared hf-daily JSONL (Feb 2026), parsed here so these tests need no source
    module."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        day = date.fromisoformat(rec["date"])
        out.append(Paper(
            title=rec["title"], abstract=rec.get("abstract") or "", arxiv_id=rec["paper_id"],
            authors=tuple(rec.get("authors") or ()), featured_on=day, published=day,
            external_upvotes=int(rec.get("upvotes") or 0), source="hf-daily",
            code_url=rec.get("github_url") or None,
        ))
    return out


def paper_id(store: Store, arxiv_id: str) -> int:
    """The internal id of a sample paper."""
    p = store.papers.get_paper_by_arxiv(arxiv_id)
    assert p is not None and p.id is not None
    return p.id


ATOM_ENTRY = """<entry>
<id>http://arxiv.org/abs/{id}v{v}</id>
<updated>2025-03-14T17:59:59Z</updated>
<published>2025-03-14T17:59:59Z</published>
<title>{title}</title>
<summary>  A submitted paper about &lt;tokens&gt; &amp; things.
</summary>
<author><name>Sub Mitter</name></author>
<author><name>Co Author</name></author>
<arxiv:comment>12 pages</arxiv:comment>
<link href="http://arxiv.org/abs/{id}v{v}" rel="alternate" type="text/html"/>
<link title="pdf" href="http://arxiv.org/pdf/{id}v{v}" rel="related" type="application/pdf"/>
<arxiv:primary_category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
<category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
<category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
</entry>"""
ATOM_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
<title>arXiv Query</title>
<id>http://arxiv.org/api/fake</id>
<updated>2025-03-15T00:00:00-04:00</updated>
<opensearch:totalResults>{n}</opensearch:totalResults>
<opensearch:startIndex>0</opensearch:startIndex>
<opensearch:itemsPerPage>{n}</opensearch:itemsPerPage>
{entries}
</feed>"""
KNOWN_IDS = {"2503.11731": "Submitted Paper on Tokenizers", "2503.22222": "Another Submitted Paper"}


class FakeArxiv:
    """A local stand-in for export.arxiv.org/api/query that knows KNOWN_IDS."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlparse

        requests: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                query = parse_qs(urlparse(self.path).query)
                ids = [i for raw in query.get("id_list", []) for i in raw.split(",") if i]
                entries = [
                    ATOM_ENTRY.format(id=i.split("v")[0], v=1, title=KNOWN_IDS[i.split("v")[0]])
                    for i in ids
                    if i.split("v")[0] in KNOWN_IDS
                ]
                body = ATOM_FEED.format(n=len(entries), entries="\n".join(entries)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.requests = requests
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/query"

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()


