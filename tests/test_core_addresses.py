"""The one email-address check: syntax by email-validator, no DNS."""

from __future__ import annotations

import pytest

from paperfeed.core.addresses import MAX_EMAIL, is_email


@pytest.mark.parametrize(
    "good", ["ada@example.org", "a.b+c@cs.lab.example.edu", "ann@münchen.de", "a@b.co"]
)
def test_addresses_people_use_pass(good: str) -> None:
    assert is_email(good)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ada",
        "ada@",
        "@example.org",
        "ada@example",
        "a b@example.org",
        "ada@@example.org",
        "ada@example.org\x00",
        "<ada@example.org>",
        "ada@example.org, bob@example.org",
        '"ada"@example.org',
        "ada@host.invalid",
        "a" * 65 + "@example.org",
        "a@" + "b" * (MAX_EMAIL) + ".org",
        "ada@exa mple.org",
    ],
)
def test_what_is_no_address_fails(bad: str) -> None:
    assert not is_email(bad)
