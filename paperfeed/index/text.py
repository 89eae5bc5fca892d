"""Text analysis shared by indexing and querying: words, English stop words, Snowball stems."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

# runs of two or more word characters (the \b anchors of r"\b\w\w+\b" add nothing: the run is
# greedy) - a third faster without them
_WORD = re.compile(r"\w\w+")
_STOP = frozenset(STOPWORDS_EN)
_STEMMER = Stemmer.Stemmer("english")
# word -> stem ("" for a stop word); vocabularies of real corpora are small enough to keep
_CACHE: dict[str, str] = {}
_CACHE_LIMIT = 2_000_000

TITLE_WEIGHT = 2  # title tokens are repeated this many times in the indexed text


def fold(text: str) -> str:
    """Casefold and strip accents so 'Schölkopf' and 'scholkopf' meet."""
    text = text.casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words (two characters or more) of a text, in order, stop words kept."""
    return _WORD.findall(fold(text))


def word_stems(items: Sequence[str]) -> list[str]:
    """The stem of each folded word, "" for a stop word (aligned with items)."""
    missing = [w for w in items if w not in _CACHE]
    if missing:
        if len(_CACHE) > _CACHE_LIMIT:
            _CACHE.clear()
        uniq = list(dict.fromkeys(missing))
        for w, s in zip(uniq, _STEMMER.stemWords(uniq), strict=False):
            _CACHE[w] = "" if w in _STOP else s
    return [_CACHE[w] for w in items]


def stem_words(items: Sequence[str]) -> list[str]:
    """Stems of folded words, with stop words dropped."""
    out: list[str] = []
    word_stems([w for w in items if w not in _CACHE])
    for w in items:
        s = _CACHE[w]
        if s:
            out.append(s)
    return out


def analyse(text: str) -> list[str]:
    """Index terms of a text: folded words, stop words removed, stemmed."""
    return stem_words(words(text))


def is_stop_word(word: str) -> bool:
    """Whether a folded word is an English stop word."""
    return word in _STOP


def document_terms(title: str, abstract: str, authors: Iterable[str]) -> list[str]:
    """The terms a paper is indexed under: title (weighted by repetition), abstract, author
    names."""
    title_terms = analyse(title)
    terms = title_terms * TITLE_WEIGHT
    terms += analyse(abstract)
    terms += analyse(" ".join(authors))
    return terms


def term_counts(title: str, abstract: str, authors: Iterable[str] = ()) -> dict[str, int]:
    """How often each index term occurs in a paper (document_terms, counted)."""
    tf: dict[str, int] = {}
    for st in document_terms(title, abstract, authors):
        tf[st] = tf.get(st, 0) + 1
    return tf


def author_keys(authors: Iterable[str]) -> list[str]:
    """Folded name words of all authors (for author: filters), unstemmed, without duplicates."""
    seen: dict[str, None] = {}
    for name in authors:
        for w in _WORD.findall(fold(name)):
            seen[w] = None
    return list(seen)
