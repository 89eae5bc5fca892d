"""Author names: when two spellings are the same person (documented in README, "Authors").

A name is folded with Unicode NFKD, combining marks are dropped, it is case-folded, and punctuation
other than the hyphen becomes space. "Family, Given" is turned round to "Given Family". The last
word is the family name (with lower-case particles before it: "van", "von", "de", ...); the given
names are split into parts at spaces and hyphens, and a one-letter part is an initial.

Identity rules (`identities`), over the papers that share a family name and first initial:

1. Spellings with the same full given names are one person: "Ada Lovelace", "ADA LOVELACE",
   "Ádá Lovelace", "Lovelace, Ada"; hyphens and spaces inside given names do not count
   ("Jing-Xuan Wei" = "Jingxuan Wei").
2. Two different full given names are never merged by the name alone: "Jingxuan Wei" and
   "Jerry Wei" are two pages.
3. A spelling with initials ("J. Wei", "Jean P. Sartre") joins a full name it is compatible with
   (each part equal, or an initial of it) only when the paper supports it: it shares a co-author
   with that person's other papers (one with the same full name, or two with initials; one more
   per 20 names on a long author list, where a shared name is chance), and no other candidate has
   that much support. Otherwise it stays on its own page.
4. A confirmed claim wins: every spelling a verified account confirmed as its own is that account's
   page, whatever rules 1-3 say (a name change, "Bob" and "Robert").

`author_key` (initials + family name) is the old, looser key: the search index's author words and
the prefilter still use the family name.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

PARTICLES = frozenset(
    {"van", "von", "de", "da", "del", "della", "di", "le", "la", "der", "den", "du", "dos", "ter"}
)
_PUNCT = re.compile(r"[^\w\s-]+")
# Vowels are the letters that most often carry diacritics in stored names: the LIKE prefilter
# matches any character there (a consonant with a diacritic, say Š, is missed by the prefilter).
_ACCENTABLE = set("aeiouy")
# A shared co-author with the same full name is strong evidence; one known only by initials is weak.
# On a long author list sharing one co-author is chance: one more is needed per PER_SHARED names.
STRONG, WEAK, NEEDED, PER_SHARED = 1.0, 0.5, 1.0, 20


def fold(text: str) -> str:
    """NFKD, without combining marks, case-folded."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _split(name: str) -> tuple[list[str], list[str]]:
    """(given-name words, family-name words) of a folded name."""
    text = fold(name)
    if "," in text:
        family, _, given = text.partition(",")
        text = f"{given} {family}"
    words = _PUNCT.sub(" ", text).split()
    if not words:
        return [], []
    i = len(words) - 1
    while i > 0 and words[i - 1] in PARTICLES:
        i -= 1
    return words[:i], words[i:]


@dataclass(frozen=True)
class Name:
    """A parsed name: folded given-name parts (an initial is one letter) and the family name."""

    given: tuple[str, ...]
    family: str

    @functools.cached_property
    def initialled(self) -> bool:
        """Whether some given name is only an initial (or there is no given name)."""
        return not self.given or any(len(g) == 1 for g in self.given)

    @functools.cached_property
    def key(self) -> str:
        """The spelling key: full given names run together ("jingxuan wei"), initials apart ("j x
        wei")."""
        if self.initialled:
            return " ".join([*self.given, self.family])
        return f"{''.join(self.given)} {self.family}"

    @functools.cached_property
    def block(self) -> str:
        """First initial and family name: the names that may be one person."""
        return f"{self.given[0][0] if self.given else ''} {self.family}"


@functools.lru_cache(maxsize=65536)
def parse_name(name: str) -> Name | None:
    """The parsed name, or None when it has no words."""
    given, family = _split(name)
    fam = " ".join(w.strip("-") for w in family if w.strip("-"))
    if not fam:
        return None
    parts = tuple(part for word in given for part in word.split("-") if part)
    return Name(parts, fam)


def compatible(a: Name, b: Name) -> bool:
    """Whether two names may be one person: same family, each given part equal or an initial of the
    other."""
    if a.family != b.family or len(a.given) != len(b.given):
        return False
    for x, y in zip(a.given, b.given, strict=True):
        if x != y and not ((len(x) == 1 and y.startswith(x)) or (len(y) == 1 and x.startswith(y))):
            return False
    return True


def author_key(name: str) -> str:
    """The loose key (initials, then the family name: "a lovelace"); '' for no name."""
    given, family = _split(name)
    if not family:
        return ""
    initials = [part[0] for word in given for part in word.split("-") if part]
    fam = " ".join(w.strip("-") for w in family if w.strip("-"))
    return " ".join([*initials, fam]).strip()


def family_name(name: str) -> str:
    """The folded family name of an author ('' for none)."""
    return " ".join(_split(name)[1])


def like_pattern(name: str) -> str:
    """A SQL LIKE pattern (lower case) that the stored JSON author list of each of the author's
    papers matches.

    Letters that may carry a diacritic in the stored spelling match any one character; a prefilter
    only: callers compare parsed names afterwards.
    """
    family = family_name(name)
    escaped = "".join("_" if ch in _ACCENTABLE or not ch.isascii() else ch for ch in family
                      if ch not in "%_\\")
    return f"%{escaped}%"


# ----- identities -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occurrence:
    """One author name on one paper: the spelling, the other authors, and who confirmed it as
    theirs."""

    paper: int
    spelling: str
    coauthors: tuple[str, ...] = ()
    claimed_by: str | None = None  # the username of a confirmed claim on this name of this paper


@dataclass
class Resolution:
    """Which identity each occurrence belongs to, and why an initialled spelling joined one."""

    identity: list[str]  # per occurrence: "name:<key>", "user:<username>" or "initials:<key>"
    # occurrence -> shared co-authors it joined by
    joined: dict[int, list[str]] = field(default_factory=dict)

    def members(self, identity: str) -> list[int]:
        """The occurrences of one identity."""
        return [i for i, ident in enumerate(self.identity) if ident == identity]


class _Union:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # a user's node is the root, so an identity with a claim is named by it
            self.parent[rb if ra.startswith("user:") else ra] = ra if ra.startswith("user:") else rb


def _support(
    names: Sequence[tuple[str, Name]], known: dict[str, set[Name]]
) -> tuple[float, list[str]]:
    """How much the co-authors `names` support an identity whose co-authors are `known` (by
    block)."""
    score, shared = 0.0, []
    for raw, n in names:
        best = 0.0
        for k in known.get(n.block, ()):
            if compatible(n, k):
                best = max(best, STRONG if not n.initialled and n.key == k.key else WEAK)
        if best:
            score += best
            shared.append(raw)
    return score, shared


def identities(occurrences: Sequence[Occurrence]) -> Resolution:
    """Group occurrences of names from one block into people by the rules of the module
    docstring."""
    names = [parse_name(o.spelling) for o in occurrences]
    union = _Union()
    node: list[str | None] = []
    for o, n in zip(occurrences, names, strict=True):
        if o.claimed_by:
            own = f"user:{o.claimed_by}"
            union.find(own)
            if n is not None and not n.initialled:
                union.join(own, f"name:{n.key}")  # the claim wins: the whole full name is theirs
            node.append(own)
        elif n is not None and not n.initialled:
            node.append(union.find(f"name:{n.key}"))
        else:
            node.append(None)
    roots = [union.find(x) if x else None for x in node]
    if all(r is not None for r in roots):
        return Resolution([r for r in roots if r is not None])
    # what each identity is known by: its full spellings, its papers and its co-authors (by block)
    spellings: dict[str, set[Name]] = {}
    on_paper: dict[str, set[int]] = {}
    coauthors: dict[str, dict[str, set[Name]]] = {}
    parsed_co = [
        [(x, c) for x in o.coauthors if (c := parse_name(x)) is not None] for o in occurrences
    ]
    for i, root in enumerate(roots):
        if root is None:
            continue
        n = names[i]
        if n is not None:
            spellings.setdefault(root, set()).add(n)
        on_paper.setdefault(root, set()).add(occurrences[i].paper)
        by_block = coauthors.setdefault(root, {})
        for _, c in parsed_co[i]:
            by_block.setdefault(c.block, set()).add(c)
    out: list[str] = []
    joined: dict[int, list[str]] = {}
    for i, o in enumerate(occurrences):
        root, n = roots[i], names[i]
        if root is not None:
            out.append(root)
            continue
        key = n.key if n is not None else fold(o.spelling)
        scored: list[tuple[float, str, list[str]]] = []
        for cand, spelled in spellings.items():
            if n is None or o.paper in on_paper.get(cand, set()):
                continue  # the same paper naming two spellings lists two people
            if not any(compatible(n, s) for s in spelled):
                continue
            score, shared = _support(parsed_co[i], coauthors.get(cand, {}))
            if score:
                scored.append((score, cand, shared))
        scored.sort(key=lambda s: -s[0])
        needed = max(NEEDED, len(o.coauthors) / PER_SHARED)
        # two people with enough support each: the initials could be either, so neither
        if scored and scored[0][0] >= needed and (len(scored) == 1 or scored[1][0] < NEEDED):
            out.append(scored[0][1])
            joined[i] = scored[0][2]
        else:
            out.append(f"initials:{key}")
    return Resolution(out, joined)


def display_name(spellings: Sequence[str], prefer: str | None = None) -> str:
    """The spelling a page is titled with: the most common full one (else the most common).

    Ties go to the spelling most common once case and accents are ignored, then to `prefer` (the
    spelling asked for), then to one that is not all capitals.
    """
    counts = Counter(spellings)
    folded = Counter(fold(s) for s in spellings)
    full = [s for s in counts if (n := parse_name(s)) is not None and not n.initialled] or list(
        counts
    )
    return min(full, key=lambda s: (-counts[s], -folded[fold(s)], s != prefer, s.isupper()))
