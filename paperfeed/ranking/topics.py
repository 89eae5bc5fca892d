"""Emerging topics: cluster recent papers by their vectors, name clusters, rank them by growth.

Pure functions over plain arrays (vectors, texts, days, votes): no store, no files. The job in
`paperfeed.delivery.app.topics` reads the papers and vectors and saves the result.

Growth (documented in README "Emerging topics"): each paper weighs
`w = 1 + vote_weight * ln(1 + local votes + external upvotes)`; a topic's activity in week t is the
sum of its papers' weights, `share_t = (activity_t + 1) / (all activity_t + k)` (Laplace-smoothed
share of the week's activity, so a quiet or half-finished week of arXiv does not look like a
decline), and `growth = log2(mean share over the last `recent_weeks` weeks / mean share over the
weeks before)`. A topic that doubled its share scores 1.0; a stable one 0. Each topic keeps its
weekly share, so the page charts the very measure its growth figure is of, and says which
(`measure`: the share of papers, weighted by upvotes unless vote_weight is 0).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import ConfigError
from paperfeed.index.text import analyse

FloatMatrix = npt.NDArray[np.float32]
NAME_TERMS = 3  # terms in a topic's name
SHARE_OF_PAPERS = "share of papers"
SHARE_WEIGHTED = "share of papers, weighted by upvotes"
MAX_NAME_USES = 2  # no word in more than this many topic names
EXTRA_HINT = "emerging topics need the topics extra: pip install 'paperfeed[topics]'"
# Words that name no topic in an abstract (c-TF-IDF already discounts words common to every
# cluster).
_EXTRA_STOP = frozenset({
    "paper", "propose", "proposed", "proposes", "approach", "approaches", "method", "methods",
    "result", "results", "show", "shows", "using", "use", "used", "based", "new", "novel",
    "work", "study", "studies", "present", "presents", "introduce", "introduces", "demonstrate",
    "achieve", "achieves", "state", "art", "performance", "furthermore", "moreover", "existing",
    "extensive", "experiments", "code", "available", "github", "com", "https", "http", "et",
    "al",
})


@dataclass(frozen=True)
class TopicParams:
    """How topics are found and ranked."""

    clusters: int = 0  # 0: automatic, sqrt(papers / 20) within [2, 60]
    recent_weeks: int = 2  # the weeks whose share is compared with the weeks before
    vote_weight: float = 1.0
    terms: int = 8  # distinctive terms kept per topic (its name takes the best NAME_TERMS of them)
    seed: int = 0


@dataclass(frozen=True)
class Topic:
    """One cluster of recent papers: its name, weekly counts, growth and papers (best first)."""

    id: int
    name: str
    terms: tuple[str, ...]
    growth: float
    papers: int
    votes: int
    weeks: tuple[date, ...]  # Monday of each week, oldest first
    weekly_papers: tuple[int, ...]
    weekly_activity: tuple[float, ...]
    paper_ids: tuple[int, ...]
    # (code, papers listing it), most first
    categories: tuple[tuple[str, int], ...] = field(default=())
    # The measure growth compares, week by week (percent, smoothed as in the formula): the chart
    # shows it.
    weekly_share: tuple[float, ...] = field(default=())
    recent_weeks: int = 0  # how many of the last weeks growth compares with the weeks before
    measure: str = SHARE_OF_PAPERS

    def as_dict(self) -> dict[str, object]:
        """JSON form (topics.json)."""
        return {
            "id": self.id,
            "name": self.name,
            "terms": list(self.terms),
            "growth": self.growth,
            "papers": self.papers,
            "votes": self.votes,
            "weeks": [w.isoformat() for w in self.weeks],
            "weekly_papers": list(self.weekly_papers),
            "weekly_activity": list(self.weekly_activity),
            "paper_ids": list(self.paper_ids),
            "categories": [list(c) for c in self.categories],
            "weekly_share": list(self.weekly_share),
            "recent_weeks": self.recent_weeks,
            "measure": self.measure,
        }

    @staticmethod
    def from_dict(data: dict[str, object]) -> Topic:
        """Read the JSON form back."""

        def ints(key: str) -> tuple[int, ...]:
            raw = data[key]
            assert isinstance(raw, list)
            return tuple(int(x) for x in raw)

        weeks = data["weeks"]
        terms = data["terms"]
        activity = data["weekly_activity"]
        cats = data.get("categories") or []
        share = data.get("weekly_share") or []  # absent in files built before the share was kept
        assert isinstance(weeks, list) and isinstance(terms, list) and isinstance(activity, list)
        assert isinstance(cats, list) and isinstance(share, list)
        return Topic(
            id=int(str(data["id"])),
            name=str(data["name"]),
            terms=tuple(str(t) for t in terms),
            growth=float(str(data["growth"])),
            papers=int(str(data["papers"])),
            votes=int(str(data["votes"])),
            weeks=tuple(date.fromisoformat(str(w)) for w in weeks),
            weekly_papers=ints("weekly_papers"),
            weekly_activity=tuple(float(a) for a in activity),
            paper_ids=ints("paper_ids"),
            categories=tuple((str(c[0]), int(c[1])) for c in cats),
            weekly_share=tuple(float(x) for x in share),
            recent_weeks=int(str(data.get("recent_weeks") or 0)),
            measure=str(data.get("measure") or SHARE_OF_PAPERS),
        )

    def share_of(self, code: str) -> float:
        """Fraction of the topic's papers listed in a category or an archive ('cs' matches
        'cs.CL')."""
        if not self.papers:
            return 0.0
        n = sum(c for cat, c in self.categories if cat == code or cat.startswith(code + "."))
        return min(1.0, n / self.papers)


def week_start(day: date) -> date:
    """The Monday of the ISO week a day falls in."""
    return day - timedelta(days=day.weekday())


def auto_clusters(n: int) -> int:
    """The automatic number of clusters for n papers: sqrt(n / 20) within [2, 60], at most n."""
    return max(1, min(n, max(2, min(60, round(math.sqrt(n / 20))))))


def _sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ConfigError(EXTRA_HINT) from None


def lsa_vectors(texts: Sequence[str], dim: int = 128, seed: int = 0) -> FloatMatrix:
    """TF-IDF + TruncatedSVD (LSA) vectors, L2-normalised: the fallback when papers have no
    embeddings."""
    _sklearn()
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    tfidf = TfidfVectorizer(stop_words="english", min_df=2, max_df=0.5, sublinear_tf=True,
                            dtype=np.float32).fit_transform(texts)
    dim = max(1, min(dim, tfidf.shape[1] - 1, len(texts) - 1))
    reduced = TruncatedSVD(n_components=dim, random_state=seed).fit_transform(tfidf)
    out: FloatMatrix = normalize(reduced).astype(np.float32)
    return out


def cluster(vectors: FloatMatrix, k: int, seed: int = 0) -> npt.NDArray[np.int64]:
    """Cluster label of each row (k-means on L2-normalised vectors; mini-batch above 5,000 rows)."""
    _sklearn()
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.preprocessing import normalize

    x = normalize(np.asarray(vectors, dtype=np.float32))
    k = max(1, min(k, len(x)))
    if len(x) > 5000:
        model: KMeans | MiniBatchKMeans = MiniBatchKMeans(
            n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=4)
    labels: npt.NDArray[np.int64] = model.fit_predict(x).astype(np.int64)
    return labels


def distinctive_terms(texts: Sequence[str], labels: npt.NDArray[np.int64], k: int,
                      top: int = 8) -> list[tuple[str, ...]]:
    """Each cluster's most distinctive terms by class-based TF-IDF against the whole window, best
    first.

    c-TF-IDF (as BERTopic): tf = a term's count in the cluster / the cluster's words, weighted by
    log(1 + mean words per cluster / the term's count over the whole window). The window's own
    frequent words ("models", "data", "learning" in a year of cs papers) score in every cluster, so
    the score is also multiplied by the term's document IDF, log(papers / papers with the term)
    (BERTopic's "reduce frequent words" in spirit). A unigram already inside a chosen bigram, or a
    plural of a chosen word, is skipped ("graph neural, message passing", not "graph, neural";
    "game" once, not "games, game").
    """
    _sklearn()
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    stop = sorted(ENGLISH_STOP_WORDS | _EXTRA_STOP)
    vec = CountVectorizer(stop_words=stop, ngram_range=(1, 2), min_df=2 if len(texts) > 20 else 1,
                          token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9\-]+\b", dtype=np.float32)
    counts = vec.fit_transform(texts)
    vocab = vec.get_feature_names_out()
    onehot = np.zeros((k, len(texts)), dtype=np.float32)
    onehot[labels, np.arange(len(texts))] = 1.0
    per_class = np.asarray((counts.T @ onehot.T).T)  # k x V
    class_words = per_class.sum(axis=1, keepdims=True)
    tf = per_class / np.maximum(class_words, 1.0)
    avg = float(class_words.mean()) or 1.0
    idf = np.log1p(avg / np.maximum(per_class.sum(axis=0), 1.0))
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    doc_idf = np.log((1.0 + len(texts)) / (1.0 + df))
    score = tf * idf * doc_idf
    out: list[tuple[str, ...]] = []
    for c in range(k):
        chosen: list[str] = []
        stems: list[set[str]] = []
        for j in np.argsort(-score[c], kind="stable")[: top * 8]:
            if score[c, j] <= 0:
                break
            term = str(vocab[j])
            # the one text analysis (stemmed): "game" after "games", "graph" beside "graph neural"
            key = set(analyse(term))
            if not key or len(key) < len(term.split()) or any(key <= s or s <= key for s in stems):
                continue
            chosen.append(term)
            stems.append(key)
            if len(chosen) == top:
                break
        out.append(tuple(chosen))
    return out


def topic_names(
    terms: Sequence[Sequence[str]], per_name: int = NAME_TERMS, max_uses: int = MAX_NAME_USES
) -> list[str]:
    """A name per topic from its distinctive terms, best first, with no word in more than `max_uses`
    names.

    Topics are named in turn, the most distinctive first term first; a term with a word (stemmed)
    already in `max_uses` names is passed over for the topic's next term.
    """
    used: Counter[str] = Counter()
    names = [""] * len(terms)
    for c in range(len(terms)):
        picked: list[str] = []
        for term in terms[c]:
            words = set(analyse(term))
            if words and all(used[w] < max_uses for w in words):
                picked.append(term)
                if len(picked) == per_name:
                    break
        for term in picked:
            used.update(set(analyse(term)))
        names[c] = ", ".join(picked) or f"topic {c + 1}"
    return names


def rank_topics(
    vectors: FloatMatrix, texts: Sequence[str], days: Sequence[date], votes: Sequence[float],
    paper_ids: Sequence[int], categories: Sequence[Sequence[str]] = (),
    params: TopicParams | None = None, end: date | None = None,
) -> list[Topic]:
    """Cluster the papers, name each cluster, count it per week and rank by growth (best first).

    All sequences are aligned by paper. `end` is the last day of the window (default: the newest
    day); weeks run Monday..Sunday from the first paper's week to `end`'s week.
    """
    params = params or TopicParams()
    n = len(paper_ids)
    if n == 0:
        return []
    if not (len(vectors) == len(texts) == len(days) == len(votes) == n):
        raise ValueError("vectors, texts, days, votes and paper_ids must have one entry per paper")
    k = params.clusters or auto_clusters(n)
    labels = cluster(vectors, k, params.seed)
    k = int(labels.max()) + 1
    candidates = distinctive_terms(texts, labels, k, max(params.terms, 4 * NAME_TERMS))
    names = topic_names(candidates)
    last = week_start(end or max(days))
    first = week_start(min(days))
    n_weeks = (last - first).days // 7 + 1
    weeks = tuple(first + timedelta(days=7 * i) for i in range(n_weeks))
    week_of = np.asarray([(week_start(d) - first).days // 7 for d in days], dtype=np.int64)
    keep = (week_of >= 0) & (week_of < n_weeks)
    votes_arr = np.asarray(votes, dtype=np.float64)
    weight = 1.0 + params.vote_weight * np.log1p(np.maximum(votes_arr, 0.0))
    paper_grid = np.zeros((k, n_weeks), dtype=np.int64)
    act_grid = np.zeros((k, n_weeks), dtype=np.float64)
    np.add.at(paper_grid, (labels[keep], week_of[keep]), 1)
    np.add.at(act_grid, (labels[keep], week_of[keep]), weight[keep])
    share = (act_grid + 1.0) / (act_grid.sum(axis=0, keepdims=True) + k)
    recent = max(1, min(params.recent_weeks, n_weeks - 1)) if n_weeks > 1 else 1
    if n_weeks > 1:
        growth = np.log2(share[:, -recent:].mean(axis=1) / share[:, :-recent].mean(axis=1))
    else:
        growth = np.zeros(k)
    ids = np.asarray(paper_ids, dtype=np.int64)
    ordinals = np.asarray([d.toordinal() for d in days], dtype=np.int64)
    cats = list(categories) if categories else [()] * n
    topics: list[Topic] = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        if not len(rows):
            continue
        # best papers first: most votes, then newest
        order = rows[np.lexsort((-ids[rows], -ordinals[rows], -votes_arr[rows]))]
        counter: Counter[str] = Counter(code for r in rows for code in dict.fromkeys(cats[r]))
        cat_rows = tuple(
            (code, cnt)
            for code, cnt in sorted(counter.items(), key=lambda x: (-x[1], x[0]))
            if cnt * 20 >= len(rows)
        )[:8]
        terms = candidates[c][: params.terms]
        topics.append(Topic(
            id=0, name=names[c], terms=terms,
            growth=round(float(growth[c]), 4), papers=len(rows), votes=int(votes_arr[rows].sum()),
            weeks=weeks, weekly_papers=tuple(int(x) for x in paper_grid[c]),
            weekly_activity=tuple(round(float(x), 3) for x in act_grid[c]),
            paper_ids=tuple(int(ids[r]) for r in order), categories=cat_rows,
            weekly_share=tuple(round(float(x) * 100, 3) for x in share[c]), recent_weeks=recent,
            measure=SHARE_WEIGHTED if params.vote_weight > 0 else SHARE_OF_PAPERS,
        ))
    topics.sort(key=lambda t: (-t.growth, -t.papers, t.name))
    return [Topic(**{**t.__dict__, "id": i + 1}) for i, t in enumerate(topics)]


def rising_in(topics: Sequence[Topic], categories: Sequence[str], min_share: float = 0.2,
              min_growth: float = 0.0) -> list[tuple[Topic, str]]:
    """Topics growing (growth > min_growth) whose papers are mostly enough (min_share) in one of the
    categories, each with the category it matched, fastest growing first."""
    out: list[tuple[Topic, str]] = []
    for t in sorted(topics, key=lambda t: -t.growth):
        if t.growth <= min_growth:
            continue
        best = max(categories, key=t.share_of, default=None)
        if best is not None and t.share_of(best) >= min_share:
            out.append((t, best))
    return out


def growth_label(growth: float) -> str:
    """Growth as a share change people read: '+100%' for a doubled share, '-50%' for a halved
    one."""
    return f"{(2.0 ** growth - 1.0) * 100:+.0f}%"


def growth_text(topic: Topic) -> str:
    """The growth with the measure it is of: '+41% share of papers' (the chart shows the same
    share)."""
    return f"{growth_label(topic.growth)} {topic.measure}"


def share_means(topic: Topic) -> tuple[float, float] | None:
    """(mean share of the weeks before, mean share of the recent weeks) in percent: growth is log2
    of their ratio."""
    r = topic.recent_weeks
    if not topic.weekly_share or r <= 0 or r >= len(topic.weekly_share):
        return None
    before, recent = topic.weekly_share[:-r], topic.weekly_share[-r:]
    return sum(before) / len(before), sum(recent) / len(recent)
