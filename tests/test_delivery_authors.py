"""Authors: the name-merging rule, the email-domain rule, author pages, claims and "submitted by"
(both backends)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from starlette.testclient import TestClient

from paperfeed.core.authors import (
    Occurrence,
    author_key,
    compatible,
    display_name,
    identities,
    like_pattern,
    parse_name,
)
from paperfeed.core.errors import BadRequest, Conflict, Forbidden, NotFound
from paperfeed.core.models import Paper
from paperfeed.core.settings import Settings
from paperfeed.delivery.app import authors as au, comments as ds
from paperfeed.store import Store
from tests.web_fixtures import make_app, page_csrf, paper_id, signup

VARIANTS = [
    Paper(
        title="Analytical engines",
        arxiv_id="2502.00001",
        authors=("Ada Lovelace", "Charles Babbage"),
        categories=("cs.LG",),
        published=date(2025, 2, 3),
        external_upvotes=5,
        source="jsonl",
        comment="Code at https://lab.example.edu/engines",
    ),
    Paper(
        title="Notes on the engine",
        arxiv_id="2502.00002",
        authors=("A. Lovelace", "Charles Babbage"),
        categories=("cs.CL",),
        published=date(2025, 3, 3),
        source="jsonl",
    ),
    Paper(
        title="Poetical science",
        arxiv_id="2502.00003",
        authors=("ÁDA LOVELACE",),
        categories=("cs.LG",),
        published=date(2025, 3, 9),
        source="jsonl",
    ),
    Paper(
        title="Another Lovelace",
        arxiv_id="2502.00004",
        authors=("Bea Lovelace",),
        categories=("cs.AI",),
        published=date(2025, 3, 9),
        source="jsonl",
    ),
    Paper(
        title="Somebody else's engine",
        arxiv_id="2502.00005",
        authors=("A. Lovelace", "Grace Hopper"),
        categories=("cs.AI",),
        published=date(2025, 3, 10),
        source="jsonl",
    ),
]
WEIS = [
    Paper(
        title="Multimodal tutoring",
        arxiv_id="2503.00001",
        authors=("Jingxuan Wei", "Linzhuang Sun", "Bihui Yu"),
        published=date(2025, 3, 1),
        source="jsonl",
    ),
    Paper(
        title="Tutoring with diagrams",
        arxiv_id="2503.00002",
        authors=("JINGXUAN WEI", "Bihui Yu"),
        published=date(2025, 3, 2),
        source="jsonl",
    ),
    Paper(
        title="Sycophancy in language models",
        arxiv_id="2503.00003",
        authors=("Jerry Wei", "Quoc V. Le"),
        published=date(2025, 3, 3),
        source="jsonl",
    ),
    Paper(
        title="Chart questions",
        arxiv_id="2503.00004",
        authors=("J. Wei", "Linzhuang Sun"),
        published=date(2025, 3, 4),
        source="jsonl",
    ),
    Paper(
        title="Unrelated physics",
        arxiv_id="2503.00005",
        authors=("J. Wei", "Hans Bethe"),
        published=date(2025, 3, 5),
        source="jsonl",
    ),
    Paper(
        title="Symbol tuning",
        arxiv_id="2503.00006",
        authors=("Jing-Xuan Wei", "Jason Wei"),
        published=date(2025, 3, 6),
        source="jsonl",
    ),
]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ada Lovelace", "A. Lovelace"),
        ("Ada Lovelace", "ADA LOVELACE"),
        ("Ada Lovelace", "Ádá Lovelace"),
        ("Ada Lovelace", "Lovelace, Ada"),
        ("Jean-Paul Sartre", "J.-P. Sartre"),
        ("Jean-Paul Sartre", "J. P. Sartre"),
        ("Ludwig van Beethoven", "L. van Beethoven"),
        ("Erwin Schrödinger", "E. Schrodinger"),
        ("Ｆｕｌｌ Ｗｉｄｔｈ", "F. Width"),
    ],
)
def test_variants_merge(a: str, b: str) -> None:
    assert author_key(a) == author_key(b) != ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Ada Lovelace", "Bea Lovelace"),
        ("Ada Lovelace", "Ada Byron"),
        ("A. B. Smith", "A. Smith"),
        ("Ludwig van Beethoven", "Ludwig Beethoven"),
    ],
)
def test_different_authors_stay_apart(a: str, b: str) -> None:
    assert author_key(a) != author_key(b)


def test_like_pattern_escapes_and_blurs_vowels() -> None:
    assert like_pattern("Erwin Schrödinger") == "%schr_d_ng_r%"
    assert like_pattern("x 100%_Smith") == "%sm_th%"  # LIKE wildcards in the name are dropped
    assert author_key("") == "" and author_key(" ,. ") == ""


@dataclass(frozen=True)
class _WithAffiliations(Paper):
    affiliations: tuple[tuple[str, ...], ...] = ()


def test_email_domain_rule() -> None:
    p = Paper(title="t", comment="Accepted at X. Contact: ada@cs.lab.example.edu")
    assert au.domain_matches("ada@cs.lab.example.edu", p)
    assert au.domain_matches("ada@lab.example.edu", p)  # a parent domain is named
    assert not au.domain_matches("ada@other.edu", p)
    assert not au.domain_matches(
        "ada@gmail.com", Paper(title="t", comment="mail me at ada@gmail.com")
    )
    assert not au.domain_matches("ada@ample.edu", p)  # not a suffix match inside another name
    aff = _WithAffiliations(title="t", affiliations=(("Stanford University",), ("ETH Zürich",)))
    # a name is not a domain: stanford.xyz would match too (#21 F8), so an administrator decides
    assert not au.domain_matches("ada@cs.stanford.edu", aff)
    assert au.domain_matches(
        "ada@cs.stanford.edu",
        _WithAffiliations(title="t", affiliations=(("Stanford (stanford.edu)",),)),
    )
    assert au.domain_matches(
        "x@ox.ac.uk", _WithAffiliations(title="t", affiliations=(("ox.ac.uk",),))
    )
    assert not au.domain_matches("x@ford.edu", aff)  # "ford" is not a whole word of "Stanford"


def _occ(paper: int, spelling: str, *co: str, claimed_by: str | None = None) -> Occurrence:
    return Occurrence(paper, spelling, co, claimed_by)


def test_identities_never_merge_two_full_first_names() -> None:
    res = identities([_occ(1, "Jingxuan Wei", "Bihui Yu"), _occ(2, "Jerry Wei", "Bihui Yu"),
                      _occ(3, "Jing-Xuan Wei"), _occ(4, "Wei, Jingxuan"), _occ(5, "JINGXUAN WÉI")])
    # a shared co-author does not merge two full names; hyphens, order, case and accents do not part
    # one
    assert res.identity == ["name:jingxuan wei", "name:jerry wei", *["name:jingxuan wei"] * 3]


def test_initials_join_a_full_name_only_with_a_shared_coauthor() -> None:
    base = [_occ(1, "Jingxuan Wei", "Linzhuang Sun"), _occ(2, "Jerry Wei", "Quoc V. Le")]
    joined = identities([*base, _occ(3, "J. Wei", "Linzhuang Sun")])
    assert joined.identity[2] == "name:jingxuan wei" and joined.joined == {2: ["Linzhuang Sun"]}
    alone = identities([*base, _occ(3, "J. Wei", "Hans Bethe")])
    assert alone.identity[2] == "initials:j wei" and not alone.joined
    # one co-author known only by initials is weak evidence: not enough alone, enough twice
    weak = identities(
        [_occ(1, "Jingxuan Wei", "Linzhuang Sun", "Bihui Yu"), _occ(3, "J. Wei", "L. Sun")]
    )
    assert weak.identity[1] == "initials:j wei"
    assert identities([_occ(1, "Jingxuan Wei", "Linzhuang Sun", "Bihui Yu"),
                       _occ(3, "J. Wei", "L. Sun", "B. Yu")]).identity[1] == "name:jingxuan wei"
    # support for both people alike: ambiguous, the initials stay on their own page
    both = identities(
        [
            _occ(1, "Jingxuan Wei", "Ann Co"),
            _occ(2, "Jerry Wei", "Ann Co"),
            _occ(3, "J. Wei", "Ann Co"),
        ]
    )
    assert both.identity[2] == "initials:j wei"
    # a paper that lists both spellings lists two people
    assert identities([_occ(1, "Jingxuan Wei", "J. Wei"), _occ(1, "J. Wei", "Jingxuan Wei"),
                       _occ(2, "Jingxuan Wei", "Jingxuan Wei")]).identity[1] == "initials:j wei"
    # initials that do not fit ("J. X. Wei" has two given names) never join
    assert (
        identities([*base, _occ(3, "J. X. Wei", "Linzhuang Sun")]).identity[2] == "initials:j x wei"
    )


def test_a_confirmed_claim_wins() -> None:
    res = identities(
        [
            _occ(1, "Jingxuan Wei", "Ann Co"),
            _occ(2, "J. Wei", "Hans Bethe", claimed_by="jx"),
            _occ(3, "Jerry Wei", claimed_by="jx"),
            _occ(4, "Jingxuan Wei", claimed_by="jx"),
        ]
    )
    assert res.identity == ["user:jx"] * 4  # the account's own word beats the name rules


def test_name_parsing() -> None:
    n = parse_name("Wei, Jing-Xuan")
    assert n is not None and (n.given, n.family, n.key, n.block, n.initialled) == (
        ("jing", "xuan"), "wei", "jingxuan wei", "j wei", False)
    j = parse_name("J. Wei")
    assert j is not None and j.initialled and j.key == "j wei"
    jerry, jingxuan = parse_name("Jerry Wei"), parse_name("Jingxuan Wei")
    assert jerry is not None and jingxuan is not None
    assert compatible(j, jerry) and not compatible(jerry, jingxuan)
    assert parse_name(" ,. ") is None
    assert display_name(["J. Wei", "J. Wei", "Jingxuan Wei"]) == "Jingxuan Wei"


def test_author_page_keeps_people_apart(seeded: Store) -> None:
    seeded.papers.upsert_papers(WEIS)
    page = au.author_page(seeded, "Jingxuan Wei")
    assert sorted(p.arxiv_id or "" for p in page.papers) == [
        "2503.00001",
        "2503.00002",
        "2503.00004",
        "2503.00006",
    ]
    assert page.name == "Jingxuan Wei" and set(page.also_written) == {
        "JINGXUAN WEI",
        "J. Wei",
        "Jing-Xuan Wei",
    }
    assert page.joined == [("J. Wei", 1, ["Linzhuang Sun"])]
    assert "Jerry Wei" in dict(page.namesakes) and "Jerry Wei" not in {n for n, _ in page.coauthors}
    jerry = au.author_page(seeded, "Jerry Wei")
    assert [p.arxiv_id for p in jerry.papers] == ["2503.00003"] and jerry.also_written == []
    initials = au.author_page(seeded, "J. Wei")
    assert [p.arxiv_id for p in initials.papers] == ["2503.00005"]
    assert initials.elsewhere == [("Jingxuan Wei", 1)]


def test_author_page_merges_spellings(seeded: Store) -> None:
    seeded.papers.upsert_papers(VARIANTS)
    a = seeded.users.create_user("voter", "v@example.org", "x")
    seeded.votes.add_vote(a.id, paper_id(seeded, "2502.00002"))
    page = au.author_page(seeded, "Lovelace, Ada")
    assert page.name in ("Ada Lovelace", "ÁDA LOVELACE")
    assert sorted(p.arxiv_id or "" for p in page.papers) == [
        "2501.00001",
        "2502.00001",
        "2502.00002",
        "2502.00003",
    ]
    assert set(page.variants) == {"Ada Lovelace", "A. Lovelace", "ÁDA LOVELACE"}
    co = dict(page.coauthors)
    assert co.get("Charles Babbage", 0) == 2 and "Alan Turing" in co
    assert dict(page.categories) == {"cs.LG": 2, "cs.CL": 2}
    months = {m: (c, e) for m, c, e in page.upvotes}
    assert (
        months["2025-02"] == (0, 5)
        and months["2025-01"] == (0, 40)
        and sum(c for c, _ in months.values()) == 1
    )
    assert [p.arxiv_id for p in au.author_page(seeded, "Bea Lovelace").papers] == ["2502.00004"]
    # the initialled paper without a shared co-author is not Ada's
    assert [p.arxiv_id for p in au.author_page(seeded, "A. Lovelace").papers] == ["2502.00005"]
    with pytest.raises(NotFound):
        au.author_page(seeded, "Nobody Here")
    with pytest.raises(BadRequest):
        au.author_page(seeded, "  ")


def test_claims(seeded: Store) -> None:
    seeded.papers.upsert_papers(VARIANTS)
    pid = paper_id(seeded, "2502.00001")
    ada = seeded.users.create_user("ada", "ada@lab.example.edu", "x")
    root = seeded.users.set_admin(
        seeded.users.create_user("root", "root@example.org", "x").username
    )
    with pytest.raises(BadRequest, match="not among the paper's authors"):
        au.claim_paper(seeded, ada, pid, "Alan Turing")
    # unverified: the domain rule does not apply, an admin decides
    c = au.claim_paper(seeded, ada, pid, "A. Lovelace")
    assert (c.status, c.method, c.author) == ("pending", "admin", "Ada Lovelace")
    with pytest.raises(Conflict):
        au.claim_paper(seeded, ada, pid, "Ada Lovelace")
    with pytest.raises(Forbidden):
        au.decide_claim(seeded, ada, pid, ada.id, True)
    assert au.decide_claim(seeded, root, pid, ada.id, True).status == "confirmed"
    with pytest.raises(NotFound):
        au.decide_claim(seeded, root, pid, ada.id, False)  # no longer pending
    # verified, and the comment names the domain: confirmed at once
    seeded.comments.mark_email_verified(ada.id, ada.email)
    ada = seeded.users.get_user(ada.id)  # type: ignore[assignment]
    other = paper_id(seeded, "2502.00002")
    # no domain on that paper
    assert au.claim_paper(seeded, ada, other, "A. Lovelace").status == "pending"
    bab = seeded.users.create_user("bab", "cb@lab.example.edu", "x")
    seeded.comments.mark_email_verified(bab.id, bab.email)
    auto = au.claim_paper(seeded, seeded.users.get_user(bab.id), pid, "Charles Babbage")  # type: ignore[arg-type]
    assert (auto.status, auto.method) == ("confirmed", "email-domain")
    assert au.author_page(seeded, "Ada Lovelace").claimed_by == ["ada"]
    # comments on papers you authored reach you
    carol = seeded.users.create_user("carol", "c@example.org", "x")
    ds.post_comment(seeded, carol, pid, "Lovely engine")
    assert [(n.event.why, n.event.comment.author) for n in ds.notifications(seeded, bab)] == [
        ("authored", "carol")
    ]


def test_author_pages_claims_and_submitted_by_on_the_web(settings: Settings, seeded: Store) -> None:
    seeded.papers.upsert_papers(VARIANTS)
    c = make_app(settings, seeded)
    signup(c, "ada")
    pid = paper_id(seeded, "2502.00002")
    page = c.get("/authors/Ada%20Lovelace")
    assert (
        page.status_code == 200
        and "Analytical engines" in page.text
        and "Poetical science" in page.text
    )
    assert "also written as" in page.text and "<th></th>" not in page.text
    initials = c.get("/authors/A.%20Lovelace").text
    assert (
        "Somebody else" in initials
        and "Analytical engines" not in initials
        and 'id="elsewhere"' in initials
    )
    assert 'name="kind" value="author"' in page.text  # follow: the digest's followed authors
    token = page_csrf(c)
    r = c.post(
        "/subscriptions/follow",
        data={"kind": "author", "value": "Ada Lovelace", "csrf_token": token},
    )
    assert r.status_code == 200
    user = seeded.users.get_user_by_name("ada")
    assert user is not None and seeded.subscriptions.followed(user.id, "author") == ["Ada Lovelace"]
    assert "Unfollow Ada Lovelace" in c.get("/authors/ada%20lovelace").text
    assert c.get("/authors/Nobody%20Here").status_code == 404
    api = c.get("/api/v1/authors/Lovelace, Ada").json()
    assert (
        api["paper_count"] == 4
        and {"month": "2025-02", "community": 0, "external": 5} in api["upvotes"]
    )

    paper = c.get(f"/papers/{pid}").text
    assert 'href="/authors/A.%20Lovelace"' in paper and 'id="claim-form"' in paper
    r = c.post(f"/papers/{pid}/claim", data={"author": "A. Lovelace", "csrf_token": token})
    assert r.status_code == 200 and "an administrator will confirm it" in r.text
    assert "You claimed to be A. Lovelace: pending." in c.get(f"/papers/{pid}").text
    bad = c.post(f"/papers/{pid}/claim", data={"author": "Nobody", "csrf_token": token})
    assert bad.status_code == 400 and "not among the paper" in bad.text
    assert c.get("/admin/claims").status_code == 403
    seeded.users.set_admin("ada")
    assert "A. Lovelace" in c.get("/admin/claims").text
    r = c.post(f"/admin/claims/{pid}/{user.id}", data={"decision": "confirm", "csrf_token": token})
    assert r.status_code == 200 and "confirmed" in r.text
    assert "Claimed by" in c.get(f"/papers/{pid}").text

    # submitted by, on the card and the paper page
    seeded.submissions.add_submission(
        user.id, "2502.00003", "done", paper_id=paper_id(seeded, "2502.00003")
    )
    anon = TestClient(c.app)
    home = anon.get("/?day=2025-03-09&period=week").text
    assert 'submitted by <a href="/u/ada">ada</a>' in home
    assert "Submitted by" in anon.get(f"/papers/{paper_id(seeded, '2502.00003')}").text
    # the API claim, by token
    from paperfeed.delivery.web.security import token_hash
    seeded.users.create_token(user.id, "t", token_hash("pf_claim-token-000000000000000000"))
    r = anon.post(
        f"/api/v1/papers/{paper_id(seeded, '2502.00003')}/claims",
        json={"author": "Ada Lovelace"},
        headers={"Authorization": "Bearer pf_claim-token-000000000000000000"},
    )
    assert (
        r.status_code == 201
        and r.json()["status"] == "pending"
        and r.json()["author"] == "ÁDA LOVELACE"
    )


def test_author_pages_on_the_web_keep_people_and_follows_apart(
    settings: Settings, seeded: Store
) -> None:
    seeded.papers.upsert_papers(WEIS)
    c = make_app(settings, seeded)
    signup(c, "reader")
    page = c.get("/authors/Jingxuan%20Wei").text
    # only as a namesake, below the heading facts
    assert "Jerry Wei" not in page.split('id="namesakes"', 1)[0]
    assert "also written as" in page and "Chart questions" in page and "Sycophancy" not in page
    assert (
        'id="joined"' in page
        and "Linzhuang Sun" in page.split('id="joined"', 1)[1].split("</p>", 1)[0]
    )
    token = page_csrf(c)
    c.post(
        "/subscriptions/follow",
        data={"kind": "author", "value": "Jingxuan Wei", "csrf_token": token},
    )
    assert "Unfollow Jingxuan Wei" in c.get("/authors/Wei,%20Jingxuan").text
    # following one Wei follows no other
    assert "Follow Jerry Wei" in c.get("/authors/Jerry%20Wei").text
    initials = c.get("/authors/J.%20Wei").text
    assert "Unfollow" not in initials and "Unrelated physics" in initials
    assert 'href="/authors/Jingxuan%20Wei"' in initials.split('id="elsewhere"', 1)[1]
    api = c.get("/api/v1/authors/Jingxuan Wei").json()
    assert api["paper_count"] == 4 and set(api["also_written_as"]) == {
        "JINGXUAN WEI",
        "J. Wei",
        "Jing-Xuan Wei",
    }
    assert api["joined"] == [
        {"spelling": "J. Wei", "papers": 1, "shared_coauthors": ["Linzhuang Sun"]}
    ]


def test_a_confirmed_claim_puts_initials_and_other_names_on_the_claimants_page(
    seeded: Store,
) -> None:
    seeded.papers.upsert_papers([*WEIS, Paper(title="Before the name change", arxiv_id="2503.00007",
                                       authors=("Jingxuan Smith", "Ann Other"), source="jsonl")])
    jx = seeded.users.create_user("jx", "jx@example.org", "x")
    root = seeded.users.set_admin(
        seeded.users.create_user("root", "root@example.org", "x").username
    )
    for arxiv_id, spelling in (("2503.00005", "J. Wei"), ("2503.00001", "Jingxuan Wei"),
                               ("2503.00007", "Jingxuan Smith")):
        au.claim_paper(seeded, jx, paper_id(seeded, arxiv_id), spelling)
    before = au.author_page(seeded, "Jingxuan Wei")
    assert "2503.00005" not in {p.arxiv_id for p in before.papers}  # pending claims decide nothing
    for arxiv_id in ("2503.00005", "2503.00001", "2503.00007"):
        au.decide_claim(seeded, root, paper_id(seeded, arxiv_id), jx.id, True)
    page = au.author_page(seeded, "Jingxuan Wei")
    assert page.key == "user:jx" and page.claimed_by == ["jx"]
    assert {"2503.00005", "2503.00007", "2503.00001", "2503.00002"} <= {
        p.arxiv_id for p in page.papers
    }
    assert "Jingxuan Smith" in page.also_written
    assert [p.arxiv_id for p in au.author_page(seeded, "Jerry Wei").papers] == ["2503.00003"]
