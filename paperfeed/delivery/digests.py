"""The digest job: compose the due digests, then send the composed ones, exactly once per period.

Two phases, both safe to run in several processes at once and to kill at any point:

1. compose: for each active subscriber whose period is due and has no delivery row yet, insert a
   'composing' row (UNIQUE (user, period) picks one winner), select the papers (new since the
   previous digest's window, never sent before), store them as 'ready' (or 'empty': nothing to
   send) together with the (user, paper) rows that keep a paper out of every later digest.
2. send: claim each 'ready' row ('sending'), build the message from the stored selection, write
   it to SMTP up to the final dot, commit 'data_end', write the dot, and record 'sent' (or
   'retry' / 'failed'). A row whose sender died is recovered by the next run: 'composing' is
   recomposed, 'sending' is resent (the server never saw the dot, so it discarded the message),
   'data_end' becomes 'unconfirmed' and is not resent. See docs/digests.md for the guarantee.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from paperfeed.core.errors import PaperfeedError
from paperfeed.core.models import Paper, User
from paperfeed.core.settings import Settings
from paperfeed.delivery.discussion import discussion_items
from paperfeed.delivery.email.compose import DigestContent, Outgoing, build_message, message_id_for
from paperfeed.delivery.email.mailer import (
    AmbiguousMailError,
    Mailer,
    PermanentMailError,
    TransientMailError,
    open_mailer,
)
from paperfeed.delivery.email.tokens import email_secret
from paperfeed.delivery.groups import run_group_digests
from paperfeed.index.text import analyse
from paperfeed.ranking.digest import (
    CandidatePool,
    Interests,
    Pick,
    SearchSpec,
    current_period,
    digest_window,
    select_digest,
)
from paperfeed.ranking.recommend import (
    Background,
    Example,
    Features,
    Recommendation,
    fit,
    lexical_features,
    top,
    vector_features,
)
from paperfeed.ranking.trending import TrendingParams, reference_time
from paperfeed.store import Store
from paperfeed.store.digests import DigestProfile, DigestSubscription
from paperfeed.store.runs import now_utc

log = logging.getLogger("paperfeed.digest")
COMPOSE_BATCH = 500
SEND_BATCH = 200
MAX_EXAMPLES = 50  # most recent examples per user the recommender learns from
SOURCE_LABEL = {"upvoted": "you upvoted", "collected": "you saved", "more": "you asked for more of"}


@dataclass
class DigestReport:
    """What one run did, with timings."""

    composed: int = 0
    empty: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    unconfirmed: int = 0
    skipped: int = 0
    recovered: dict[str, int] = field(default_factory=dict)
    pool_papers: int = 0
    compose_seconds: float = 0.0
    render_seconds: float = 0.0
    send_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)  # weekly lab digests (delivery/groups.py)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}

    @property
    def summary(self) -> str:
        """One line."""
        line = (f"{self.composed} composed ({self.empty} empty), {self.sent} sent, {self.retry} to retry, "
                f"{self.failed} failed, {self.unconfirmed} unconfirmed, {self.skipped} skipped")
        if any(self.groups.get(k) for k in ("sent", "failed", "retry")):
            line += (f"; lab digests: {self.groups.get('sent', 0)} sent, {self.groups.get('failed', 0)} failed, "
                     f"{self.groups.get('retry', 0)} to retry")
        return line


# ----- who holds a claim ----------------------------------------------------------------------------


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def holder_id() -> str:
    """This process as a claim holder: host, pid and process start time (pids get reused)."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def holder_is_dead(holder: str, claimed_at: datetime | None, lease_seconds: float, now: datetime) -> bool:
    """Whether a claim's holder is gone: a dead process on this host, or a claim older than the lease."""
    host, _, rest = holder.partition(":")
    pid_text, _, started = rest.partition(":")
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid() and started == _start_time(pid):
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        else:
            if started != "0" and _start_time(pid) not in (started, "0"):
                return True  # the pid now belongs to another process
            return bool(started != "0" and _is_zombie(pid))
    return claimed_at is None or now - claimed_at > timedelta(seconds=lease_seconds)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


# ----- features for recommendations -----------------------------------------------------------------


class ExampleCache:
    """Papers referenced as examples (titles for reasons, terms for the lexical model), fetched in bulk."""

    def __init__(self, store: Store, pool: CandidatePool) -> None:
        self.store = store
        self.pool = pool
        self.papers: dict[int, Paper] = {}
        self.terms: dict[int, dict[str, int]] = {}
        self._sparse: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}

    def sparse(self, pid: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The paper's terms over the pool vocabulary (cached)."""
        got = self._sparse.get(pid)
        if got is None:
            got = self._sparse[pid] = self.pool.sparse_terms(self.terms_of(pid))
        return got

    def load(self, ids: Sequence[int]) -> None:
        """Fetch the papers (and their terms) not loaded yet."""
        missing = [i for i in dict.fromkeys(ids) if i not in self.papers]
        for pid in list(missing):
            row = self.pool.row_of.get(pid)
            if row is not None:
                self.papers[pid] = self.pool.papers[row]
                self.terms[pid] = self.pool.terms[row]
                missing.remove(pid)
        if missing:
            self.papers.update(self.store.get_papers(missing))

    def terms_of(self, pid: int) -> dict[str, int]:
        """Analysed term counts of a paper (title counted twice, as the index does)."""
        tf = self.terms.get(pid)
        if tf is None and (row := self.pool.row_of.get(pid)) is not None:
            tf = self.pool.terms[row]
        if tf is None:
            p = self.papers.get(pid)
            tf = {}
            if p is not None:
                for st in analyse(f"{p.title} {p.title} {p.abstract}"):
                    tf[st] = tf.get(st, 0) + 1
            self.terms[pid] = tf
        return tf


@dataclass
class _Space:
    """One feature space with the pool's rows in it, centred once for every user's scoring."""

    features: Features
    background: Background
    pool_index: npt.NDArray[np.int64]  # pool rows that have features in this space
    pool_ids: list[int]
    pool_rows: npt.NDArray[np.float32]
    centred: npt.NDArray[np.float32]


class FeatureSpaces:
    """Vector features where the semantic index has them, the lexical stand-in for the rest."""

    def __init__(self, pool: CandidatePool, examples: ExampleCache, index: Any | None) -> None:
        self.pool = pool
        self.examples = examples
        self.semantic = getattr(index, "semantic", None) if index is not None else None
        self._vec: dict[int, npt.NDArray[np.float32] | None] = {}
        self.vectors: Features | None = None
        self.lexical: Features | None = None
        self.spaces: dict[str, _Space] = {}
        self._df: dict[str, int] = {}
        self._seen: set[int] = set()
        for tf in pool.terms:
            for st in tf:
                self._df[st] = self._df.get(st, 0) + 1

    def _vector(self, pid: int) -> npt.NDArray[np.float32] | None:
        if pid not in self._vec:
            vec = self.semantic.vector(pid) if self.semantic is not None and self.semantic.count() else None
            self._vec[pid] = vec
        return self._vec[pid]

    def prepare(self, example_ids: Sequence[int]) -> None:
        """Build the feature rows of the pool (first call) and of these example papers."""
        new = [pid for pid in dict.fromkeys([*(int(i) for i in self.pool.ids), *example_ids]) if pid not in self._seen]
        if not new:
            return
        self._seen.update(new)
        with_vec = [(pid, v) for pid in new if (v := self._vector(pid)) is not None]
        if with_vec:
            self.vectors = _extend(self.vectors, vector_features([p for p, _ in with_vec],
                                                                 np.stack([v for _, v in with_vec])))
        lex = [pid for pid in new if self._vec.get(pid) is None]
        if lex:
            self.lexical = _extend(self.lexical, lexical_features(
                lex, [self.examples.terms_of(pid) for pid in lex], df=self._df, n_docs=len(self.pool)))
        for feats in (self.vectors, self.lexical):
            if feats is None or feats.space in self.spaces:
                continue
            index = np.asarray([i for i, p in enumerate(self.pool.ids) if int(p) in feats.row_of
                                and (feats.space == "vectors") == (self._vec.get(int(p)) is not None)], dtype=np.int64)
            if not len(index):
                continue
            ids = [int(self.pool.ids[i]) for i in index]
            rows = feats.matrix[[feats.row_of[p] for p in ids]]
            bg = Background(rows)
            self.spaces[feats.space] = _Space(feats, bg, index, ids, rows,
                                              (rows - bg.mean).astype(np.float32))

    def recommend(self, examples: Sequence[Example], allowed: npt.NDArray[np.bool_], k: int) -> list[Recommendation]:
        """Recommendations among the allowed pool papers from both spaces, best first."""
        out: list[Recommendation] = []
        for name, sp in self.spaces.items():
            feats = self.vectors if name == "vectors" else self.lexical
            if feats is None:
                continue
            sel = np.flatnonzero(allowed[sp.pool_index])
            if not len(sel):
                continue
            model = fit(feats, sp.background, examples)
            if model is None:
                continue
            scores = (sp.centred[sel] @ model.w.astype(np.float32)).astype(np.float64)
            out += top(model, name, [sp.pool_ids[i] for i in sel], sp.pool_rows[sel], scores, k)
        out.sort(key=lambda r: -r.score)
        return out[:k]


def _extend(old: Features | None, new: Features) -> Features:
    if old is None:
        return new
    ids = [*old.row_of, *new.row_of]
    return Features(ids, np.vstack([old.matrix, new.matrix]), new.space)


def _examples(prof: DigestProfile) -> list[Example]:
    seen: set[int] = set()
    out: list[Example] = []
    for source, ids in (("less", prof.less), ("more", prof.more), ("upvoted", prof.upvoted),
                        ("collected", prof.collected)):
        for pid in ids:
            if pid not in seen and (source == "less" or len(out) < MAX_EXAMPLES):
                seen.add(pid)
                out.append(Example(pid, source))
    return out


def _quote_title(title: str, limit: int = 70) -> str:
    title = " ".join(title.split())
    return f"“{title if len(title) <= limit else title[:limit].rsplit(' ', 1)[0] + '…'}”"


def _reason(rec: Recommendation, examples: ExampleCache, pool: CandidatePool,
            profile: npt.NDArray[np.float64]) -> str:
    parts = []
    if rec.similar_to:
        by_source: dict[str, list[str]] = {}
        for pid, source in rec.similar_to:
            p = examples.papers.get(pid)
            if p is not None:
                by_source.setdefault(source, []).append(_quote_title(p.title))
        parts.append("; ".join(f"similar to {' and '.join(ts)}, which {SOURCE_LABEL.get(s, 'you liked')}"
                               for s, ts in by_source.items()))
    row = pool.row_of.get(rec.paper_id)
    terms = pool.top_terms(row, profile) if row is not None else ()
    if terms:
        parts.append(f"your topics: {', '.join(terms)}")
    return "; ".join(p for p in parts if p) or "close to papers you liked"


# ----- compose --------------------------------------------------------------------------------------


def _trending_params(settings: Settings) -> TrendingParams:
    return TrendingParams(settings.trending_gravity, settings.trending_offset_hours,
                          settings.trending_external_weight, settings.trending_window_days)


def build_pool(store: Store, settings: Settings, since: datetime | None, now: datetime) -> CandidatePool:
    """The candidate pool: papers first seen in (since, now], with votes and trending scores."""
    papers = store.papers_first_seen(since, now)
    votes = store.vote_counts([p.id for p in papers if p.id is not None]) if papers else {}
    newest = max((p.day for p in papers if p.day), default=None)
    return CandidatePool(papers, votes, reference_time(now, newest), _trending_params(settings))


def select_for(prof: DigestProfile, pool: CandidatePool, spaces: FeatureSpaces | None, examples: ExampleCache,
               start: datetime, now: datetime) -> list[Pick]:
    """One user's picks from the pool for the window (start, now]."""
    sub = prof.subscription
    exclude = prof.sent_recently | set(prof.upvoted) | set(prof.collected) | set(prof.less) | set(prof.more)
    allowed = pool.window_mask(start, now, exclude)
    recs: dict[int, Recommendation] = {}
    ex: list[Example] = []
    if "recommended" in sub.sections and spaces is not None and allowed.any():
        ex = _examples(prof)
        if any(e.source != "less" for e in ex):
            recs = {r.paper_id: r for r in spaces.recommend(ex, allowed, sub.max_papers)}
    interests = Interests(
        searches=[SearchSpec(s.name, s.query, s.category, s.author) for s in prof.searches],
        categories=prof.categories, authors=prof.authors,
    )
    picks = select_digest(pool, interests, allowed, sub.sections, sub.max_papers,
                          [Pick(r.paper_id, "recommended", "", r.score) for r in recs.values()])
    if not any(p.section == "recommended" for p in picks):
        return picks
    # reasons only for the recommendations that made it into the digest
    profile = pool.profile([examples.sparse(e.paper_id) for e in ex if e.source != "less"])
    return [Pick(p.paper_id, p.section, _reason(recs[p.paper_id], examples, pool, profile), p.score)
            if p.section == "recommended" else p for p in picks]


def compose_due(settings: Settings, store: Store, now: datetime, holder: str, report: DigestReport,
                user_ids: Sequence[int] | None = None, index: Any | None = None) -> None:
    """Claim and compose every due digest that has no delivery row yet."""
    started = time.monotonic()
    # No mail but the verification link before the address is confirmed (their window stays open).
    subs = [(u, s) for u, s in store.active_subscribers(user_ids) if u.email_verified]
    periods = {u.id: current_period(s, now, s.weekday) for u, s in subs}
    due = [(u, s) for u, s in subs if periods[u.id].is_due(now)]
    if not due:
        return
    have = store.existing_periods([periods[u.id].key for u, _ in due])
    todo = [(u, s) for u, s in due if (u.id, periods[u.id].key) not in have]
    if not todo:
        return
    won = store.claim_compose([(u.id, periods[u.id].key) for u, _ in todo], holder, now)
    mine = [(u, s) for u, s in todo if u.id in won]
    if not mine:
        return
    floor = now - timedelta(days=settings.digest_max_catchup_days)
    profiles: dict[int, DigestProfile] = {}
    for i in range(0, len(mine), COMPOSE_BATCH):
        profiles.update(store.digest_profiles(mine[i : i + COMPOSE_BATCH], since=floor - timedelta(days=1)))
    windows = {uid: digest_window(p.last_window_end, now, periods[uid], settings.digest_max_catchup_days)
               for uid, p in profiles.items()}
    pool = build_pool(store, settings, min(w[0] for w in windows.values()), now)
    report.pool_papers = len(pool)
    examples = ExampleCache(store, pool)
    wants_recs = any("recommended" in p.subscription.sections for p in profiles.values())
    spaces = FeatureSpaces(pool, examples, index) if wants_recs and len(pool) else None
    uids = [u.id for u, _ in mine]
    talk = discussion_items(store, {uid: windows[uid][0] for uid, p in profiles.items()
                                    if "discussion" in p.subscription.sections}, now)
    for i in range(0, len(uids), COMPOSE_BATCH):
        batch = [profiles[uid] for uid in uids[i : i + COMPOSE_BATCH]]
        ex_ids = [e.paper_id for prof in batch for e in _examples(prof)]
        examples.load(ex_ids)
        if spaces is not None:
            spaces.prepare(ex_ids)
        results = []
        for prof in batch:
            uid = prof.user.id
            start, gap = windows[uid]
            picks = select_for(prof, pool, spaces, examples, start, now)
            key = periods[uid].key
            results.append({
                "delivery_id": won[uid], "user_id": uid, "items": [*talk.get(uid, []), *(p.as_dict() for p in picks)],
                "message_id": message_id_for(settings, won[uid], uid, key), "recipient": prof.user.email,
                "window_start": start, "window_end": now, "gap_days": gap,
            })
        store.finish_compose(results, holder)
        report.composed += sum(1 for r in results if r["items"])
        report.empty += sum(1 for r in results if not r["items"])
    report.compose_seconds += time.monotonic() - started


# ----- send -----------------------------------------------------------------------------------------


def _backoff(settings: Settings, attempts: int) -> timedelta:
    return timedelta(seconds=settings.digest_retry_seconds * 2 ** max(0, attempts - 1))


def send_ready(settings: Settings, store: Store, mailer: Mailer, now: datetime, holder: str, report: DigestReport,
               user_ids: Sequence[int] | None = None, secret: str | None = None) -> None:
    """Send every ready (or due retry) digest once."""
    secret = secret or email_secret(settings)
    report.skipped += store.skip_inactive()
    done: set[int] = set()
    with store.marker() as marker:
        while True:
            rows = [r for r in store.due_deliveries(now, SEND_BATCH, user_ids) if r.id not in done]
            if not rows:
                return
            users = {u.id: u for u, _ in store.active_subscribers(sorted({r.user_id for r in rows}))}
            papers = store.get_papers(sorted({int(it["paper_id"]) for r in rows for it in r.items}))
            for row in rows:
                done.add(row.id)
                user = users.get(row.user_id)
                if user is None or not user.email_verified or not store.claim_send(row.id, holder, now):
                    continue
                t0 = time.monotonic()
                try:
                    out = build_message(settings, secret, DigestContent(
                        user=user, period=row.period, items=row.items, papers=papers, gap_days=row.gap_days,
                        window_start=row.window_start, message_id=row.message_id or ""), now_utc())
                except (PaperfeedError, ValueError, KeyError) as exc:  # a bad address, say: go on with the others
                    store.finish_send(row.id, holder, "failed", f"cannot compose: {exc}")
                    report.failed += 1
                    report.errors.append(f"{user.username}: cannot compose: {exc}")
                    continue
                t1 = time.monotonic()
                report.render_seconds += t1 - t0
                _deliver(settings, store, mailer, marker, holder, row.id, row.attempts + 1, out, user, report, now)
                report.send_seconds += time.monotonic() - t1


def _deliver(settings: Settings, store: Store, mailer: Mailer, marker: Any, holder: str, delivery_id: int,
             attempts: int, out: Outgoing, user: User, report: DigestReport, now: datetime) -> None:
    try:
        mailer.send(out, lambda: marker.mark_data_end(delivery_id, holder))
    except TransientMailError as exc:
        if attempts >= settings.digest_max_attempts:
            store.finish_send(delivery_id, holder, "failed", f"gave up after {attempts} attempts: {exc}")
            report.failed += 1
        else:
            store.finish_send(delivery_id, holder, "retry", str(exc), now + _backoff(settings, attempts))
            report.retry += 1
        report.errors.append(f"{user.username}: {exc}")
    except PermanentMailError as exc:
        store.finish_send(delivery_id, holder, "failed", str(exc))
        report.failed += 1
        report.errors.append(f"{user.username}: {exc}")
    except AmbiguousMailError as exc:
        store.finish_send(delivery_id, holder, "unconfirmed", str(exc))
        report.unconfirmed += 1
        report.errors.append(f"{user.username}: {exc}")
    except LookupError as exc:  # another sender took the row over (we were presumed dead)
        report.errors.append(f"{user.username}: {exc}")
    else:
        store.finish_send(delivery_id, holder, "sent")
        report.sent += 1


def run_digests(settings: Settings, store: Store, mailer: Mailer | None = None, now: datetime | None = None,
                user_ids: Sequence[int] | None = None, index: Any | None = None, compose: bool = True,
                send: bool = True) -> DigestReport:
    """Recover dead claims, compose what is due, send what is ready; return what happened."""
    now = now or now_utc()
    holder = holder_id()
    report = DigestReport()
    report.recovered = store.recover_stale(
        lambda h, at: holder_is_dead(h, at, settings.digest_lease_seconds, now_utc()))
    if compose:
        compose_due(settings, store, now, holder, report, user_ids, index)
    if send:
        own = mailer is None
        active = mailer or open_mailer(settings)
        try:
            send_ready(settings, store, active, now, holder, report, user_ids)
            if user_ids is None:
                report.groups = run_group_digests(settings, store, active, now)
        finally:
            if own:
                active.close()
    return report


def open_index(settings: Settings, store: Store) -> Any | None:
    """The search index when it has vectors (for recommendations), else None."""
    try:
        from paperfeed.index import open_search_index

        index = open_search_index(settings, store, auto_refresh=False)
    except (PaperfeedError, OSError, ValueError) as exc:  # optional: recommendations fall back to words
        log.warning("search index unavailable for digests: %s", exc)
        return None
    return index if index.semantic.count() else None


def preview(settings: Settings, store: Store, user: User, now: datetime | None = None,
            index: Any | None = None) -> tuple[list[Pick], Outgoing | None]:
    """What the user's digest would hold now, composed but neither recorded nor sent."""
    now = now or now_utc()
    sub = store.get_subscription(user.id) or DigestSubscription(user_id=user.id, frequency="daily")
    period = current_period(sub, now, sub.weekday)
    floor = now - timedelta(days=settings.digest_max_catchup_days)
    prof = store.digest_profiles([(user, sub)], since=floor - timedelta(days=1))[user.id]
    start, gap = digest_window(prof.last_window_end, now, period, settings.digest_max_catchup_days)
    pool = build_pool(store, settings, start, now)
    examples = ExampleCache(store, pool)
    ex_ids = [e.paper_id for e in _examples(prof)]
    examples.load(ex_ids)
    spaces = None
    if "recommended" in sub.sections and len(pool):
        spaces = FeatureSpaces(pool, examples, index)
        spaces.prepare(ex_ids)
    picks = select_for(prof, pool, spaces, examples, start, now)
    if "discussion" in sub.sections:
        talk = discussion_items(store, {user.id: start}, now).get(user.id, [])
        picks = [Pick(int(it["paper_id"]), "discussion", it["reason"]) for it in talk] + picks
    if not picks:
        return [], None
    papers = store.get_papers([p.paper_id for p in picks])
    out = build_message(settings, email_secret(settings), DigestContent(
        user=user, period=period.key, items=[p.as_dict() for p in picks], papers=papers, gap_days=gap,
        window_start=start, message_id=message_id_for(settings, 0, user.id, period.key)), now)
    return picks, out
