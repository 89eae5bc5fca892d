"""Author use cases: the author page (papers, co-authors, categories, upvotes over time) and claims.

Which spellings are one person: paperfeed.core.authors (identities). A claim is confirmed at once
when the account's email address is verified and its domain is named by the paper (rule below);
otherwise it waits for an administrator.

Domain rule (#21 F8): the address's registrable domain, by the Public Suffix List (tldextract with
its bundled list, never downloaded), must be the registrable domain of a host named in the paper's
comment or affiliations: ada@cs.lab.example.edu matches "example.edu" or "cs.lab.example.edu";
evil.ac.uk never matches cam.ac.uk (ac.uk is a public suffix), stanford.xyz never matches "Stanford
University" (names are not domains), and a domain that is itself a public suffix matches nothing.
Free-mail domains (gmail.com, outlook.com, ...) never match. One confirmed claimant per author of a
paper: a second claim of the same name waits for an administrator.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from paperfeed.core.authors import (
    Occurrence,
    compatible,
    display_name,
    identities,
    like_pattern,
    parse_name,
)
from paperfeed.core.errors import BadRequest, Forbidden, NotFound
from paperfeed.core.models import Paper, User
from paperfeed.store import Store
from paperfeed.store.authors import Claim, month_key

if TYPE_CHECKING:  # imported on first use: the Public Suffix List takes a moment to load
    import tldextract

FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "163.com",
        "126.com",
        "live.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "example.com",
    }
)
_HOST = re.compile(
    r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}(?![\w-])"
)
MAX_PAPERS = 2000


@dataclass
class AuthorPage:
    """Everything the author page shows."""

    name: str  # the most common full spelling
    key: str  # the identity ("name:<key>", "user:<username>", "initials:<key>")
    variants: list[str]  # every spelling on the page, most common first
    papers: list[Paper]
    coauthors: list[tuple[str, int]]
    categories: list[tuple[str, int]]
    # (month, community votes cast that month, HF upvotes of papers of that month)
    upvotes: list[tuple[str, int, int]]
    claimed_by: list[str] = field(default_factory=list)
    # spelling keys that name this page (following any of them follows it)
    keys: frozenset[str] = frozenset()
    # (initialled spelling, papers, shared co-authors)
    joined: list[tuple[str, int, list[str]]] = field(default_factory=list)
    # this spelling's papers on other pages
    elsewhere: list[tuple[str, int]] = field(default_factory=list)
    # other people with the same initial and family
    namesakes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def max_upvotes(self) -> int:
        """The largest monthly total (for the bars)."""
        return max((c + e for _, c, e in self.upvotes), default=0)

    @property
    def also_written(self) -> list[str]:
        """The other spellings of this person."""
        return [v for v in self.variants if v != self.name]


def listed_as(paper: Paper, name: str) -> str | None:
    """The paper's spelling of a name: the same spelling key, else the one compatible author (None
    if not one)."""
    asked = parse_name(name)
    if asked is None:
        return None
    parsed = [(a, n) for a in paper.authors if (n := parse_name(a)) is not None]
    exact = [a for a, n in parsed if n.key == asked.key]
    if exact:
        return exact[0]
    close = [a for a, n in parsed if compatible(asked, n)]
    return close[0] if len(close) == 1 else None


def _occurrences(papers: Iterable[Paper], block: str) -> list[Occurrence]:
    out = []
    for p in papers:
        for i, name in enumerate(p.authors):
            parsed = parse_name(name)
            if parsed is not None and parsed.block == block and p.id is not None:
                out.append(
                    Occurrence(p.id, name, tuple(a for j, a in enumerate(p.authors) if j != i))
                )
    return out


def _with_claims(store: Store, occ: list[Occurrence], papers: dict[int, Paper]) -> list[Occurrence]:
    """Occurrences marked with their confirmed claims, plus the claimants' own papers under other
    names."""
    claims = store.authors.confirmed_claims(sorted({o.paper for o in occ}))
    marked, users = [], set()
    for o in occ:
        key = (n.key if (n := parse_name(o.spelling)) else None)
        who = next(
            (c for c in claims.get(o.paper, ()) if (m := parse_name(c.author)) and m.key == key),
            None,
        )
        marked.append(replace(o, claimed_by=who.username) if who else o)
        if who:
            users.add(who.user_id)
    have = {(o.paper, o.spelling) for o in marked}
    extra = [c for u in sorted(users) for c in store.authors.claims(status="confirmed", user_id=u)
             if (c.paper_id, c.author) not in have]
    papers.update(store.papers.get_papers([c.paper_id for c in extra if c.paper_id not in papers]))
    for c in extra:
        if (p := papers.get(c.paper_id)) is not None and c.author in p.authors:
            marked.append(
                Occurrence(
                    c.paper_id, c.author, tuple(a for a in p.authors if a != c.author), c.username
                )
            )
    return marked


def author_page(store: Store, name: str) -> AuthorPage:
    """The author page of a name (the person it names, by the rules of paperfeed.core.authors);
    NotFound when none."""
    asked = parse_name(name[:200])
    if asked is None:
        raise BadRequest("author: give a name")
    candidates = store.authors.papers_matching_authors(
        like_pattern(name[:200]), limit=MAX_PAPERS * 5
    )
    papers = {p.id: p for p in candidates if p.id is not None}
    occ = _with_claims(store, _occurrences(candidates, asked.block), papers)
    res = identities(occ)
    keys = [(n.key if (n := parse_name(o.spelling)) else "") for o in occ]
    same = [i for i, k in enumerate(keys) if k == asked.key]
    if not same:
        raise NotFound(f"no papers by {name!r} here")
    ident = f"initials:{asked.key}" if asked.initialled else res.identity[same[0]]
    members = res.members(ident)
    groups: dict[str, list[str]] = {}
    for i, o in enumerate(occ):
        groups.setdefault(res.identity[i], []).append(o.spelling)
    elsewhere = Counter(res.identity[i] for i in same if res.identity[i] != ident)
    namesakes = Counter(
        res.identity[i]
        for i in range(len(occ))
        if res.identity[i] not in (ident, *elsewhere)
        and not res.identity[i].startswith("initials:")
    )
    found = [papers[pid] for pid in dict.fromkeys(occ[i].paper for i in members)][:MAX_PAPERS]
    spellings = Counter(occ[i].spelling for i in members)
    joined: dict[str, tuple[int, list[str]]] = {}
    for i in members:
        if i in res.joined:
            n_before, shared = joined.get(occ[i].spelling, (0, []))
            joined[occ[i].spelling] = (
                n_before + 1,
                [*shared, *(s for s in res.joined[i] if s not in shared)],
            )
    page = _facts(store, found, {keys[i] for i in members})
    return replace(
        page,
        name=display_name([occ[i].spelling for i in members], name[:200])
        if members
        else name[:200],
        key=ident,
        variants=[s for s, _ in spellings.most_common()],
        claimed_by=sorted({c for i in members if (c := occ[i].claimed_by)}),
        keys=frozenset(
            keys[i] for i in members if not (occ[i].claimed_by is None and i in res.joined)
        ),
        joined=[(s, n, shared[:5]) for s, (n, shared) in joined.items()],
        elsewhere=[(display_name(groups[g]), n) for g, n in elsewhere.most_common()],
        namesakes=[(display_name(groups[g]), n) for g, n in namesakes.most_common(8)],
    )


def _facts(store: Store, found: list[Paper], own_keys: set[str]) -> AuthorPage:
    """Co-authors, categories and upvotes per month of a person's papers."""
    co: Counter[str] = Counter()
    co_names: dict[str, Counter[str]] = {}
    cats: Counter[str] = Counter()
    for p in found:
        for other in p.authors:
            n = parse_name(other)
            if n is not None and n.key not in own_keys:
                co[n.key] += 1
                co_names.setdefault(n.key, Counter())[other] += 1
        if p.primary_category:
            cats[p.primary_category] += 1
    ids = [p.id for p in found if p.id is not None]
    community = store.authors.votes_by_month(ids)
    external: Counter[str] = Counter()
    for p in found:
        if p.day and p.external_upvotes:
            external[month_key(p.day)] += p.external_upvotes
    months = sorted(set(community) | set(external))
    return AuthorPage(
        name="",
        key="",
        variants=[],
        papers=found,
        coauthors=[(co_names[k].most_common(1)[0][0], n) for k, n in co.most_common(30)],
        categories=cats.most_common(),
        upvotes=[(m, community.get(m, 0), external.get(m, 0)) for m in months],
    )


def author_json(page: AuthorPage) -> dict[str, Any]:
    """The API's representation of an author."""
    return {
        "name": page.name,
        "key": page.key,
        "variants": page.variants,
        "also_written_as": page.also_written,
        "paper_count": len(page.papers),
        "papers": [
            {
                "id": p.id,
                "arxiv_id": p.arxiv_id,
                "title": p.title,
                "day": p.day.isoformat() if p.day else None,
            }
            for p in page.papers[:200]
        ],
        "coauthors": [{"name": n, "papers": c} for n, c in page.coauthors],
        "categories": [{"code": c, "papers": n} for c, n in page.categories],
        "upvotes": [{"month": m, "community": c, "external": e} for m, c, e in page.upvotes],
        "claimed_by": page.claimed_by,
        "joined": [
            {"spelling": s, "papers": n, "shared_coauthors": co} for s, n, co in page.joined
        ],
        "elsewhere": [{"name": n, "papers": c} for n, c in page.elsewhere],
        "namesakes": [{"name": n, "papers": c} for n, c in page.namesakes],
    }


# ----- claims -------------------------------------------------------------------------------------


def _texts(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _texts(v)


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    import tldextract

    # the list bundled with the package (no download, no cache files); private suffixes such as
    # github.io count, so alice.github.io and bob.github.io are different sites
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def registrable_domain(host: str) -> str | None:
    """The registrable domain of a host by the Public Suffix List (None for a public suffix
    itself)."""
    found = _extractor()(host.strip().lower().rstrip("."))
    if not found.domain or not found.suffix:
        return None
    return f"{found.domain}.{found.suffix}"


def domain_matches(email: str, paper: Paper) -> bool:
    """Whether the address's registrable domain is named by the paper's comment or affiliations."""
    domain = email.rpartition("@")[2].strip().lower().rstrip(".")
    mine = registrable_domain(domain) if "." in domain else None
    if mine is None or mine in FREE_MAIL or domain in FREE_MAIL:
        return False
    texts = [(paper.comment or "").lower()]
    texts += [t.lower() for t in _texts(getattr(paper, "affiliations", None) or ())]
    return any(registrable_domain(m.group(0)) == mine for t in texts for m in _HOST.finditer(t))


def claim_paper(store: Store, user: User, paper_id: int, author: str) -> Claim:
    """Claim to be `author` on the paper: confirmed at once by the email-domain rule, else
    pending."""
    paper = store.papers.get_papers([paper_id]).get(paper_id)
    if paper is None:
        raise NotFound(f"no paper {paper_id}")
    listed = listed_as(paper, author[:200])
    if listed is None:
        raise BadRequest(
            f"author: {author!r} is not among the paper's authors ({', '.join(paper.authors[:10])})"
        )
    auto = user.email_verified and domain_matches(user.email, paper)
    if auto and any(c.author == listed and c.status == "confirmed" and c.user_id != user.id
                    for c in store.authors.claims(paper_id=paper_id)):
        auto = False  # one confirmed claimant per author: an administrator decides a second one
    return store.authors.add_claim(paper_id, user.id, listed, "confirmed" if auto else "pending",
                           "email-domain" if auto else "admin")


def decide_claim(store: Store, admin: User, paper_id: int, user_id: int, confirm: bool) -> Claim:
    """An administrator confirms or rejects a pending claim."""
    if not admin.is_admin:
        raise Forbidden("only administrators may decide claims")
    return store.authors.decide_claim(paper_id, user_id, "confirmed" if confirm else "rejected")


def claim_json(c: Claim) -> dict[str, Any]:
    """The API's representation of a claim."""
    return {"paper_id": c.paper_id, "username": c.username, "author": c.author, "status": c.status,
            "method": c.method, "created_at": c.created_at.isoformat(),
            "decided_at": c.decided_at.isoformat() if c.decided_at else None}
