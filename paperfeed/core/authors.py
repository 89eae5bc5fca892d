"""Author names: the one rule that decides when two spellings are the same person.

Rule (documented in README, "Authors"): a name is folded with Unicode NFKD, combining marks
are dropped, it is case-folded, and punctuation other than the hyphen becomes space. "Family,
Given" is turned round to "Given Family". The last word is the family name and is kept whole
(together with lower-case particles before it: "van", "von", "de", "da", "del", "di", "le", "la");
every given name becomes its initial, a hyphenated given name one initial per part. The key is the
initials, then the family name: "Ada Lovelace", "A. Lovelace", "ADA LOVELACE" and "Ádá Lovelace"
all become "a lovelace"; "Jean-Paul Sartre" and "J.-P. Sartre" become "j p sartre".

So two people who share a family name and initials share a page (the price of merging
initialled variants); a full given name and its initial merge, two different given names with the
same initial do too. Claimed papers (a verified account's own) are the reliable part of a page.
"""

from __future__ import annotations

import re
import unicodedata

PARTICLES = frozenset({"van", "von", "de", "da", "del", "della", "di", "le", "la", "der", "den", "du", "dos", "ter"})
_PUNCT = re.compile(r"[^\w\s-]+")
# Vowels are the letters that most often carry diacritics in stored names: the LIKE prefilter
# matches any character there (a consonant with a diacritic, say Š, is missed by the prefilter).
_ACCENTABLE = set("aeiouy")


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


def author_key(name: str) -> str:
    """The key every spelling of one author shares (see the module docstring); '' for no name."""
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
    """A SQL LIKE pattern (lower case) that the stored JSON author list of each of the author's papers matches.

    Letters that may carry a diacritic in the stored spelling match any one character; a prefilter
    only: callers compare `author_key`s afterwards.
    """
    family = family_name(name)
    escaped = "".join("_" if ch in _ACCENTABLE or not ch.isascii() else ch for ch in family
                      if ch not in "%_\\")
    return f"%{escaped}%"
