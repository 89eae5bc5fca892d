"""The digest job end to end, through a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import date

from paperfeed.core.settings import Settings
from paperfeed.delivery.jobs.digests import open_index, preview, run_digests
from paperfeed.delivery.mail.mailer import SMTPMailer
from paperfeed.store import Store
from tests._digest_fixtures import SinkHandler, add_user, at, smtp_settings, topic_papers
from tests._mail import body_of


def _seed(store: Store) -> None:
    store.papers.upsert_papers(
        topic_papers("diffusion", 20, 0, date(2026, 3, 1))
        + topic_papers("language", 20, 100, date(2026, 3, 1)),
        now=at("2026-03-01"),
    )
    store.papers.upsert_papers(
        topic_papers("diffusion", 8, 200, date(2026, 3, 10))
        + topic_papers("language", 8, 300, date(2026, 3, 10))
        + topic_papers("robots", 8, 400, date(2026, 3, 10)),
        now=at("2026-03-10", 3),
    )


def _ids(msg_text: str) -> list[str]:
    return [
        line.rsplit("/", 1)[1]
        for line in msg_text.splitlines()
        if "/papers/" in line and "feedback" not in line
    ]


def test_digest_sent_once_with_new_papers_only(
    store: Store, settings: Settings, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    s = smtp_settings(settings, port)
    _seed(store)
    alice = add_user(store, "alice")
    store.subscriptions.add_saved_search(alice.id, "diffusion", name="Diffusion")
    store.subscriptions.follow(alice.id, "category", "cs.RO")
    bob = add_user(store, "bob", max_papers=5)
    store.subscriptions.follow(bob.id, "author", "shared person")
    carol = add_user(store, "carol")
    store.subscriptions.add_saved_search(carol.id, "quantum gravity")  # matches nothing: no digest
    store.subscriptions.save_subscription(carol.id, sections=("searches",))

    early = run_digests(s, store, now=at("2026-03-10", 6))
    assert early.composed == 0 and not sink.received  # 07:00 not reached yet
    report = run_digests(s, store, now=at("2026-03-10", 8))
    assert report.sent == 2 and report.empty == 1, report
    by = sink.by_recipient()
    assert set(by) == {"alice@example.org", "bob@example.org"}
    msg = by["alice@example.org"][0].message
    text = body_of(msg)
    assert "saved search “Diffusion”" in text and "cs.RO" in text
    ids = _ids(text)
    assert len(ids) == len(set(ids)) > 0  # each paper once across sections
    assert len(_ids(body_of(by["bob@example.org"][0].message))) == 5

    # Same period again: nothing more. Next day without new papers: nothing sent (empty).
    again = run_digests(s, store, now=at("2026-03-10", 12))
    assert again.composed == 0 and again.sent == 0
    nextday = run_digests(s, store, now=at("2026-03-11", 8))
    assert nextday.sent == 0 and nextday.empty == 3
    assert len(sink.received) == 2

    # New papers the day after: only those come, never one already sent.
    store.papers.upsert_papers(
        topic_papers("diffusion", 5, 500, date(2026, 3, 12)), now=at("2026-03-12", 2)
    )
    run_digests(s, store, now=at("2026-03-12", 8))
    later = sink.by_recipient()["alice@example.org"]
    assert len(later) == 2
    new_ids = _ids(body_of(later[1].message))
    assert new_ids and not set(new_ids) & set(ids)
    log = store.deliveries.delivery_log(user_id=alice.id)
    assert [d.status for d in log] == ["sent", "empty", "sent"]


def test_gap_catches_up_and_says_so(
    store: Store, settings: Settings, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    s = smtp_settings(settings, port)
    _seed(store)
    user = add_user(store, "dora")
    store.subscriptions.follow(user.id, "category", "cs.CV")
    run_digests(s, store, now=at("2026-03-10", 8))
    # the server is down for four days; papers keep arriving
    store.papers.upsert_papers(
        topic_papers("diffusion", 3, 600, date(2026, 3, 11)), now=at("2026-03-11", 5)
    )
    store.papers.upsert_papers(
        topic_papers("diffusion", 3, 700, date(2026, 3, 13)), now=at("2026-03-13", 5)
    )
    report = run_digests(s, store, now=at("2026-03-14", 9))
    assert report.sent == 1
    msg = sink.received[-1].message
    text = body_of(msg)
    assert "catches up" in text and "(catching up)" in msg["Subject"]
    assert len(_ids(text)) == 6  # both missed days, in one digest
    assert store.deliveries.delivery_log(user_id=user.id, limit=1)[0].gap_days == 4


def test_transient_then_permanent_failures_are_recorded(store: Store, settings: Settings,
                                                        smtp_sink: tuple[SinkHandler, int]) -> None:
    sink, port = smtp_sink
    s = smtp_settings(settings, port, digest_retry_seconds=60.0, digest_max_attempts=3)
    _seed(store)
    for name in ("erin", "frank", "gus"):
        store.subscriptions.follow(add_user(store, name).id, "category", "cs.CL")
    sink.refuse["erin@example.org"] = "451 4.3.0 try again later"
    sink.refuse["frank@example.org"] = "550 5.1.1 RCPT no such user"
    report = run_digests(s, store, now=at("2026-03-10", 8))
    assert (report.sent, report.retry, report.failed) == (1, 1, 1)
    failed = store.deliveries.delivery_log(status="failed")
    assert (
        len(failed) == 1 and failed[0].username == "frank" and "550" in (failed[0].last_error or "")
    )
    # the retry waits for its backoff, then succeeds once the server accepts again
    assert run_digests(s, store, now=at("2026-03-10", 8)).sent == 0
    del sink.refuse["erin@example.org"]
    report = run_digests(s, store, now=at("2026-03-10", 8).replace(minute=2))
    assert report.sent == 1
    assert [r.rcpt_tos[0] for r in sink.received].count("erin@example.org") == 1
    # frank's papers were freed: a failed digest does not count as sent
    assert store.deliveries.delivery_counts() == {"sent": 2, "failed": 1}
    assert store.deliveries.get_delivery(failed[0].id) is not None


def test_unsubscribed_before_sending_is_skipped(store: Store, settings: Settings,
                                                smtp_sink: tuple[SinkHandler, int]) -> None:
    sink, port = smtp_sink
    s = smtp_settings(settings, port)
    _seed(store)
    u = add_user(store, "hank")
    store.subscriptions.follow(u.id, "category", "cs.CL")
    run_digests(s, store, now=at("2026-03-10", 8), send=False)
    store.subscriptions.set_subscription_active(u.id, False)
    report = run_digests(s, store, now=at("2026-03-10", 8))
    assert report.skipped == 1 and not sink.received


def test_two_senders_at_once_send_each_digest_once(store: Store, settings: Settings,
                                                   smtp_sink: tuple[SinkHandler, int]) -> None:
    sink, port = smtp_sink
    s = smtp_settings(settings, port)
    _seed(store)
    for i in range(40):
        store.subscriptions.follow(add_user(store, f"user{i:02d}").id, "category", "cs.CV")
    errors: list[BaseException] = []

    def go() -> None:
        mailer = SMTPMailer(s)
        try:
            run_digests(s, store, mailer, now=at("2026-03-10", 8))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            mailer.close()

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    counts = {k: len(v) for k, v in sink.by_recipient().items()}
    assert len(counts) == 40 and set(counts.values()) == {1}


def test_preview_is_the_sent_digest_unsent(
    store: Store, settings: Settings, smtp_sink: tuple[SinkHandler, int]
) -> None:
    sink, port = smtp_sink
    s = smtp_settings(settings, port)
    _seed(store)
    erin = add_user(
        store, "erin", sections=("searches", "categories", "recommended", "trending"), max_papers=12
    )
    store.subscriptions.add_saved_search(erin.id, "diffusion", name="Diffusion")
    store.subscriptions.follow(erin.id, "category", "cs.RO")
    liked = store.papers.list_papers(category="cs.CL", limit=2)
    for p in liked:
        store.votes.add_vote(erin.id, p.id or 0)  # examples for the recommendations
    store.votes.add_vote(add_user(store, "fred").id, liked[0].id or 0)
    now = at("2026-03-10", 8)
    picks, shown = preview(s, store, erin, now, open_index(s, store))
    assert (
        shown is not None
        and not sink.received
        and store.deliveries.delivery_log(user_id=erin.id) == []
    )  # nothing sent
    run_digests(s, store, now=now, user_ids=[erin.id])
    sent = sink.by_recipient()["erin@example.org"][0].message
    preview_msg = email.message_from_bytes(shown.data, policy=email.policy.default)
    sent_ids = _ids(body_of(sent))
    assert {p.section for p in picks} >= {"searches", "categories"} and len(sent_ids) == len(picks)
    assert _ids(body_of(preview_msg)) == sent_ids  # same papers, same order
    assert preview_msg["Subject"] == sent["Subject"]
