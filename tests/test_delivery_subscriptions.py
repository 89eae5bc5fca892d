"""Changing a subscription is one use case: the CLI, the settings form and the API give the same
clear errors."""

from __future__ import annotations

import html
from typing import Any

import pytest
from click.testing import CliRunner

from paperfeed.core.errors import BadRequest, NotFound
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.subscriptions import save_subscription
from paperfeed.delivery.cli.main import cli
from paperfeed.store import Store
from tests.web_fixtures import make_app, page_csrf, signup

BAD: list[tuple[dict[str, Any], str]] = [  # (change, what the error must say)
    ({"frequency": "hourly"}, "frequency 'hourly'"),
    ({"send_hour": 24}, "send_hour must be 0..23, got 24"),
    ({"timezone": "Mars/Base"}, "unknown time zone 'Mars/Base'"),
    ({"timezone": "../etc/passwd"}, "unknown time zone '../etc/passwd'"),
    ({"timezone": "UTC\x00"}, "unknown time zone"),
    ({"max_papers": 0}, "max_papers must be 1..200, got 0"),
    ({"sections": ("spam",)}, "unknown section 'spam'"),
    ({"colour": "red"}, "unknown subscription field 'colour'"),
]


def test_rules_checked_and_nothing_stored_lost(store: Store) -> None:
    uid = store.users.create_user("ann", "ann@example.org", "x").id
    sub = save_subscription(store, uid, frequency="weekly", weekday=4, timezone="Asia/Tokyo",
                            sections=("searches", "rising", "searches"))
    assert (sub.frequency, sub.weekday, sub.timezone, sub.sections) == (
        "weekly",
        4,
        "Asia/Tokyo",
        ("searches", "rising"),
    )
    for change, message in BAD:
        with pytest.raises(BadRequest, match=message.replace(".", r"\.")):
            save_subscription(store, uid, **change)
    # every refusal left the stored one as it was
    assert store.subscriptions.get_subscription(uid) == sub
    # None keeps a value
    assert save_subscription(store, uid, send_hour=None).send_hour == sub.send_hour
    with pytest.raises(NotFound):
        save_subscription(store, 9999)


def test_cli_form_and_api_refuse_alike(store: Store, settings: Settings) -> None:
    client = make_app(settings, store)
    signup(client, "bea")
    user = store.users.get_user_by_name("bea")
    assert user is not None
    csrf = page_csrf(client, "/subscriptions")
    headers = {"X-CSRF-Token": page_csrf(client)}
    assert client.put("/api/v1/subscriptions", json={"sections": ["rising"], "send_hour": 9},
                      # every section the rules know, "rising" too
                      headers=headers).status_code == 200
    kept = store.subscriptions.get_subscription(user.id)
    message = "unknown time zone 'Mars/Base' (use an IANA name such as Europe/Berlin)"
    form = client.post("/subscriptions", data={"csrf_token": csrf, "timezone": "Mars/Base"})
    assert form.status_code == 400 and message in html.unescape(form.text)
    api = client.put("/api/v1/subscriptions", json={"timezone": "Mars/Base"}, headers=headers)
    assert api.status_code == 400 and api.json()["message"] == message
    api = client.put("/api/v1/subscriptions", json={"sections": ["spam"]}, headers=headers)
    assert api.status_code == 400 and api.json()["message"].startswith(
        "unknown section 'spam'; valid: alerts,"
    )
    result = CliRunner().invoke(cli, ["subscribe", "set", "bea", "--tz", "Mars/Base", "--data-dir",
                                      str(settings.data_dir), "--database-url", settings.db_url])
    assert result.exit_code == 2 and f"error: {message}" in result.stderr
    result = CliRunner().invoke(
        cli,
        [
            "subscribe",
            "set",
            "bea",
            "--sections",
            "trending,spam",
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.db_url,
        ],
    )
    assert result.exit_code == 2 and "error: unknown section 'spam'" in result.stderr
    assert store.subscriptions.get_subscription(user.id) == kept
