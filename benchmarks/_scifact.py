"""BEIR-layout data sets (SciFact and friends) and their metrics: nDCG@k and Recall@k as BEIR
computes them."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

Corpus = dict[str, tuple[str, str]]  # doc id -> (title, text)
Queries = dict[str, str]  # query id -> text
Qrels = dict[str, dict[str, int]]  # query id -> doc id -> relevance grade
Run = Mapping[str, Sequence[str]]  # query id -> doc ids, best first

SCIFACT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scifact"


def load_beir(directory: Path, split: str = "train") -> tuple[Corpus, Queries, Qrels]:
    """Read corpus.jsonl, queries.jsonl and qrels/<split>.tsv; keep only queries that have qrels."""
    corpus: Corpus = {}
    with (directory / "corpus.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                corpus[str(rec["_id"])] = (rec.get("title") or "", rec.get("text") or "")
    qrels: Qrels = {}
    with (directory / "qrels" / f"{split}.tsv").open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader, None)  # header line
        for row in reader:
            if len(row) >= 3:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries: Queries = {}
    with (directory / "queries.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                if str(rec["_id"]) in qrels:
                    queries[str(rec["_id"])] = rec["text"]
    return corpus, queries, qrels


def _ranked(run: Run, qid: str, k: int) -> list[str]:
    # BEIR drops a document whose id equals the query id (ignore_identical_ids).
    return [d for d in run.get(qid, ()) if d != qid][:k]


def ndcg_at_k(run: Run, qrels: Qrels, k: int = 10) -> float:
    """Mean nDCG@k over the queries in qrels (linear gains, as trec_eval/BEIR)."""
    scores: list[float] = []
    for qid, rels in qrels.items():
        ideal = sorted((g for g in rels.values() if g > 0), reverse=True)[:k]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        if idcg == 0:
            continue
        dcg = sum(
            rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(_ranked(run, qid, k))
        )
        scores.append(dcg / idcg)
    return sum(scores) / len(scores) if scores else 0.0


def recall_at_k(run: Run, qrels: Qrels, k: int = 100) -> float:
    """Mean Recall@k over the queries in qrels: found relevant docs / all relevant docs."""
    scores: list[float] = []
    for qid, rels in qrels.items():
        relevant = {d for d, g in rels.items() if g > 0}
        if not relevant:
            continue
        found = relevant.intersection(_ranked(run, qid, k))
        scores.append(len(found) / len(relevant))
    return sum(scores) / len(scores) if scores else 0.0
