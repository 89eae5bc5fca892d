"""Issue #21 F13, second half: sign-up does not reveal which email addresses are registered.

The form answers the same page with the same status for a registered address and a new one; the mail
goes out after the answer. A new address gets the link that creates the account (nothing exists
before it is followed); a registered one gets "someone tried to sign up with your address".
Usernames are public, so a taken one is still named. Both backends (the `store` fixtures).
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from email.message import EmailMessage
from pathlib import Path

from starlette.testclient import TestClient

from paperfeed.core.settings import Settings
from paperfeed.delivery.app.credentials import hash_password
from paperfeed.store import Store
from tests.web_fixtures import PASSWORD, csrf_from, make_app, page_csrf

CSRF = re.compile(r'name="csrf_token" value="[^"]+"')


def _post(c: TestClient, username: str, address: str) -> tuple[int, str, list[str]]:
    page = c.get("/signup").text
    r = c.post("/signup", data={"username": username, "email": address, "password": PASSWORD,
                                "csrf_token": csrf_from(page)}, follow_redirects=False)
    return r.status_code, CSRF.sub("", r.text), sorted(r.headers.keys())


def _mails(outbox: Path) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for path in sorted(outbox.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        out.setdefault(str(msg["To"]), []).append(msg)
    return out


def _registered(store: Store) -> None:
    ada = store.users.create_user("ada", "ada@example.org", hash_password(PASSWORD))
    store.comments.mark_email_verified(ada.id, ada.email)


def test_signup_answers_alike_for_a_registered_and_a_new_email(
    settings: Settings, seeded: Store, tmp_path: Path
) -> None:
    _registered(seeded)
    outbox = tmp_path / "outbox"
    with make_app(settings, seeded, mailer="file", mail_dir=str(outbox)) as c:
        known = _post(TestClient(c.app), "newcomer1", "ada@example.org")
        fresh = _post(TestClient(c.app), "newcomer2", "fresh@example.org")
        assert known == fresh  # status, page text (but the CSRF token), header names
        assert known[0] == 200 and "Check your inbox" in known[1]
        # nothing exists yet for either: a log-in cannot tell them apart
        assert (
            seeded.users.get_user_by_name("newcomer1") is None
            and seeded.users.get_user_by_name("newcomer2") is None
        )
    mails = _mails(outbox)
    assert set(mails) == {"ada@example.org", "fresh@example.org"}
    tried = mails["ada@example.org"][0]
    assert tried["Subject"] == "paperfeed: someone tried to sign up with your address"
    body = tried.get_content()
    assert "already has an account" in body
    assert "/login" in body and "/password-reset" in body and "/signup/finish" not in body
    assert mails["fresh@example.org"][0]["Subject"] == "paperfeed: finish signing up"


def test_the_mailed_link_creates_the_account_once_and_logs_in(
    settings: Settings, seeded: Store, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox"
    with make_app(settings, seeded, mailer="file", mail_dir=str(outbox)) as c:
        assert _post(c, "vera", "vera@example.org")[0] == 200
        text = _mails(outbox)["vera@example.org"][0].get_content()
        path = re.search(r"http://\S+(/signup/finish\?t=\S+)", text).group(1)  # type: ignore[union-attr]
        assert c.get(path[:-3]).status_code == 400  # cut short
        asked = c.get(path)  # a GET (a mail scanner) creates nothing
        assert asked.status_code == 200 and "Create my account" in asked.text
        assert seeded.users.get_user_by_name("vera") is None
        form = {
            "t": html.unescape(re.search(r'name="t" value="([^"]+)"', asked.text).group(1)),  # type: ignore[union-attr]
            "csrf_token": csrf_from(asked.text),
            "password": PASSWORD,
        }
        done = c.post("/signup/finish", data=form, follow_redirects=False)
        assert done.status_code == 303 and "pf_device" in done.headers.get("set-cookie", "")
        vera = seeded.users.get_user_by_name("vera")
        assert vera is not None and vera.email_verified  # following the link confirmed the address
        assert "vera" in c.get("/profile").text  # logged in
        again = c.post("/signup/finish", data={**form, "csrf_token": page_csrf(c)})
        assert again.status_code == 409 and "used already" in again.text  # the link works once
        page = c.get(path)
        assert page.status_code == 409 and "used already" in page.text


def test_a_taken_username_is_named_but_never_an_email(settings: Settings, seeded: Store) -> None:
    _registered(seeded)
    with make_app(settings, seeded) as c:
        status, text, _ = _post(c, "ada", "someone@example.org")
        assert status == 409 and "username: that username is taken" in text
        assert "email" not in re.sub(
            r"<[^>]+>", "", text.split('class="flash error"')[1].split("</p>")[0]
        )


def test_signup_mail_to_an_address_is_bounded(
    settings: Settings, seeded: Store, tmp_path: Path
) -> None:
    _registered(seeded)
    outbox = tmp_path / "outbox"
    with make_app(settings, seeded, mailer="file", mail_dir=str(outbox)) as c:
        answers = {
            _post(TestClient(c.app), f"newcomer{i}", "ada@example.org")[:2] for i in range(5)
        }
        assert len(answers) == 1  # the same answer over the bound too
    assert len(_mails(outbox)["ada@example.org"]) == 3  # UNCONFIRMED_MAIL_LIMIT (#21 F14)
