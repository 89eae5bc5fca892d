"""`paperfeed db copy`: SQLite -> PostgreSQL -> SQLite keeps every row (counts, checksums, sampled
rows)."""

from __future__ import annotations

import random
from pathlib import Path

from click.testing import CliRunner

from paperfeed.delivery.cli.main import cli
from paperfeed.store import Store, open_store
from paperfeed.store.backup import BackupRepository
from tests._ops_fixtures import pg_schema_url, seed

__all__ = ["pg_schema_url"]


def _sample(store: Store, ids: list[int]) -> list[object]:
    rows: list[object] = [store.papers.get_paper(i) for i in ids]
    rows += [store.users.get_user_by_name(f"user{u}") for u in range(5)]
    rows.append(store.votes.vote_counts(ids))
    rows.append(sorted((r.source, r.counts) for r in store.runs.recent_runs(5)))
    return rows


def test_sqlite_to_postgres_and_back(tmp_path: Path, pg_schema_url: str) -> None:
    first = f"sqlite:///{tmp_path / 'first.db'}"
    back = f"sqlite:///{tmp_path / 'back.db'}"
    src = open_store(first)
    ids = seed(src, papers=300, users=5)
    owner = src.users.get_user_by_name("user1")
    assert owner is not None
    col = src.collections.create_collection(owner.id, "Reading list", "for Monday", is_public=True)
    src.collections.add_to_collection(owner.id, col.id, ids[3])
    picked = random.Random(42).sample(ids, 25)
    want_sample = _sample(src, picked)
    want = BackupRepository(src.engine).facts()
    src.close()

    runner = CliRunner()
    out = runner.invoke(cli, ["db", "copy", first, pg_schema_url])
    assert out.exit_code == 0, out.output
    assert "counts and checksums match" in out.output
    # Data in the destination: a second copy is refused unless forced.
    again = runner.invoke(cli, ["db", "copy", first, pg_schema_url])
    assert again.exit_code == 2 and "destination is not empty" in again.output
    out = runner.invoke(cli, ["db", "copy", pg_schema_url, back])
    assert out.exit_code == 0, out.output

    for url in (pg_schema_url, back):
        s = open_store(url, migrate=False)
        try:
            got = BackupRepository(s.engine).facts()
            assert {k: v.rows for k, v in got.items()} == {k: v.rows for k, v in want.items()}
            assert got == want  # contents too, table by table
            assert _sample(s, picked) == want_sample
            if s.backend == "postgresql":  # new rows get fresh ids after the copied ones
                user = s.users.create_user("newcomer", "new@example.org", "hash")
                assert user.id > 5
        finally:
            s.close()


def test_copy_refuses_a_source_behind_this_code(tmp_path: Path) -> None:
    old = open_store(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
    old.migrate("0002")
    old.close()
    out = CliRunner().invoke(
        cli, ["db", "copy", f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"]
    )
    assert out.exit_code == 2 and "run `paperfeed db migrate` on the source first" in out.output
