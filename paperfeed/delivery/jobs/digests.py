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
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from paperfeed.core.errors import PaperfeedError
from paperfeed.core.models import User
from paperfeed.core.settings import Settings
from paperfeed.delivery.app.alerts import alert_items
from paperfeed.delivery.app.comments import discussion_items
from paperfeed.delivery.app.labs import run_group_digests
from paperfeed.delivery.app.listing import trending_params
from paperfeed.delivery.app.topics import load_topics
from paperfeed.delivery.jobs.digest_features import (
    ExampleCache,
    FeatureSpaces,
    VectorSource,
    examples_of,
    reason_for,
)
from paperfeed.delivery.jobs.digest_runs import (
    DigestReport,
    StepProgress,
    holder_id,
    holder_is_dead,
)
from paperfeed.delivery.jobs.digest_send import send_ready
from paperfeed.delivery.mail.compose import DigestContent, Outgoing, build_message, message_id_for
from paperfeed.delivery.mail.mailer import Mailer, open_mailer
from paperfeed.delivery.mail.tokens import email_secret
from paperfeed.index import SearchIndex, open_search_index
from paperfeed.ranking.digest import (
    CandidatePool,
    Interests,
    Pick,
    SearchSpec,
    current_period,
    digest_window,
    select_digest,
)
from paperfeed.ranking.recommend import Example, Recommendation
from paperfeed.ranking.topics import Topic
from paperfeed.ranking.trending import reference_time
from paperfeed.store import Store
from paperfeed.store.digests import ComposedDigest, DigestProfile, DigestSubscription
from paperfeed.store.runs import now_utc

__all__ = [
    "DigestReport",
    "compose_due",
    "holder_id",
    "open_index",
    "preview",
    "run_digests",
    "send_ready",
]

log = logging.getLogger("paperfeed.digest")
COMPOSE_BATCH = 500


def build_pool(
    store: Store, settings: Settings, since: datetime | None, now: datetime
) -> CandidatePool:
    """The candidate pool: papers first seen in (since, now], with votes and trending scores."""
    papers = store.deliveries.papers_first_seen(since, now)
    votes = store.votes.vote_counts([p.id for p in papers if p.id is not None]) if papers else {}
    newest = max((p.day for p in papers if p.day), default=None)
    return CandidatePool(papers, votes, reference_time(now, newest), trending_params(settings))


def select_for(
    prof: DigestProfile,
    pool: CandidatePool,
    spaces: FeatureSpaces | None,
    examples: ExampleCache,
    start: datetime,
    now: datetime,
    index: SearchIndex | None,
    rising: Sequence[Topic] = (),
    rising_share: float = 0.2,
) -> list[Pick]:
    """One user's picks from the pool for the window (start, now]; `rising`: the built topics."""
    sub = prof.subscription
    exclude = (
        prof.sent_recently
        | set(prof.upvoted)
        | set(prof.collected)
        | set(prof.less)
        | set(prof.more)
    )
    allowed = pool.window_mask(start, now, exclude)
    recs: dict[int, Recommendation] = {}
    ex: list[Example] = []
    if "recommended" in sub.sections and spaces is not None and allowed.any():
        ex = examples_of(prof)
        if any(e.source != "less" for e in ex):
            recs = {r.paper_id: r for r in spaces.recommend(ex, allowed, sub.max_papers)}
    interests = Interests(
        searches=[SearchSpec(s.name, s.query, s.category, s.author) for s in prof.searches],
        categories=prof.categories, authors=prof.authors,
    )
    picks = select_digest(
        pool,
        interests,
        allowed,
        sub.sections,
        sub.max_papers,
        [Pick(r.paper_id, "recommended", "", r.score) for r in recs.values()],
        index=index,
        rising=rising,
        rising_share=rising_share,
    )
    if not any(p.section == "recommended" for p in picks):
        return picks
    # reasons only for the recommendations that made it into the digest
    profile = pool.profile([examples.sparse(e.paper_id) for e in ex if e.source != "less"])
    return [
        Pick(p.paper_id, p.section, reason_for(recs[p.paper_id], examples, pool, profile), p.score)
        if p.section == "recommended"
        else p
        for p in picks
    ]


def compose_due(settings: Settings, store: Store, now: datetime, holder: str, report: DigestReport,
                user_ids: Sequence[int] | None = None, index: SearchIndex | None = None,
                progress: StepProgress | None = None) -> None:
    """Claim and compose every due digest that has no delivery row yet.

    Saved searches run on `index` (opened and refreshed here when not given: this is a job).
    """
    started = time.monotonic()
    # No mail but the verification link before the address is confirmed (their window stays open).
    subs = [(u, s) for u, s in store.subscriptions.active_subscribers(user_ids) if u.email_verified]
    periods = {u.id: current_period(s, now, s.weekday) for u, s in subs}
    due = [(u, s) for u, s in subs if periods[u.id].is_due(now)]
    if not due:
        return
    have = store.deliveries.existing_periods([periods[u.id].key for u, _ in due])
    todo = [(u, s) for u, s in due if (u.id, periods[u.id].key) not in have]
    if not todo:
        return
    won = store.deliveries.claim_compose([(u.id, periods[u.id].key) for u, _ in todo], holder, now)
    mine = [(u, s) for u, s in todo if u.id in won]
    if not mine:
        return
    floor = now - timedelta(days=settings.digest_max_catchup_days)
    profiles: dict[int, DigestProfile] = {}
    for i in range(0, len(mine), COMPOSE_BATCH):
        profiles.update(
            store.deliveries.digest_profiles(
                mine[i : i + COMPOSE_BATCH], since=floor - timedelta(days=1)
            )
        )
    windows = {
        uid: digest_window(p.last_window_end, now, periods[uid], settings.digest_max_catchup_days)
        for uid, p in profiles.items()
    }
    if index is None:
        index = open_index(settings, store)
    composer = Composer(settings, store, profiles, windows, now, index)
    report.pool_papers = len(composer.pool)
    uids = [u.id for u, _ in mine]
    for i in range(0, len(uids), COMPOSE_BATCH):
        composed = composer.compose([profiles[uid] for uid in uids[i : i + COMPOSE_BATCH]])
        results = []
        for uid, items in composed.items():
            start, gap = windows[uid]
            results.append(
                ComposedDigest(
                    delivery_id=won[uid],
                    user_id=uid,
                    items=items,
                    message_id=message_id_for(settings, won[uid], uid, periods[uid].key),
                    recipient=profiles[uid].user.email,
                    window_start=start,
                    window_end=now,
                    gap_days=gap,
                )
            )
        store.deliveries.finish_compose(results, holder)
        report.composed += sum(1 for r in results if r.items)
        report.empty += sum(1 for r in results if not r.items)
        if progress:
            progress("composing digests", min(i + COMPOSE_BATCH, len(uids)), len(uids))
    report.compose_seconds += time.monotonic() - started


class Composer:
    """Composes digests: what the users of one run share (pool, examples, vectors, topics), then
    each one's items.

    The one place a digest is composed: compose_due stores what it returns, preview shows it unsent.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        profiles: Mapping[int, DigestProfile],
        windows: Mapping[int, tuple[datetime, int]],
        now: datetime,
        index: SearchIndex | None,
    ) -> None:
        self.settings, self.store, self.windows, self.now, self.index = (
            settings,
            store,
            windows,
            now,
            index,
        )
        self.pool = build_pool(store, settings, min(w[0] for w in windows.values()), now)
        self.examples = ExampleCache(store, self.pool)
        wants_recs = any("recommended" in p.subscription.sections for p in profiles.values())
        self.spaces = (
            FeatureSpaces(self.pool, self.examples, _vectors(index))
            if wants_recs and len(self.pool)
            else None
        )
        self.rising = _rising(settings, profiles.values())
        self.talk = discussion_items(store, {uid: windows[uid][0] for uid, p in profiles.items()
                                             if "discussion" in p.subscription.sections}, now)
        self.news = alert_items(store, {uid: windows[uid][0] for uid, p in profiles.items()
                                        if "alerts" in p.subscription.sections}, now)

    def compose(self, batch: Sequence[DigestProfile]) -> dict[int, list[dict[str, object]]]:
        """Each user's digest items, in the order they are shown: alerts, discussion, then the
        picks."""
        ex_ids = [e.paper_id for prof in batch for e in examples_of(prof)]
        self.examples.load(ex_ids)
        if self.spaces is not None:
            self.spaces.prepare(ex_ids)
        out: dict[int, list[dict[str, object]]] = {}
        for prof in batch:
            uid = prof.user.id
            picks = select_for(
                prof,
                self.pool,
                self.spaces,
                self.examples,
                self.windows[uid][0],
                self.now,
                self.index,
                self.rising,
                self.settings.topics_rising_share,
            )
            out[uid] = [
                *self.news.get(uid, []),
                *self.talk.get(uid, []),
                *(p.as_dict() for p in picks),
            ]
        return out


def run_digests(
    settings: Settings,
    store: Store,
    mailer: Mailer | None = None,
    now: datetime | None = None,
    user_ids: Sequence[int] | None = None,
    index: SearchIndex | None = None,
    compose: bool = True,
    send: bool = True,
    progress: StepProgress | None = None,
) -> DigestReport:
    """Recover dead claims, compose what is due, send what is ready; return what happened."""
    now = now or now_utc()
    holder = holder_id()
    report = DigestReport()
    report.recovered = store.deliveries.recover_stale(
        lambda h, at: holder_is_dead(h, at, settings.digest_lease_seconds, now_utc()))
    if compose:
        compose_due(settings, store, now, holder, report, user_ids, index, progress)
    if send:
        own = mailer is None
        active = mailer or open_mailer(settings)
        try:
            send_ready(settings, store, active, now, holder, report, user_ids, progress=progress)
            if user_ids is None:
                report.groups = run_group_digests(settings, store, active, now)
        finally:
            if own:
                active.close()
    return report


def open_index(settings: Settings, store: Store) -> SearchIndex | None:
    """The search index, refreshed to the store (a job may write it); None when it cannot be had.

    Without it saved searches and followed authors find nothing; recommendations fall back to words.
    """
    try:
        index = open_search_index(settings, store)
        index.refresh()
    except (PaperfeedError, OSError, ValueError) as exc:
        log.warning("search index unavailable for digests: %s", exc)
        return None
    return index


def _rising(settings: Settings, profiles: Iterable[DigestProfile]) -> tuple[Topic, ...]:
    """The built topics when some digest wants the "rising" section (topics.json read once per
    run)."""
    if not any("rising" in p.subscription.sections and p.categories for p in profiles):
        return ()
    built = load_topics(settings)
    return built.topics if built else ()


def _vectors(index: SearchIndex | None) -> VectorSource | None:
    return index.semantic if index is not None and index.semantic.count() else None


def preview(settings: Settings, store: Store, user: User, now: datetime | None = None,
            index: SearchIndex | None = None) -> tuple[list[Pick], Outgoing | None]:
    """What the user's digest would hold now, composed but neither recorded nor sent."""
    now = now or now_utc()
    sub = store.subscriptions.get_subscription(user.id) or DigestSubscription(
        user_id=user.id, frequency="daily"
    )
    period = current_period(sub, now, sub.weekday)
    floor = now - timedelta(days=settings.digest_max_catchup_days)
    prof = store.deliveries.digest_profiles([(user, sub)], since=floor - timedelta(days=1))[user.id]
    window = digest_window(prof.last_window_end, now, period, settings.digest_max_catchup_days)
    start, gap = window
    items = Composer(settings, store, {user.id: prof}, {user.id: window}, now, index).compose(
        [prof]
    )[user.id]
    picks = [Pick(int(str(it["paper_id"])), str(it["section"]), str(it["reason"])) for it in items]
    if not picks:
        return [], None
    papers = store.papers.get_papers([p.paper_id for p in picks])
    out = build_message(settings, email_secret(settings), DigestContent(
        user=user, period=period.key, items=items, papers=papers, gap_days=gap,
        window_start=start, message_id=message_id_for(settings, 0, user.id, period.key)), now)
    return picks, out
