"""The community repositories (users, votes, collections, submissions): accounts, one vote per user per paper, collections owned by users, tokens, submissions."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.core.errors import Conflict, NotFound
from paperfeed.store import Store
from tests.web_fixtures import SAMPLE, paper_id


def test_users_unique_and_credentials(seeded: Store) -> None:
    u = seeded.create_user("ada", "ada@example.org", "hash1")
    assert seeded.get_user(u.id) == u
    with pytest.raises(Conflict):
        seeded.create_user("ADA", "other@example.org", "hash2")
    with pytest.raises(Conflict):
        seeded.create_user("bob", "Ada@Example.org", "hash2")
    found = seeded.user_credentials("ada@example.org")
    assert found is not None and found[0].id == u.id and found[1] == "hash1"
    assert seeded.user_credentials("nobody") is None
    seeded.set_password_hash(u.id, "hash3")
    assert seeded.user_credentials("ADA") == (u, "hash3")


def test_one_vote_per_user_per_paper(seeded: Store) -> None:
    a = seeded.create_user("ada", "ada@example.org", "h")
    b = seeded.create_user("bob", "bob@example.org", "h")
    pid = paper_id(seeded, "2501.00001")
    assert seeded.add_vote(a.id, pid) is True
    assert seeded.add_vote(a.id, pid) is False  # the primary key refuses the second row
    assert seeded.add_vote(b.id, pid) is True
    assert seeded.vote_counts([pid]) == {pid: 2}
    assert seeded.voted_by(a.id, [pid, pid + 1]) == {pid}
    assert seeded.remove_vote(a.id, pid) is True
    assert seeded.remove_vote(a.id, pid) is False
    assert seeded.vote_counts([pid]) == {pid: 1}
    with pytest.raises(NotFound):
        seeded.add_vote(a.id, 999_999)
    assert [p.id for p in seeded.user_voted_papers(b.id)] == [pid]


def test_paper_votes_and_stamp_change_on_writes(seeded: Store) -> None:
    a = seeded.create_user("ada", "ada@example.org", "h")
    pid = paper_id(seeded, "2501.00002")
    before = seeded.community_stamp()
    seeded.add_vote(a.id, pid)
    after_vote = seeded.community_stamp()
    assert after_vote != before
    seeded.remove_vote(a.id, pid)
    assert seeded.community_stamp() != after_vote
    seeded.add_vote(a.id, pid)
    rows = {r.paper_id: r for r in seeded.paper_votes(since=date(2025, 1, 6), until=date(2025, 1, 6))}
    assert len(rows) == 3 and rows[pid].votes == 1 and rows[pid].external_upvotes == 10
    assert {r.paper_id for r in seeded.paper_votes(category="cs.CV")} == {paper_id(seeded, "2501.00004")}
    assert seeded.category_counts()["cs.LG"] == 2


def test_collections_belong_to_their_owner(seeded: Store) -> None:
    a = seeded.create_user("ada", "ada@example.org", "h")
    b = seeded.create_user("bob", "bob@example.org", "h")
    pid = paper_id(seeded, "2501.00001")
    c = seeded.create_collection(a.id, "Reading", "to read", is_public=False)
    assert seeded.add_to_collection(a.id, c.id, pid) is True
    assert seeded.add_to_collection(a.id, c.id, pid) is False
    for attempt in (
        lambda: seeded.add_to_collection(b.id, c.id, pid),
        lambda: seeded.remove_from_collection(b.id, c.id, pid),
        lambda: seeded.update_collection(b.id, c.id, name="mine now"),
        lambda: seeded.delete_collection(b.id, c.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    got = seeded.get_collection(c.id)
    assert got is not None and got.name == "Reading" and got.paper_count == 1 and got.owner == "ada"
    assert seeded.collections_with_paper(pid, None) == []  # private: hidden from others
    assert [x.id for x in seeded.collections_with_paper(pid, a.id)] == [c.id]
    seeded.update_collection(a.id, c.id, is_public=True)
    assert [x.id for x in seeded.collections_with_paper(pid, b.id)] == [c.id]
    assert [p.id for p in seeded.collection_papers(c.id)] == [pid]
    assert seeded.remove_from_collection(a.id, c.id, pid) is True
    seeded.delete_collection(a.id, c.id)
    assert seeded.get_collection(c.id) is None


def test_tokens_and_submissions(seeded: Store) -> None:
    a = seeded.create_user("ada", "ada@example.org", "h")
    b = seeded.create_user("bob", "bob@example.org", "h")
    t = seeded.create_token(a.id, "laptop", "f" * 64)
    assert seeded.user_for_token("f" * 64) == a
    assert seeded.user_tokens(a.id)[0].last_used_at is not None
    with pytest.raises(NotFound):
        seeded.revoke_token(b.id, t.id)
    seeded.revoke_token(a.id, t.id)
    assert seeded.user_for_token("f" * 64) is None
    s = seeded.add_submission(a.id, "2502.00001", "queued", error="offline")
    assert seeded.queued_submission("2502.00001") == s
    seeded.finish_submission(s.id, "done", paper_id=paper_id(seeded, "2501.00001"))
    assert seeded.queued_submission("2502.00001") is None
    assert [x.status for x in seeded.list_submissions(user_id=a.id)] == ["done"]


def test_merging_papers_moves_votes(seeded: Store) -> None:
    """A title-only paper that later gets its arXiv id keeps its votes (PAPER_REFERENCES)."""
    from paperfeed.core.models import Paper

    a = seeded.create_user("ada", "ada@example.org", "h")
    seeded.upsert_papers([Paper(title="A Title Only Paper", source="hf-pages")])
    only = seeded.find_by_title("A Title Only Paper")
    assert only is not None and only.id is not None
    seeded.add_vote(a.id, only.id)
    seeded.upsert_papers([Paper(title="A Title Only Paper", arxiv_id="2503.00009", source="arxiv-api")])
    merged = seeded.get_paper_by_arxiv("2503.00009")
    assert merged is not None and merged.id is not None
    assert seeded.vote_counts([merged.id]).get(merged.id) == 1
    assert len(SAMPLE) == 5
