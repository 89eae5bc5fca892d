"""The portable profile on both backends: export -> import into an empty instance -> export gives
the same file; importing twice changes nothing; a malformed file stores nothing and says what is
wrong; deleting an account removes that user's rows only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from paperfeed.core.errors import BadRequest, Conflict
from paperfeed.core.models import User
from paperfeed.delivery.app import comments as ds, profile
from paperfeed.store import Store, open_store
from paperfeed.store.backup import table_facts
from tests.conftest import PG_URL
from tests.web_fixtures import SAMPLE, paper_id

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def other(store_url: str, tmp_path: Any) -> Iterator[Store]:
    """A second, empty paperfeed on the same backend, with the sample papers but the last."""
    if store_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'other.db'}"
        admin = None
    else:
        schema = f"pf_test_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    s = open_store(url)
    s.papers.upsert_papers(SAMPLE[:-1])
    try:
        yield s
    finally:
        s.close()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _people(store: Store) -> tuple[User, User]:
    """ada with something of every kind; bob with his own rows, one a reply to ada."""
    store.papers.upsert_papers(SAMPLE)
    ada = store.users.create_user("ada", "ada@example.org", "h")
    bob = store.users.create_user("bob", "bob@example.org", "h")
    p1, p2, p3 = (paper_id(store, a) for a in ("2501.00001", "2501.00002", "2501.00003"))
    store.votes.add_vote(ada.id, p1)
    store.votes.add_vote(ada.id, p2)
    coll = store.collections.create_collection(ada.id, "Reading list", "to read", is_public=True)
    store.collections.add_to_collection(ada.id, coll.id, p1)
    store.collections.add_to_collection(ada.id, coll.id, p3)
    store.collections.create_collection(ada.id, "Empty")
    store.subscriptions.save_subscription(
        ada.id,
        frequency="weekly",
        weekday=2,
        timezone="Europe/Berlin",
        sections=("alerts", "discussion", "trending"),
    )
    store.subscriptions.add_saved_search(
        ada.id, "diffusion protein", name="proteins", category="q-bio.BM"
    )
    store.subscriptions.follow(ada.id, "category", "cs.CL")
    store.subscriptions.follow(ada.id, "author", "Alan Turing")
    store.subscriptions.set_feedback(ada.id, p2, -1)
    root = ds.post_comment(store, ada, p1, "Nice **result**.")
    ds.post_comment(store, ada, p1, "And a follow-up.", parent_id=root.id)
    store.authors.add_claim(p3, ada.id, "Ada Lovelace", "pending", "admin")
    store.votes.add_vote(bob.id, p1)
    ds.post_comment(store, bob, p1, "I disagree.", parent_id=root.id)
    store.subscriptions.follow(bob.id, "category", "cs.LG")
    return ada, bob


def _facts(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return {k: v.as_dict() for k, v in table_facts(conn).items()}


def _user(store: Store, name: str) -> User:
    found = store.users.get_user_by_name(name)
    assert found is not None
    return found


def test_export_import_export_is_the_same_file(store: Store, other: Store) -> None:
    ada, _ = _people(store)
    first = profile.export_profile(store, ada, NOW)
    assert first["format"] == "paperfeed-profile" and first["version"] == 1
    assert "password" not in json.dumps(first) and first["account"]["email"] == "ada@example.org"
    assert [c["state"] for c in first["comments"]] == ["visible", "visible"]
    assert first["comments"][1]["reply_to"]["author"] == "ada"
    assert len(first["collections"][0]["papers"]) == 2 and first["subscription"]["weekday"] == 2
    report = profile.import_profile(other, profile.export_json(store, ada, NOW))
    assert report.created and report.username == "ada"
    # 2501.00005 is the sample paper the other site lacks: nothing of ada's points at it.
    assert report.missing == [] and report.added["votes"] == 2 and report.added["comments"] == 2
    again = profile.export_profile(other, _user(other, "ada"), NOW)
    # the file's email verification is not trusted (#21 F17): the address is confirmed here anew
    assert again["account"]["email_verified_at"] is None
    again["account"]["email_verified_at"] = first["account"]["email_verified_at"]
    assert again == first


def test_import_twice_changes_nothing_and_missing_papers_are_reported(
    store: Store, other: Store
) -> None:
    ada, _ = _people(store)
    last = paper_id(store, SAMPLE[-1].arxiv_id or "")
    store.votes.add_vote(ada.id, last)
    data = profile.export_json(store, ada, NOW)
    papers_before = other.papers.count_papers()
    first = profile.import_profile(other, data)
    assert first.missing == [f"arXiv {SAMPLE[-1].arxiv_id}"]  # reported, not invented
    assert other.papers.count_papers() == papers_before
    facts = _facts(other)
    # an existing account: only when the operator says so
    with pytest.raises(Conflict, match="--merge"):
        profile.import_profile(other, data)
    second = profile.import_profile(other, data, merge=True)
    assert not second.created and second.added == {} and _facts(other) == facts
    # Into another, existing account: merged there; a namesake with another email needs --as.
    other.users.create_user("ada2", "ada2@example.org", "h")
    merged = profile.import_profile(other, data, as_name="ada2", merge=True)
    assert not merged.created and merged.added["votes"] == 2
    other.users.create_user("bob", "bob@elsewhere.org", "h")
    with pytest.raises(Conflict, match="--as"):
        profile.import_profile(
            other, profile.export_json(store, _user(store, "bob"), NOW), merge=True
        )


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(format="something-else"), "format: expected 'paperfeed-profile'"),
        (lambda d: d.update(version=2), "version: this paperfeed reads version 1"),
        (
            lambda d: d["votes"][1].update(created_at="yesterday"),
            "votes[1].created_at: expected an ISO 8601 time",
        ),
        (
            lambda d: d["votes"][0].update(paper={}),
            "votes[0].paper.title: expected a non-empty string",
        ),
        (
            lambda d: d["subscription"].update(timezone="Mars/Olympus"),
            "subscription: unknown time zone",
        ),
        (
            lambda d: d["collections"][0]["papers"][1].update(paper=7),
            "collections[0].papers[1].paper: expected an object",
        ),
        (lambda d: d["feedback"][0].update(signal=5), "feedback[0].signal: expected 1"),
        (lambda d: d["claims"].append({"paper": {"arxiv_id": "2501.00001"}}), "claims[1].author"),
        (lambda d: d["account"].update(email="nobody"), "account.email: not an email address"),
        (lambda d: d["account"].update(username="a b"), "account.username: 'a b': 3 to 32 letters"),
    ],
)
def test_malformed_file_says_what_and_stores_nothing(
    store: Store, other: Store, change: Any, message: str
) -> None:
    ada, _ = _people(store)
    doc = profile.export_profile(store, ada, NOW)
    change(doc)
    facts = _facts(other)
    with pytest.raises(BadRequest, match=message.replace("[", r"\[").replace("]", r"\]")):
        profile.import_profile(other, json.dumps(doc))
    assert _facts(other) == facts
    with pytest.raises(BadRequest, match="not JSON"):
        profile.import_profile(other, b'{"format": ')


def _rows_of(store: Store, user_id: int) -> dict[str, int]:
    """Rows per table that name the user in a user column."""
    out = {}
    with store.engine.connect() as conn:
        insp = inspect(conn)
        for table in insp.get_table_names():
            for col in ("user_id", "created_by", "shared_by", "hidden_by"):
                if col in {c["name"] for c in insp.get_columns(table)}:
                    n = conn.execute(
                        text(f'SELECT count(*) FROM "{table}" WHERE "{col}" = :u'), {"u": user_id}
                    )
                    out[f"{table}.{col}"] = int(n.scalar_one())
    return out


def test_delete_removes_the_users_rows_only(store: Store) -> None:
    ada, bob = _people(store)
    group = store.groups.create_group(ada.id, "Lab", "", True)
    store.groups.add_member(group.id, bob.id, "member")
    bob_before = profile.export_profile(store, bob, NOW)
    assert bob_before["comments"][0]["reply_to"]["author"] == "ada"
    assert any(_rows_of(store, ada.id).values())
    profile.delete_user(store, "ada")
    assert store.users.get_user_by_name("ada") is None and not any(_rows_of(store, ada.id).values())
    assert store.check() == []
    bob_after = profile.export_profile(store, bob, NOW)
    # bob's reply stays, moved up to the paper (ada's comment is gone); the rest of bob's data as it
    # was
    assert (
        bob_after["comments"][0]["reply_to"] is None
        and bob_after["comments"][0]["body"] == "I disagree."
    )
    bob_after["comments"][0]["reply_to"] = bob_before["comments"][0]["reply_to"]
    # ada was the sole owner: the lab is bob's (#21 F18)
    assert bob_after["groups"][0]["role"] == "owner"
    bob_after["groups"][0]["role"] = bob_before["groups"][0]["role"]
    assert bob_after == bob_before
    assert [c.author for c in store.comments.paper_comments(paper_id(store, "2501.00001"))] == [
        "bob"
    ]
    with pytest.raises(BadRequest, match="wrong password"):
        profile.delete_own_account(store, bob, "not his password")
    assert store.users.get_user_by_name("bob") is not None


def test_cli_export_delete_import(store: Store, store_url: str, tmp_path: Any) -> None:
    from click.testing import CliRunner

    from paperfeed.delivery.cli.main import cli

    ada, _ = _people(store)
    before = profile.export_profile(store, ada, NOW)
    runner = CliRunner()
    opts = ["--data-dir", str(tmp_path / "data"), "--database-url", store_url]
    out = tmp_path / "ada.json"
    r = runner.invoke(cli, ["users", "export", "ada", str(out), *opts], env={})
    assert r.exit_code == 0, r.output
    assert (
        json.loads(out.read_text())["account"]["username"] == "ada"
        and out.stat().st_mode & 0o077 == 0
    )
    r = runner.invoke(cli, ["users", "delete", "ada", *opts], env={})
    assert (
        r.exit_code == 2 and "--yes" in r.output and store.users.get_user_by_name("ada") is not None
    )
    r = runner.invoke(cli, ["users", "delete", "ada", "--yes", *opts], env={})
    assert r.exit_code == 0 and store.users.get_user_by_name("ada") is None
    r = runner.invoke(cli, ["users", "import", str(out), *opts], env={})
    assert r.exit_code == 0 and "created ada: " in r.output and "2 votes" in r.output, r.output
    again = profile.export_profile(store, _user(store, "ada"), NOW)
    assert again == before
    r = runner.invoke(cli, ["users", "import", str(out), "--json", *opts], env={})
    assert r.exit_code == 2 and "--merge" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["users", "import", str(out), "--merge", "--json", *opts], env={})
    assert r.exit_code == 0 and json.loads(r.output)["added"] == {}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**before, "votes": [{"paper": {"arxiv_id": "2501.00001"}}]}))
    r = runner.invoke(cli, ["users", "import", str(bad), "--as", "newbie", *opts], env={})
    assert r.exit_code == 2 and "votes[0].created_at: expected an ISO 8601 time" in r.output
    assert store.users.get_user_by_name("newbie") is None
