"""Readers never write: a paper ingested on machine A is found by machine B's site after B's worker
job.

Two "machines" share one database (PostgreSQL when PAPERFEED_TEST_POSTGRES_URL is set) and have
their own data directories, hence their own index files. Searching on B writes nothing; B's worker
cycle refreshes B's index and B's long-lived reader picks the new segments up by reading the pointer
within CHECK_EVERY seconds.
"""

from __future__ import annotations

import time
from pathlib import Path

from paperfeed.core.models import Paper
from paperfeed.core.settings import load_settings
from paperfeed.delivery.app.ingest import ingest_papers
from paperfeed.delivery.jobs.worker import update_index
from paperfeed.index import open_search_index
from paperfeed.index.search_index import CHECK_EVERY
from paperfeed.ranking.search import Hit, search_papers
from paperfeed.store import Store
from tests._search_fixtures import corpus


def test_paper_ingested_on_one_machine_is_found_on_another(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    machine_a = load_settings(
        {"data_dir": str(tmp_path / "a"), "database_url": store_url}, environ={}
    )
    machine_b = load_settings(
        {"data_dir": str(tmp_path / "b"), "database_url": store_url}, environ={}
    )
    store.papers.upsert_papers(corpus())
    open_search_index(machine_b, store).build(embed=False)
    site_b = open_search_index(machine_b, store)  # a web worker on B, long-lived
    assert search_papers(site_b, "okapi", mode="lexical").hits == []
    files_b = sorted(p.name for p in (tmp_path / "b" / "index").iterdir())

    report = ingest_papers(
        store,
        machine_a,
        [
            Paper(
                title="Okapi habitats",
                abstract="Okapis live in forests.",
                arxiv_id="2301.00042",
                source="test",
            )
        ],
        "test:okapi",
    )
    assert report.counts.new == 1
    found_a = search_papers(open_search_index(machine_a, store), "okapi", mode="lexical")
    assert len(found_a.hits) == 1  # A's ingest refreshed A's index
    # B's site does not refresh on the search path and writes nothing
    time.sleep(CHECK_EVERY)
    assert search_papers(site_b, "okapi", mode="lexical").hits == []
    assert sorted(p.name for p in (tmp_path / "b" / "index").iterdir()) == files_b
    update_index(machine_b, store)  # B's worker cycle (runs every worker_poll_seconds)
    deadline = time.monotonic() + CHECK_EVERY + 2.0
    hits: list[Hit] = []
    while time.monotonic() < deadline and not hits:
        hits = search_papers(site_b, "okapi", mode="lexical").hits
        time.sleep(0.1)
    assert [h.paper_id for h in hits] == [h.paper_id for h in found_a.hits]
