"""Author use cases: the author page (papers, co-authors, categories, upvotes over time) and claims.

Names merge by paperfeed.core.authors.author_key. A claim is confirmed at once when the account's
email address is verified and its domain is named by the paper (rule below); otherwise it waits for
an administrator.

Domain rule (#21 F8): the address's registrable domain, by the Public Suffix List (tldextract with
its bundled list, never downloaded), must be the registrable domain of a host named in the paper's
comment or affiliations: ada@cs.lab.example.edu matches "example.edu" or "cs.lab.example.edu";
evil.ac.uk never matches cam.ac.uk (ac.uk is a public suffix), stanford.xyz never matches
"Stanford University" (names are not domains), and a domain that is itself a public suffix
matches nothing. Free-mail domains (gmail.com, outlook.com, ...) never match. One confirmed
claimant per author of a paper: a second claim of the same name waits for an administrator.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from paperfeed.core.authors import author_key, like_pattern
from paperfeed.core.errors import BadRequest, Forbidden, NotFound
from paperfeed.core.models import Paper, User
from paperfeed.store import Store
from paperfeed.store.authors import Claim, month_key

FREE_MAIL = frozenset({"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com",
                       "proton.me", "protonmail.com", "qq.com", "163.com", "126.com", "live.com", "aol.com",
                       "gmx.de", "gmx.net", "web.de", "mail.ru", "yandex.ru", "example.com"})
_HOST = re.compile(r"(?<![\w.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}(?![\w-])")
MAX_PAPERS = 2000


@dataclass
class AuthorPage:
    """Everything the author page shows."""

    name: str  # the most common spelling
    key: str
    variants: list[str]
    papers: list[Paper]
    coauthors: list[tuple[str, int]]
    categories: list[tuple[str, int]]
    upvotes: list[tuple[str, int, int]]  # (month, community votes cast that month, HF upvotes of papers of that month)
    claimed_by: list[str] = field(default_factory=list)

    @property
    def max_upvotes(self) -> int:
        """The largest monthly total (for the bars)."""
        return max((c + e for _, c, e in self.upvotes), default=0)


def spelling_on(paper: Paper, key: str) -> str | None:
    """The paper's own spelling of the author with this key, if they are on it."""
    for name in paper.authors:
        if author_key(name) == key:
            return name
    return None


def author_page(store: Store, name: str) -> AuthorPage:
    """The author page of a name (every spelling with the same key); NotFound when no paper has them."""
    key = author_key(name[:200])
    if not key:
        raise BadRequest("author: give a name")
    found = [p for p in store.papers_matching_authors(like_pattern(name[:200]), limit=MAX_PAPERS * 5)
             if spelling_on(p, key) is not None][:MAX_PAPERS]
    if not found:
        raise NotFound(f"no papers by {name!r} here")
    spellings = Counter(s for p in found if (s := spelling_on(p, key)) is not None)
    display = spellings.most_common(1)[0][0]
    co: Counter[str] = Counter()
    co_names: dict[str, Counter[str]] = {}
    cats: Counter[str] = Counter()
    for p in found:
        for other in p.authors:
            k = author_key(other)
            if k and k != key:
                co[k] += 1
                co_names.setdefault(k, Counter())[other] += 1
        if p.primary_category:
            cats[p.primary_category] += 1
    ids = [p.id for p in found if p.id is not None]
    community = store.votes_by_month(ids)
    external: Counter[str] = Counter()
    for p in found:
        if p.day and p.external_upvotes:
            external[month_key(p.day)] += p.external_upvotes
    months = sorted(set(community) | set(external))
    claims = store.confirmed_claims(ids)
    claimed = sorted({c.username for cs in claims.values() for c in cs if author_key(c.author) == key})
    return AuthorPage(
        name=display, key=key, variants=[s for s, _ in spellings.most_common()], papers=found,
        coauthors=[(co_names[k].most_common(1)[0][0], n) for k, n in co.most_common(30)],
        categories=cats.most_common(), upvotes=[(m, community.get(m, 0), external.get(m, 0)) for m in months],
        claimed_by=claimed,
    )


def author_json(page: AuthorPage) -> dict[str, Any]:
    """The API's representation of an author."""
    return {
        "name": page.name, "key": page.key, "variants": page.variants, "paper_count": len(page.papers),
        "papers": [{"id": p.id, "arxiv_id": p.arxiv_id, "title": p.title, "day": p.day.isoformat() if p.day else None}
                   for p in page.papers[:200]],
        "coauthors": [{"name": n, "papers": c} for n, c in page.coauthors],
        "categories": [{"code": c, "papers": n} for c, n in page.categories],
        "upvotes": [{"month": m, "community": c, "external": e} for m, c, e in page.upvotes],
        "claimed_by": page.claimed_by,
    }


# ----- claims -------------------------------------------------------------------------------------


def _texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _texts(v)


@lru_cache(maxsize=1)
def _extractor() -> Any:
    import tldextract

    # the list bundled with the package (no download, no cache files); private suffixes such as
    # github.io count, so alice.github.io and bob.github.io are different sites
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


def registrable_domain(host: str) -> str | None:
    """The registrable domain of a host by the Public Suffix List (None for a public suffix itself)."""
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
    """Claim to be `author` on the paper: confirmed at once by the email-domain rule, else pending."""
    paper = store.get_papers([paper_id]).get(paper_id)
    if paper is None:
        raise NotFound(f"no paper {paper_id}")
    key = author_key(author[:200])
    listed = spelling_on(paper, key) if key else None
    if listed is None:
        raise BadRequest(f"author: {author!r} is not among the paper's authors ({', '.join(paper.authors[:10])})")
    auto = user.email_verified and domain_matches(user.email, paper)
    if auto and any(c.author == listed and c.status == "confirmed" and c.user_id != user.id
                    for c in store.claims(paper_id=paper_id)):
        auto = False  # one confirmed claimant per author: an administrator decides a second one
    return store.add_claim(paper_id, user.id, listed, "confirmed" if auto else "pending",
                           "email-domain" if auto else "admin")


def decide_claim(store: Store, admin: User, paper_id: int, user_id: int, confirm: bool) -> Claim:
    """An administrator confirms or rejects a pending claim."""
    if not admin.is_admin:
        raise Forbidden("only administrators may decide claims")
    return store.decide_claim(paper_id, user_id, "confirmed" if confirm else "rejected")


def claim_json(c: Claim) -> dict[str, Any]:
    """The API's representation of a claim."""
    return {"paper_id": c.paper_id, "username": c.username, "author": c.author, "status": c.status,
            "method": c.method, "created_at": c.created_at.isoformat(),
            "decided_at": c.decided_at.isoformat() if c.decided_at else None}
