"""Concurrent writers of lifecycle events and alert deliveries never fail on each other (issue 22):

what a second writer brings that the first stored already is skipped, not an IntegrityError. Both
backends; the second writer is a second transaction over the same rows, as when two harvest workers
merge the same record, or two pages mark the same alert while the first commits.
"""

from __future__ import annotations

import threading
from datetime import date

from sqlalchemy import func, select

from paperfeed.core.models import Paper
from paperfeed.store import Store
from paperfeed.store.alert_schema import alert_deliveries, paper_events
from paperfeed.store.alerts import mark_delivered, write_events
from paperfeed.store.runs import now_utc


def _paper(store: Store) -> int:
    store.papers.upsert_papers(
        [
            Paper(
                title="T",
                arxiv_id="2503.01234",
                version=1,
                published=date(2025, 3, 3),
                source="arxiv-api",
            )
        ]
    )
    paper = store.papers.get_paper_by_arxiv("2503.01234")
    assert paper is not None and paper.id is not None
    return paper.id


def _count(store: Store, table: object) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_second_writer_of_the_same_event_is_skipped_not_an_error(store: Store) -> None:
    pid = _paper(store)
    for _ in range(2):  # the second merge of the same record in its own transaction
        with store.engine.begin() as conn:
            write_events(conn, [(pid, "new_version", "2"), (pid, "new_version", "2")], now_utc())
    assert _count(store, paper_events) == 1


def test_the_alerts_concurrent_writer_race(store: Store) -> None:
    pid = _paper(store)
    user = store.users.create_user("ada", "ada@example.org", "x")
    with store.engine.begin() as conn:
        write_events(conn, [(pid, "new_version", "2")], now_utc())
    with store.engine.connect() as conn:
        event_id = int(conn.execute(select(paper_events.c.id)).scalar_one())
    errors: list[BaseException] = []
    if store.engine.dialect.name == "postgresql":
        # writer A has inserted, not committed; writer B did not see A's row and inserts too: B
        # waits on the unique key until A commits, then must skip the row, not fail
        first = store.engine.connect()
        tx = first.begin()
        assert mark_delivered(first, user.id, [event_id], "web", None, now_utc()) == 1
        started = threading.Event()

        def second() -> None:
            try:
                with store.engine.begin() as conn:
                    started.set()
                    mark_delivered(conn, user.id, [event_id], "web", None, now_utc())
            except BaseException as exc:  # noqa: BLE001 - recorded, asserted below
                errors.append(exc)

        worker = threading.Thread(target=second)
        worker.start()
        started.wait(5)
        worker.join(0.5)  # B is now blocked on A's uncommitted key
        tx.commit()
        first.close()
        worker.join(10)
    else:
        # SQLite serialises writers: B starts after A committed and sees A's row (no race to lose)
        for _ in range(2):
            with store.engine.begin() as conn:
                mark_delivered(conn, user.id, [event_id, event_id], "web", None, now_utc())
    assert errors == [] and _count(store, alert_deliveries) == 1
