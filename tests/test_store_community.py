"""The community repositories (users, votes, collections, submissions): accounts, one vote per user
per paper, collections owned by users, tokens, submissions."""

from __future__ import annotations

from datetime import date

import pytest

from paperfeed.core.errors import Conflict, NotFound
from paperfeed.store import Store
from tests.web_fixtures import SAMPLE, paper_id


def test_users_unique_and_credentials(seeded: Store) -> None:
    u = seeded.users.create_user("ada", "ada@example.org", "hash1")
    assert seeded.users.get_user(u.id) == u
    with pytest.raises(Conflict):
        seeded.users.create_user("ADA", "other@example.org", "hash2")
    with pytest.raises(Conflict):
        seeded.users.create_user("bob", "Ada@Example.org", "hash2")
    found = seeded.users.user_credentials("ada@example.org")
    assert found is not None and found[0].id == u.id and found[1] == "hash1"
    assert seeded.users.user_credentials("nobody") is None
    seeded.users.set_password_hash(u.id, "hash3")
    assert seeded.users.user_credentials("ADA") == (u, "hash3")


def test_one_vote_per_user_per_paper(seeded: Store) -> None:
    a = seeded.users.create_user("ada", "ada@example.org", "h")
    b = seeded.users.create_user("bob", "bob@example.org", "h")
    pid = paper_id(seeded, "2501.00001")
    assert seeded.votes.add_vote(a.id, pid) is True
    assert seeded.votes.add_vote(a.id, pid) is False  # the primary key refuses the second row
    assert seeded.votes.add_vote(b.id, pid) is True
    assert seeded.votes.vote_counts([pid]) == {pid: 2}
    assert seeded.votes.voted_by(a.id, [pid, pid + 1]) == {pid}
    assert seeded.votes.remove_vote(a.id, pid) is True
    assert seeded.votes.remove_vote(a.id, pid) is False
    assert seeded.votes.vote_counts([pid]) == {pid: 1}
    with pytest.raises(NotFound):
        seeded.votes.add_vote(a.id, 999_999)
    assert [p.id for p in seeded.votes.user_voted_papers(b.id)] == [pid]


def test_paper_votes_and_stamp_change_on_writes(seeded: Store) -> None:
    a = seeded.users.create_user("ada", "ada@example.org", "h")
    pid = paper_id(seeded, "2501.00002")
    before = seeded.votes.community_stamp()
    seeded.votes.add_vote(a.id, pid)
    after_vote = seeded.votes.community_stamp()
    assert after_vote != before
    seeded.votes.remove_vote(a.id, pid)
    assert seeded.votes.community_stamp() != after_vote
    seeded.votes.add_vote(a.id, pid)
    rows = {
        r.paper_id: r
        for r in seeded.votes.paper_votes(since=date(2025, 1, 6), until=date(2025, 1, 6))
    }
    assert len(rows) == 3 and rows[pid].votes == 1 and rows[pid].external_upvotes == 10
    assert {r.paper_id for r in seeded.votes.paper_votes(category="cs.CV")} == {
        paper_id(seeded, "2501.00004")
    }
    assert seeded.votes.category_counts()["cs.LG"] == 2


def test_collections_belong_to_their_owner(seeded: Store) -> None:
    a = seeded.users.create_user("ada", "ada@example.org", "h")
    b = seeded.users.create_user("bob", "bob@example.org", "h")
    pid = paper_id(seeded, "2501.00001")
    c = seeded.collections.create_collection(a.id, "Reading", "to read", is_public=False)
    assert seeded.collections.add_to_collection(a.id, c.id, pid) is True
    assert seeded.collections.add_to_collection(a.id, c.id, pid) is False
    for attempt in (
        lambda: seeded.collections.add_to_collection(b.id, c.id, pid),
        lambda: seeded.collections.remove_from_collection(b.id, c.id, pid),
        lambda: seeded.collections.update_collection(b.id, c.id, name="mine now"),
        lambda: seeded.collections.delete_collection(b.id, c.id),
    ):
        with pytest.raises(NotFound):
            attempt()
    got = seeded.collections.get_collection(c.id)
    assert got is not None and got.name == "Reading" and got.paper_count == 1 and got.owner == "ada"
    assert seeded.collections.collections_with_paper(pid, None) == []  # private: hidden from others
    assert [x.id for x in seeded.collections.collections_with_paper(pid, a.id)] == [c.id]
    seeded.collections.update_collection(a.id, c.id, is_public=True)
    assert [x.id for x in seeded.collections.collections_with_paper(pid, b.id)] == [c.id]
    assert [p.id for p in seeded.collections.collection_papers(c.id)] == [pid]
    assert seeded.collections.remove_from_collection(a.id, c.id, pid) is True
    seeded.collections.delete_collection(a.id, c.id)
    assert seeded.collections.get_collection(c.id) is None


def test_tokens_and_submissions(seeded: Store) -> None:
    a = seeded.users.create_user("ada", "ada@example.org", "h")
    b = seeded.users.create_user("bob", "bob@example.org", "h")
    t = seeded.users.create_token(a.id, "laptop", "f" * 64)
    assert seeded.users.user_for_token("f" * 64) == a
    assert seeded.users.user_tokens(a.id)[0].last_used_at is not None
    with pytest.raises(NotFound):
        seeded.users.revoke_token(b.id, t.id)
    seeded.users.revoke_token(a.id, t.id)
    assert seeded.users.user_for_token("f" * 64) is None
    s = seeded.submissions.add_submission(a.id, "2502.00001", "queued", error="offline")
    assert seeded.submissions.queued_submission("2502.00001") == s
    seeded.submissions.finish_submission(s.id, "done", paper_id=paper_id(seeded, "2501.00001"))
    assert seeded.submissions.queued_submission("2502.00001") is None
    assert [x.status for x in seeded.submissions.list_submissions(user_id=a.id)] == ["done"]


def test_merging_papers_moves_votes(seeded: Store) -> None:
    """A title-only paper that later gets its arXiv id keeps its votes (PAPER_REFERENCES)."""
    from paperfeed.core.models import Paper

    a = seeded.users.create_user("ada", "ada@example.org", "h")
    seeded.papers.upsert_papers([Paper(title="A Title Only Paper", source="hf-pages")])
    only = seeded.papers.find_by_title("A Title Only Paper")
    assert only is not None and only.id is not None
    seeded.votes.add_vote(a.id, only.id)
    seeded.papers.upsert_papers(
        [Paper(title="A Title Only Paper", arxiv_id="2503.00009", source="arxiv-api")]
    )
    merged = seeded.papers.get_paper_by_arxiv("2503.00009")
    assert merged is not None and merged.id is not None
    assert seeded.votes.vote_counts([merged.id]).get(merged.id) == 1
    assert len(SAMPLE) == 5
