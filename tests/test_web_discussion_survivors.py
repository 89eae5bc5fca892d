"""The comment length limit (issue 22): the paper page's form says the limit the server holds, and
the server takes a comment of exactly that length and refuses one character more, with the reason.

Both backends.
"""

from __future__ import annotations

import re

from paperfeed.core.settings import Settings
from paperfeed.delivery.app.comments import MAX_BODY
from paperfeed.store import Store
from tests.web_fixtures import make_app, page_csrf, paper_id, signup


def test_the_comment_length_limit_on_the_page_form(settings: Settings, seeded: Store) -> None:
    pid = paper_id(seeded, "2501.00004")
    with make_app(settings, seeded) as c:
        signup(c, "ada")
        page = c.get(f"/papers/{pid}").text
        assert re.findall(r'<textarea[^>]*name="body"[^>]*maxlength="(\d+)"', page) == [
            str(MAX_BODY)
        ]
        csrf = page_csrf(c, f"/papers/{pid}")
        longest = c.post(
            f"/papers/{pid}/comments",
            data={"csrf_token": csrf, "body": "x" * MAX_BODY},
            follow_redirects=False,
        )
        assert longest.status_code == 303
        over = c.post(
            f"/papers/{pid}/comments",
            data={"csrf_token": csrf, "body": "y" * (MAX_BODY + 1)},
            follow_redirects=False,
        )
        assert over.status_code == 400 and f"at most {MAX_BODY} characters" in over.text
    assert [len(x.body) for x in seeded.comments.paper_comments(pid)] == [MAX_BODY]
