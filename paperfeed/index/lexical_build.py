"""Bounded-memory builds of a main lexical segment: sorted runs on disk, then a streaming merge.

`lexical.write_segment` builds the whole BM25 matrix in memory (about 50 bytes per token: 7.5 GiB at
a million papers). Here papers are read as a stream and tokenised into runs that fit a memory
ceiling; each run is flushed to disk as immutable postings sorted by term (rows, term frequencies,
per-term counts), and the global statistics (N, document frequencies, document lengths) are
accumulated. A k-way merge then walks the vocabulary in blocks, reads each run's slice of the block,
and writes the scored columns of the final matrix sequentially. Scores use the global statistics
with the same float64 expression as `lexical.bm25_matrix`, so the files are equal, value for value,
to a one-shot build of the same papers (tests/test_index_lexical_build.py).

Runs are merged while tokenising goes on, log-structured: whenever FAN_IN consecutive runs of one
tier exist, a background thread merges them into one run of the next tier (postings with raw term
frequencies, so nothing depends on statistics not known yet), which keeps the final merge's fan-in
small. The old index keeps serving while a build runs (the new segment is swapped in at the end),
and changes after the build go to the small delta segment, as before.
"""

from __future__ import annotations

import array
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

import bm25s
import numpy as np
import numpy.typing as npt

from paperfeed.core.models import Paper
from paperfeed.index.segment import FORMAT, K1, B, Progress, _fsync_dir, text_hash, title_hash
from paperfeed.index.text import TITLE_WEIGHT, author_keys, word_stems, words

DEFAULT_MEMORY_MB = 2048
# BM25 scores of merged postings: (term ids, rows, term frequencies) -> float32 scores
Scorer = Callable[
    [npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.int32]], npt.NDArray[np.float32]
]
_NOT_STOP = (-1).__ne__  # stop words have term id -1 in SegmentBuilder._word_tid
# Bytes of working memory per token while a run is sorted (flat ids, int64 keys, np.unique's
# copy and counts, term order): measured ~56 on numpy 2; 80 leaves headroom.
BYTES_PER_TOKEN = 80
BYTES_PER_TERM = 160  # a vocabulary entry: str object + dict slot + df counter
BYTES_PER_ROW = 48  # per-row arrays kept for the whole build (id, day, hashes, length)
BASELINE_MB = 350  # interpreter, numpy, bm25s: used where the process's own size is unknown
HEADROOM_MB = 96  # allocator slack and the stemmer's cache
MIN_RUN_TOKENS = 1000
FAN_IN = 4  # runs of one tier merged together in the background (log-structured)

IntArray = npt.NDArray[np.int64]


class _Run:
    """One flushed run: file stem and its per-key posting counts."""

    def __init__(
        self, stem: Path, counts: IntArray, kcounts: list[IntArray], tier: int = 0
    ) -> None:
        self.stem = stem
        self.tier = tier  # how many compactions its postings went through
        self.counts = counts  # postings per term id (length = vocabulary size at flush)
        self.kcounts = kcounts  # postings per key of each inverted list (categories, authors)


def _resident_bytes() -> int:
    """This process's resident memory now (what the caller already holds), from /proc."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return BASELINE_MB * 2**20


def _grow(arr: IntArray, size: int) -> IntArray:
    if len(arr) >= size:
        return arr
    out = np.zeros(max(size, 2 * len(arr)), dtype=np.int64)
    out[: len(arr)] = arr
    return out


def _npy_writer(path: Path, dtype: str, n: int) -> tuple[BinaryIO, int]:
    """Create an .npy file for n values and return it open for writing, and its data offset."""
    np.lib.format.open_memmap(path, mode="w+", dtype=np.dtype(dtype), shape=(n,))
    fh = open(path, "r+b")  # noqa: SIM115  # returned open: the caller closes it
    np.lib.format.read_magic(fh)
    np.lib.format.read_array_header_1_0(fh)
    return fh, fh.tell()


def merge_runs(
    runs: list[_Run],
    kind: str,
    run_counts: list[IntArray],
    block: int,
    rows_path: Path,
    *,
    tf_path: Path | None = None,
    data_path: Path | None = None,
    scorer: Scorer | None = None,
    progress: Progress | None = None,
    label: str = "",
) -> IntArray:
    """K-way merge of consecutive runs' postings of one structure, a block of keys at a time.

    Writes the merged rows (and the raw term frequencies to `tf_path`, or their BM25 scores to
    `data_path`) sequentially; returns the merged indptr over the keys.
    """
    n_keys = max((len(c) for c in run_counts), default=0)
    total_counts = np.zeros(n_keys, dtype=np.int64)
    for c in run_counts:
        total_counts[: len(c)] += c
    indptr = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(total_counts, out=indptr[1:])
    nnz = int(indptr[-1])
    run_ptrs = []
    for c in run_counts:
        p = np.zeros(len(c) + 1, dtype=np.int64)
        np.cumsum(c, out=p[1:])
        run_ptrs.append(p)
    want_tf = tf_path is not None or scorer is not None
    outs: list[tuple[BinaryIO, int]] = [_npy_writer(rows_path, "<i4", nnz)]
    if tf_path is not None:
        outs.append(_npy_writer(tf_path, "<i4", nnz))
    if data_path is not None:
        outs.append(_npy_writer(data_path, "<f4", nnz))
    start = 0
    written = 0
    try:
        while start < n_keys:
            # the widest block of keys whose postings fit the budget (at least one key)
            end = int(np.searchsorted(indptr, indptr[start] + block, side="right")) - 1
            end = min(max(end, start + 1), n_keys)
            parts_rows, parts_tf, parts_terms = [], [], []
            for run, p in zip(runs, run_ptrs, strict=False):
                lo, hi = min(start, len(p) - 1), min(end, len(p) - 1)
                a, b = int(p[lo]), int(p[hi])
                if a == b:
                    continue
                r = np.load(f"{run.stem}.{kind}.npy", mmap_mode="r")
                parts_rows.append(np.array(r[a:b]))
                del r  # unmapped at once: the run's pages do not stay resident
                if want_tf:
                    t = np.load(f"{run.stem}.tf.npy", mmap_mode="r")
                    parts_tf.append(np.array(t[a:b]))
                    del t
                parts_terms.append(
                    np.repeat(np.arange(lo, hi, dtype=np.int64), np.diff(p[lo : hi + 1]))
                )
            if parts_rows:
                terms = np.concatenate(parts_terms)
                order = np.argsort(terms, kind="stable")  # runs in order: rows ascending
                rows = np.concatenate(parts_rows)[order]
                blobs = [rows.astype("<i4").tobytes()]
                if want_tf:
                    tf = np.concatenate(parts_tf)[order]
                    if tf_path is not None:
                        blobs.append(tf.astype("<i4").tobytes())
                    if scorer is not None:
                        blobs.append(scorer(terms[order], rows, tf).tobytes())
                for (fh, off), blob in zip(outs, blobs, strict=False):
                    fh.seek(off + 4 * written)
                    fh.write(blob)
                written += len(rows)
            if progress:
                progress(label, end, n_keys)
            start = end
    finally:
        for fh, _ in outs:
            fh.close()
    assert written == nnz, (written, nnz)
    return indptr


class SegmentBuilder:
    """Tokenises papers into memory-bounded runs, then merges them into one segment directory."""

    def __init__(self, directory: Path, *, memory_mb: int = DEFAULT_MEMORY_MB,
                 run_tokens: int | None = None, progress: Progress | None = None) -> None:
        if memory_mb < 64:
            raise ValueError(f"index memory ceiling must be at least 64 MiB, not {memory_mb}")
        directory.mkdir(parents=True, exist_ok=False)
        self.directory = directory
        self.work = directory / "runs"
        self.work.mkdir()
        self.memory_mb = memory_mb
        self.baseline = _resident_bytes() + HEADROOM_MB * 2**20
        self.fixed_run_tokens = run_tokens
        self.progress = progress
        self.vocab: dict[str, int] = {}
        self._word_tid: dict[str, int] = {}  # folded word -> term id, -1 for a stop word
        self.key_vocabs: list[dict[str, int]] = [{}, {}]  # categories, author name words
        self.df = np.zeros(1024, dtype=np.int64)
        self.ids: array.array[int] = array.array("q")
        self.days: array.array[int] = array.array("i")
        self.thash: array.array[int] = array.array("q")
        self.xhash: array.array[int] = array.array("q")
        self.lengths: array.array[int] = array.array("q")
        self.runs: list[_Run] = []
        self.n_tokens = 0
        # runs are compacted in the background, FAN_IN consecutive runs of a tier at a time
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lexical-compact")
        self._compacting: Future[None] | None = None
        self._lock = threading.Lock()
        self._serial = 0
        self.n_flushed = 0
        self.n_compactions = 0
        self._reset_run()

    def _reset_run(self) -> None:
        self.flat: array.array[int] = array.array("i")
        self.offsets: array.array[int] = array.array("q", [0])
        self.run_base = len(self.ids)
        self.pairs: list[tuple[array.array[int], array.array[int]]] = [
            (array.array("i"), array.array("i")) for _ in self.key_vocabs
        ]

    def run_tokens(self) -> int:
        """Tokens the current run may hold before it is flushed, given what the build keeps."""
        if self.fixed_run_tokens is not None:
            return self.fixed_run_tokens
        kept = (self.baseline + len(self.vocab) * BYTES_PER_TERM
                + len(self.ids) * BYTES_PER_ROW)
        free = self.memory_mb * 2**20 - kept
        return max(MIN_RUN_TOKENS, free // BYTES_PER_TOKEN)

    # ----- pass 1: runs ----------------------------------------------------------------------

    def add(self, papers: Iterable[Paper], total: int = 0) -> None:
        """Tokenise papers (ascending ids) into runs, flushing each when it reaches its budget."""
        cats, auths = self.key_vocabs
        (cat_k, cat_r), (au_k, au_r) = self.pairs
        limit = self.run_tokens()
        for p in papers:
            row = len(self.ids)
            tids = self._term_ids(p)
            self.flat.extend(tids)
            self.offsets.append(len(self.flat))
            self.lengths.append(len(tids))
            self.ids.append(int(p.id or 0))
            day = p.day
            self.days.append(day.toordinal() if day else 0)
            self.thash.append(title_hash(p.title))
            self.xhash.append(text_hash(p))
            local = row - self.run_base
            for c in dict.fromkeys(p.categories):
                cat_k.append(cats.setdefault(c, len(cats)))
                cat_r.append(local)
            for a in author_keys(p.authors):
                au_k.append(auths.setdefault(a, len(auths)))
                au_r.append(local)
            if row % 2000 == 0:
                limit = self.run_tokens()
                if self.progress:
                    self.progress("tokenising", row, total)
            if len(self.flat) >= limit:
                self._flush()
                (cat_k, cat_r), (au_k, au_r) = self.pairs

    def _term_ids(self, p: Paper) -> list[int]:
        """The term ids of document_terms(p): each folded word is looked up once per build (a
        C-level map over the words), not stemmed, cached and looked up again per token (3x
        faster)."""
        look = self._word_tid.__getitem__
        parts = []
        for text in (p.title, p.abstract, " ".join(p.authors)):
            ws = words(text)
            try:
                ids = list(map(look, ws))
            except KeyError:
                self._learn(ws)
                ids = list(map(look, ws))
            parts.append(list(filter(_NOT_STOP, ids)))  # C-level, unlike a comprehension
        return parts[0] * TITLE_WEIGHT + parts[1] + parts[2]

    def _learn(self, ws: list[str]) -> None:
        """Give unseen words their term id (-1 for stop words), in first-seen order like
        setdefault."""
        new = [w for w in dict.fromkeys(ws) if w not in self._word_tid]
        vocab = self.vocab
        for w, st in zip(new, word_stems(new), strict=False):
            self._word_tid[w] = vocab.setdefault(st, len(vocab)) if st else -1

    def _flush(self) -> None:
        """Write the current run's postings sorted by term, and fold its counts into df."""
        n_rows = len(self.offsets) - 1
        if n_rows == 0:
            return
        stem = self._stem()
        n_vocab = max(len(self.vocab), 1)
        flat = np.frombuffer(self.flat, dtype=np.int32) if len(self.flat) else np.empty(0, np.int32)
        lengths: IntArray = np.diff(np.frombuffer(self.offsets, dtype=np.int64)).astype(np.int64)
        doc_of = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        key = doc_of * np.int64(n_vocab) + flat.astype(np.int64)
        del doc_of
        self.n_tokens += len(flat)
        self.flat = array.array("i")  # release the token buffer before sorting
        del flat
        uniq, tf = np.unique(key, return_counts=True)
        del key
        terms = uniq % n_vocab
        rows = (uniq // n_vocab + self.run_base).astype(np.int32)
        del uniq
        order = np.argsort(terms, kind="stable")  # rows stay ascending inside each term
        counts = np.bincount(terms, minlength=len(self.vocab)).astype(np.int64)
        del terms
        np.save(f"{stem}.rows.npy", rows[order])
        np.save(f"{stem}.tf.npy", tf[order].astype(np.int32))
        del rows, tf, order
        self.df = _grow(self.df, len(counts))
        self.df[: len(counts)] += counts
        kcounts = []
        for j, ((keys_a, rows_a), vocab) in enumerate(
            zip(self.pairs, self.key_vocabs, strict=False)
        ):
            keys = np.frombuffer(keys_a, dtype=np.int32) if len(keys_a) else np.empty(0, np.int32)
            krows = np.frombuffer(rows_a, dtype=np.int32) if len(rows_a) else np.empty(0, np.int32)
            korder = np.lexsort((krows, keys))
            np.save(f"{stem}.k{j}.npy", (krows[korder] + self.run_base).astype(np.int32))
            kcounts.append(np.bincount(keys, minlength=len(vocab)).astype(np.int64))
        with self._lock:
            self.runs.append(_Run(stem, counts, kcounts))
        self.n_flushed += 1
        self._reset_run()
        self._maybe_compact()

    def close(self) -> None:
        """Wait for a background compaction (its errors ignored) and stop the thread."""
        if self._compacting is not None:
            self._compacting.exception()
        self._pool.shutdown(wait=True)

    def _stem(self) -> Path:
        with self._lock:
            self._serial += 1
            return self.work / f"run{self._serial:05d}"

    def _maybe_compact(self) -> None:
        """Start merging FAN_IN consecutive runs of one tier in the background, if none is
        running."""
        if self._compacting is not None:
            if not self._compacting.done():
                return
            self._compacting.result()  # a failed compaction fails the build
            self._compacting = None
        with self._lock:
            runs = list(self.runs)
        for i in range(len(runs) - FAN_IN + 1):
            group = runs[i : i + FAN_IN]
            if len({r.tier for r in group}) == 1:
                self._compacting = self._pool.submit(self._compact, group)
                return

    def _compact(self, group: list[_Run]) -> None:
        """Merge consecutive runs into one (raw term frequencies kept: scoring needs final
        stats)."""
        stem = self._stem()
        block = max(MIN_RUN_TOKENS, self.run_tokens() // 4)
        counts_ptr = merge_runs(group, "rows", [r.counts for r in group], block,
                                Path(f"{stem}.rows.npy"), tf_path=Path(f"{stem}.tf.npy"))
        kcounts = []
        for j in range(len(self.key_vocabs)):
            kptr = merge_runs(group, f"k{j}", [r.kcounts[j] for r in group], block,
                              Path(f"{stem}.k{j}.npy"))
            kcounts.append(np.diff(kptr))
        merged = _Run(stem, np.diff(counts_ptr), kcounts, tier=group[0].tier + 1)
        with self._lock:
            at = next(i for i, r in enumerate(self.runs) if r is group[0])
            assert self.runs[at : at + len(group)] == group
            self.runs[at : at + len(group)] = [merged]
            self.n_compactions += 1
        for r in group:
            for suffix in ("rows", "tf", *(f"k{j}" for j in range(len(self.key_vocabs)))):
                Path(f"{r.stem}.{suffix}.npy").unlink(missing_ok=True)

    # ----- pass 2: merge ---------------------------------------------------------------------

    def finish(self, extra_meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Flush the last run, merge all runs into the segment files, and write segment.json."""
        self._flush()
        if self._compacting is not None:
            self._compacting.result()
            self._compacting = None
        self._pool.shutdown()
        n_docs = len(self.ids)
        n_vocab = len(self.vocab)
        lengths = np.frombuffer(self.lengths, dtype=np.int64) if n_docs else np.empty(0, np.int64)
        avgdl = float(lengths.mean()) if n_docs else 1.0
        avgdl = max(avgdl, 1e-9)
        df = self.df[:n_vocab]
        # Same float64 expression, same operand order as lexical.bm25_matrix: equal float32 scores.
        idf_of_term = np.log1p(
            (n_docs - df.astype(np.float64) + 0.5) / (df.astype(np.float64) + 0.5)
        )

        def score(
            terms: IntArray, rows: npt.NDArray[np.int32], tf: npt.NDArray[np.int32]
        ) -> npt.NDArray[np.float32]:
            tff = tf.astype(np.float64)
            norm = K1 * ((1 - B) + B * lengths[rows].astype(np.float64) / avgdl)
            return (idf_of_term[terms] * (tff / (norm + tff))).astype("<f4")

        block = max(MIN_RUN_TOKENS, self.run_tokens() // 2)
        counts = [r.counts for r in self.runs] + [np.zeros(n_vocab, dtype=np.int64)]
        indptr = merge_runs(
            self.runs,
            "rows",
            counts,
            block,
            self.directory / "indices.csc.index.npy",
            data_path=self.directory / "data.csc.index.npy",
            scorer=score,
            progress=self.progress,
            label="merging matrix",
        )
        np.save(self.directory / "indptr.csc.index.npy", indptr)
        for j, name in enumerate(("categories", "authors")):
            vocab = self.key_vocabs[j]
            kcounts = [r.kcounts[j] for r in self.runs] + [np.zeros(len(vocab), dtype=np.int64)]
            kptr = merge_runs(
                self.runs,
                f"k{j}",
                kcounts,
                block,
                self.directory / f"{name}_rows.npy",
                progress=self.progress,
                label=f"merging {name}",
            )
            (self.directory / f"{name}.json").write_text(
                json.dumps(list(vocab), ensure_ascii=False), encoding="utf-8"
            )
            np.save(self.directory / f"{name}_indptr.npy", kptr)
        n_runs = self.n_flushed
        shutil.rmtree(self.work)
        self.runs = []
        (self.directory / "vocab.index.json").write_text(json.dumps(self.vocab, ensure_ascii=False),
                                                         encoding="utf-8")
        params = {"k1": K1, "b": B, "delta": 0.5, "method": "lucene", "idf_method": "lucene",
                  "dtype": "float32", "int_dtype": "int32", "num_docs": n_docs,
                  "version": bm25s.__version__, "backend": "numpy"}
        (self.directory / "params.index.json").write_text(json.dumps(params), encoding="utf-8")
        np.save(self.directory / "paper_ids.npy", np.frombuffer(self.ids, dtype=np.int64)
                if n_docs else np.empty(0, np.int64))
        np.save(self.directory / "days.npy", np.frombuffer(self.days, dtype=np.int32)
                if n_docs else np.empty(0, np.int32))
        np.save(self.directory / "title_hashes.npy", np.frombuffer(self.thash, dtype=np.int64)
                if n_docs else np.empty(0, np.int64))
        np.save(self.directory / "text_hashes.npy", np.frombuffer(self.xhash, dtype=np.int64)
                if n_docs else np.empty(0, np.int64))
        np.save(self.directory / "masked_main_rows.npy", np.empty(0, dtype=np.int64))
        meta = {
            "format": FORMAT,
            "n_docs": n_docs,
            "n_vocab": n_vocab,
            "avgdl": avgdl,
            "n_tokens": self.n_tokens,
            "is_delta": False,
            "runs": n_runs,
            "compactions": self.n_compactions,
            "memory_mb": self.memory_mb,
            **(extra_meta or {}),
        }
        (self.directory / "segment.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        _fsync_dir(self.directory)
        return meta


def build_segment(
    papers: Iterable[Paper],
    directory: Path,
    *,
    memory_mb: int = DEFAULT_MEMORY_MB,
    extra_meta: dict[str, Any] | None = None,
    total: int = 0,
    progress: Progress | None = None,
    run_tokens: int | None = None,
) -> dict[str, Any]:
    """Index papers (ascending ids) into a main segment directory within a memory ceiling."""
    builder = SegmentBuilder(directory, memory_mb=memory_mb, run_tokens=run_tokens,
                             progress=progress)
    try:
        builder.add(papers, total)
        return builder.finish(extra_meta)
    except BaseException:
        builder.close()
        shutil.rmtree(directory, ignore_errors=True)
        raise
