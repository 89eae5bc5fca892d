"""Shared fixtures: a fresh database on each backend, settings, shared data paths, the seeded sample
store and a web client over it, a fake arXiv API and a real SMTP sink on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from paperfeed.core.settings import Settings, load_settings
from paperfeed.store import Store, open_store
from tests._digest_fixtures import SinkHandler, free_port
from tests.web_fixtures import SAMPLE, FakeArxiv, make_app

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the clone (CI); PAPERFEED_SHARED_DATA points elsewhere (a git worktree).
SHARED = Path(os.environ.get("PAPERFEED_SHARED_DATA") or ROOT.parent / "shared" / "data")
PG_URL = os.environ.get("PAPERFEED_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def shared_file(name: str) -> Path:
    """A file from ../shared/data, skipping the test (with the reason) when it is absent."""
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: SQLite in tmp_path, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperfeed.db'}"
        return
    schema = f"pf_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated, empty store on each backend."""
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    """Settings pointing at a temporary data directory and the test database."""
    return load_settings(
        {"data_dir": str(tmp_path / "data"), "database_url": store_url}, environ={}
    )


@pytest.fixture
def seeded(store: Store) -> Iterator[Store]:
    """The store with the sample papers."""
    store.papers.upsert_papers(SAMPLE)
    yield store


@pytest.fixture
def client(settings: Settings, seeded: Store) -> Iterator[TestClient]:
    """A test client over the sample papers."""
    with make_app(settings, seeded) as c:
        yield c


@pytest.fixture
def fake_arxiv() -> Iterator[FakeArxiv]:
    """A fake arXiv API on 127.0.0.1."""
    fake = FakeArxiv()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def smtp_sink() -> Iterator[tuple[SinkHandler, int]]:
    """A real SMTP server on 127.0.0.1 (aiosmtpd), stopped after the test."""
    handler = SinkHandler()
    port = free_port()
    loop = asyncio.new_event_loop()  # ours, so it can be closed (Controller leaves its own open)
    controller = Controller(handler, loop=loop, hostname="127.0.0.1", port=port, decode_data=False,
                            enable_SMTPUTF8=True, data_size_limit=10_000_000)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
        loop.close()


def browser_required() -> bool:
    """Whether a missing browser fails the browser tests instead of skipping them (CI, or asked
    for)."""
    return any(
        os.environ.get(name, "").strip() not in ("", "0")
        for name in ("CI", "PAPERFEED_REQUIRE_BROWSER")
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a browser test skipped for want of Chromium (or Playwright) fails: it must not pass
    unnoticed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not (report.skipped and item.get_closest_marker("browser") and browser_required()):
        return
    reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
    if "chromium" in reason.lower() or "playwright" in reason.lower():
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: the browser test would be skipped ({reason}), but CI or "
            "PAPERFEED_REQUIRE_BROWSER is set: install Chromium (`make chromium`)"
        )
