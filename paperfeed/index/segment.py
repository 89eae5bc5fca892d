"""BM25 segments in bm25s's file format: writing and loading one segment (main or delta).

Reads over a main and a delta segment together are paperfeed.index.lexical.LexicalIndex.

A segment directory holds bm25s's eager score matrix (`data/indices/indptr.csc.index.npy`,
`vocab.index.json`, `params.index.json`, loadable with `bm25s.BM25.load(dir, mmap=True)`), plus per-
row arrays (paper id, day, title hash, text hash) and two small inverted lists (categories, author
name words) used for filters. The matrix is computed here with vectorised numpy using bm25s's Lucene
formula (tested equal to `bm25s.BM25.index`), because bm25s's own builder keeps every token as a
Python object and needs several GB at a million papers.

A delta segment is scored with the main segment's statistics (N, document frequencies, average
length) so its scores are comparable to the main segment's; it masks main rows whose paper changed.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import bm25s
import numpy as np
import numpy.typing as npt

from paperfeed.core.models import Paper, normalise_title
from paperfeed.index.text import author_keys, document_terms

K1, B = 1.5, 0.75
FORMAT = 1
Progress = Callable[[str, int, int], None]  # (stage, done, total)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]


def _hash64(text: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little", signed=True
    )


def title_hash(title: str) -> int:
    """A stable 64-bit hash of a title's normalised form (equal titles share it)."""
    return _hash64(normalise_title(title))


def text_hash(p: Paper) -> int:
    """A stable 64-bit hash of everything a segment stores about a paper."""
    blob = json.dumps(
        [
            p.title,
            p.abstract,
            list(p.authors),
            list(p.categories),
            p.day.isoformat() if p.day else None,
        ],
        ensure_ascii=False,
    )
    return _hash64(blob)


def bm25_matrix(
    flat: npt.NDArray[np.int32],
    offsets: IntArray,
    n_vocab: int,
    *,
    df: IntArray | None = None,
    n_docs_stat: int | None = None,
    avgdl: float | None = None,
    k1: float = K1,
    b: float = B,
) -> tuple[FloatArray, npt.NDArray[np.int32], IntArray, IntArray, float]:
    """Eager BM25 (Lucene variant) scores as CSC arrays (data, indices, indptr), the df and avgdl
    used.

    `df`, `n_docs_stat` and `avgdl` default to this corpus's own; a delta passes the main segment's.
    """
    n_docs = len(offsets) - 1
    lengths = np.diff(offsets)
    if avgdl is None:
        avgdl = float(lengths.mean()) if n_docs else 1.0
    avgdl = max(avgdl, 1e-9)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    key = doc_of * np.int64(max(n_vocab, 1)) + flat.astype(np.int64)
    del doc_of
    uniq, tf = np.unique(key, return_counts=True)
    del key
    docs = (uniq // max(n_vocab, 1)).astype(np.int32)
    terms = (uniq % max(n_vocab, 1)).astype(np.int64)
    del uniq
    own_df = np.bincount(terms, minlength=n_vocab).astype(np.int64)
    if df is None:
        df = own_df
    n_stat = n_docs if n_docs_stat is None else n_docs_stat
    dfv = df[terms].astype(np.float64)
    idf = np.log1p((n_stat - dfv + 0.5) / (dfv + 0.5))
    del dfv
    tff = tf.astype(np.float64)
    norm = k1 * ((1 - b) + b * lengths[docs].astype(np.float64) / avgdl)
    scores = (idf * (tff / (norm + tff))).astype(np.float32)
    del idf, tff, norm
    order = np.argsort(terms, kind="stable")  # stable: rows stay ascending inside each column
    data = scores[order]
    indices = docs[order]
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(own_df, out=indptr[1:])
    return data, indices, indptr, df, avgdl


@dataclass
class _Inverted:
    """key -> ascending rows, as a vocabulary plus CSR arrays."""

    vocab: dict[str, int]
    indptr: IntArray
    rows: npt.NDArray[np.int32]

    def get(self, key: str) -> npt.NDArray[np.int32]:
        i = self.vocab.get(key)
        if i is None:
            return np.empty(0, dtype=np.int32)
        return self.rows[self.indptr[i] : self.indptr[i + 1]]

    def keys(self) -> list[str]:
        return list(self.vocab)


def _build_inverted(
    pairs_key: array.array[int], pairs_row: array.array[int], vocab: dict[str, int]
) -> _Inverted:
    keys = np.frombuffer(pairs_key, dtype=np.int32) if len(pairs_key) else np.empty(0, np.int32)
    rows = np.frombuffer(pairs_row, dtype=np.int32) if len(pairs_row) else np.empty(0, np.int32)
    order = np.lexsort((rows, keys))
    counts = np.bincount(keys, minlength=len(vocab)).astype(np.int64)
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return _Inverted(vocab, indptr, rows[order].copy())


def _save_inverted(inv: _Inverted, directory: Path, name: str) -> None:
    (directory / f"{name}.json").write_text(
        json.dumps(list(inv.vocab), ensure_ascii=False), encoding="utf-8"
    )
    np.save(directory / f"{name}_indptr.npy", inv.indptr)
    np.save(directory / f"{name}_rows.npy", inv.rows)


def _plain(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A plain ndarray view of a (memory-mapped) array: np.memmap's slicing costs ~2 us a call in
    Python (__getitem__, __array_finalize__), several times a query per term.

    The view keeps the map alive through its base.
    """
    return arr.view(np.ndarray) if isinstance(arr, np.memmap) else arr


def _load(path: Path, mode: Literal["r"] | None) -> npt.NDArray[Any]:
    return _plain(np.load(path, mmap_mode=mode))


def _load_inverted(directory: Path, name: str, mmap: bool) -> _Inverted:
    keys = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    mode: Literal["r"] | None = "r" if mmap else None
    return _Inverted(
        {k: i for i, k in enumerate(keys)},
        _load(directory / f"{name}_indptr.npy", mode),
        _load(directory / f"{name}_rows.npy", mode),
    )


@dataclass
class Segment:
    """One loaded segment: score matrix, vocabulary, per-row arrays and filter lists."""

    path: Path
    meta: dict[str, Any]
    vocab: dict[str, int]
    data: FloatArray
    indices: npt.NDArray[np.int32]
    indptr: IntArray
    paper_ids: IntArray
    days: npt.NDArray[np.int32]
    title_hashes: IntArray
    text_hashes: IntArray
    categories: _Inverted
    authors: _Inverted
    masked_main_rows: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    @property
    def n_docs(self) -> int:
        """Rows in this segment."""
        return len(self.paper_ids)

    def column(self, term: str) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """Rows holding a term and their BM25 scores (empty when the term is unknown)."""
        i = self.vocab.get(term)
        if i is None or i + 1 >= len(self.indptr):
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float32)
        s, e = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.indices[s:e], self.data[s:e]

    def df(self) -> IntArray:
        """Document frequency of each vocabulary id (the column lengths)."""
        return np.diff(np.asarray(self.indptr)).astype(np.int64)


def _tokenise(
    papers: Iterable[Paper], vocab: dict[str, int], progress: Progress | None, total: int
) -> tuple[dict[str, Any], list[int]]:
    """Turn papers into flat term ids and per-row arrays; extends `vocab` in place."""
    flat: array.array[int] = array.array("i")
    offsets: array.array[int] = array.array("q", [0])
    ids: array.array[int] = array.array("q")
    days: array.array[int] = array.array("i")
    thash: array.array[int] = array.array("q")
    xhash: array.array[int] = array.array("q")
    cat_vocab: dict[str, int] = {}
    auth_vocab: dict[str, int] = {}
    cat_k: array.array[int] = array.array("i")
    cat_r: array.array[int] = array.array("i")
    au_k: array.array[int] = array.array("i")
    au_r: array.array[int] = array.array("i")
    setdefault = vocab.setdefault
    lengths: list[int] = []
    for row, p in enumerate(papers):
        terms = document_terms(p.title, p.abstract, p.authors)
        n = len(vocab)
        tids = []
        for t in terms:
            tid = setdefault(t, n)
            if tid == n:
                n += 1
            tids.append(tid)
        flat.extend(tids)
        offsets.append(len(flat))
        lengths.append(len(tids))
        ids.append(int(p.id or 0))
        day = p.day
        days.append(day.toordinal() if day else 0)
        thash.append(title_hash(p.title))
        xhash.append(text_hash(p))
        for c in dict.fromkeys(p.categories):
            cat_k.append(cat_vocab.setdefault(c, len(cat_vocab)))
            cat_r.append(row)
        for a in author_keys(p.authors):
            au_k.append(auth_vocab.setdefault(a, len(auth_vocab)))
            au_r.append(row)
        if progress and row % 2000 == 0:
            progress("tokenising", row, total)
    parts = {
        "flat": np.frombuffer(flat, dtype=np.int32) if len(flat) else np.empty(0, np.int32),
        "offsets": np.frombuffer(offsets, dtype=np.int64),
        "ids": np.frombuffer(ids, dtype=np.int64) if len(ids) else np.empty(0, np.int64),
        "days": np.frombuffer(days, dtype=np.int32) if len(days) else np.empty(0, np.int32),
        "thash": np.frombuffer(thash, dtype=np.int64) if len(thash) else np.empty(0, np.int64),
        "xhash": np.frombuffer(xhash, dtype=np.int64) if len(xhash) else np.empty(0, np.int64),
        "cats": _build_inverted(cat_k, cat_r, cat_vocab),
        "authors": _build_inverted(au_k, au_r, auth_vocab),
    }
    return parts, lengths


def write_segment(
    papers: Sequence[Paper] | Iterable[Paper],
    directory: Path,
    *,
    base: Segment | None = None,
    masked_main_rows: Sequence[int] = (),
    extra_meta: dict[str, Any] | None = None,
    total: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Index papers into a new segment directory; with `base`, a delta scored by base's
    statistics."""
    directory.mkdir(parents=True, exist_ok=False)
    vocab: dict[str, int] = {}
    parts, _ = _tokenise(papers, vocab, progress, total)
    if progress:
        progress("scoring", 0, 1)
    n_vocab = len(vocab)
    if base is not None:
        # a delta has its own small vocabulary but the main segment's statistics
        own = np.zeros(n_vocab, dtype=np.int64)
        if len(parts["flat"]):
            rows = np.repeat(
                np.arange(len(parts["offsets"]) - 1, dtype=np.int64), np.diff(parts["offsets"])
            )
            pairs = np.unique(rows * n_vocab + parts["flat"].astype(np.int64))
            own = np.bincount(pairs % n_vocab, minlength=n_vocab).astype(np.int64)
        base_df = base.df()
        df = own.copy()
        for term, i in vocab.items():
            j = base.vocab.get(term)
            if j is not None and j < len(base_df):
                df[i] += base_df[j]
        n_stat = int(base.meta["n_docs"]) + (len(parts["offsets"]) - 1)
        data, indices, indptr, _, avgdl = bm25_matrix(
            parts["flat"],
            parts["offsets"],
            n_vocab,
            df=df,
            n_docs_stat=n_stat,
            avgdl=float(base.meta["avgdl"]),
        )
    else:
        data, indices, indptr, _, avgdl = bm25_matrix(parts["flat"], parts["offsets"], n_vocab)
    np.save(directory / "data.csc.index.npy", data)
    np.save(directory / "indices.csc.index.npy", indices)
    np.save(directory / "indptr.csc.index.npy", indptr)
    n_docs = len(parts["ids"])
    (directory / "vocab.index.json").write_text(
        json.dumps(vocab, ensure_ascii=False), encoding="utf-8"
    )
    params = {
        "k1": K1,
        "b": B,
        "delta": 0.5,
        "method": "lucene",
        "idf_method": "lucene",
        "dtype": "float32",
        "int_dtype": "int32",
        "num_docs": n_docs,
        "version": bm25s.__version__,
        "backend": "numpy",
    }
    (directory / "params.index.json").write_text(json.dumps(params), encoding="utf-8")
    np.save(directory / "paper_ids.npy", parts["ids"])
    np.save(directory / "days.npy", parts["days"])
    np.save(directory / "title_hashes.npy", parts["thash"])
    np.save(directory / "text_hashes.npy", parts["xhash"])
    np.save(
        directory / "masked_main_rows.npy",
        np.asarray(sorted(set(masked_main_rows)), dtype=np.int64),
    )
    _save_inverted(parts["cats"], directory, "categories")
    _save_inverted(parts["authors"], directory, "authors")
    meta = {
        "format": FORMAT,
        "n_docs": n_docs,
        "n_vocab": n_vocab,
        "avgdl": avgdl,
        "n_tokens": len(parts["flat"]),
        "is_delta": base is not None,
        **(extra_meta or {}),
    }
    (directory / "segment.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    _fsync_dir(directory)
    return meta


def _fsync_dir(directory: Path) -> None:
    for f in directory.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def load_segment(directory: Path, mmap: bool = True) -> Segment:
    """Load a segment; the matrix through bm25s.BM25.load (memory-mapped by default)."""
    meta = json.loads((directory / "segment.json").read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise ValueError(
            f"index segment {directory} has format {meta.get('format')}, expected {FORMAT}"
        )
    model = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False)
    mode: Literal["r"] | None = "r" if mmap else None
    scores = model.scores
    return Segment(
        path=directory,
        meta=meta,
        vocab=model.vocab_dict,
        data=_plain(scores["data"]),
        indices=_plain(scores["indices"]),
        indptr=_plain(scores["indptr"]),
        paper_ids=np.load(directory / "paper_ids.npy"),
        days=_load(directory / "days.npy", mode),
        title_hashes=_load(directory / "title_hashes.npy", mode),
        text_hashes=_load(directory / "text_hashes.npy", mode),
        categories=_load_inverted(directory, "categories", mmap),
        authors=_load_inverted(directory, "authors", mmap),
        masked_main_rows=np.load(directory / "masked_main_rows.npy"),
    )


def idf_of(segment: Segment, term: str) -> float:
    """The Lucene idf of a term in a segment (0 when unknown)."""
    i = segment.vocab.get(term)
    if i is None:
        return 0.0
    n = int(segment.meta["n_docs"])
    df = int(segment.indptr[i + 1] - segment.indptr[i])
    return math.log1p((n - df + 0.5) / (df + 0.5))
