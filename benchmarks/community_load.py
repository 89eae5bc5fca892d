"""Community load benchmark: a paper page with a 200-comment thread and a lab of 10,000 members,
under wrk.

Usage: python benchmarks/community_load.py [--seconds 5] [--connections 8] [--members 10000]

Builds bench-output/community/ (SQLite) once with Random(42): the bundled sample papers plus 300
synthetic ones, a 200-comment thread (Markdown, replies up to 6 deep) on one paper, and a private
lab with 10,000 members of whom 1,500 upvoted and 40 shared collections gained 400 papers this week.
Then starts `paperfeed serve` (1 worker) and runs `wrk` on: the paper page for a visitor (page
cache) and for a logged-in member (rendered per request, with the reply/edit forms), the thread as
JSON, the lab page, the lab feed as JSON and Atom (member's Bearer token). Prints req/s and p50/p99.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from random import Random

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.web_load import _free_port, _get, _ms
from paperfeed.core.models import Paper
from paperfeed.delivery.web.security import hash_password, token_hash
from paperfeed.store import open_store

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench-output" / "community"
PY = sys.executable
TOKEN = "pf_bench-member-token-000000000000000"
PASSWORD = "bench password 1"


def prepare(members: int) -> dict[str, int]:
    """Create the database once; return the ids the URLs need."""
    marker = WORK / f"ready-{members}"
    db = WORK / "paperfeed.db"
    if marker.exists():
        found = dict(line.split("=") for line in marker.read_text().split())
        return {k: int(v) for k, v in found.items()}
    WORK.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    rng = Random(42)
    store = open_store(f"sqlite:///{db}")
    today = date.today()
    store.papers.upsert_papers(
        [
            Paper(
                title=f"Synthetic paper {i} on {rng.choice(['vision', 'language', 'graphs'])}",
                abstract="An abstract. " * 20,
                arxiv_id=f"2611.{i:05d}",
                authors=(f"Author {i}",),
                categories=(rng.choice(["cs.CV", "cs.CL", "cs.LG"]),),
                published=today - timedelta(days=i % 6),
                source="jsonl",
            )
            for i in range(300)
        ]
    )
    ids = [
        found.id
        for i in range(300)
        if (found := store.papers.get_paper_by_arxiv(f"2611.{i:05d}")) and found.id
    ]
    t = time.perf_counter()
    owner = store.users.create_user("labowner", "owner@lab.example.org", hash_password(PASSWORD))
    store.comments.mark_email_verified(owner.id, owner.email)
    store.users.create_token(owner.id, "bench", token_hash(TOKEN))
    group = store.groups.create_group(owner.id, "Bench Lab", "10k members", True)
    users = [
        store.users.create_user(f"m{i:05d}", f"m{i:05d}@lab.example.org", "x")
        for i in range(members - 1)
    ]
    for u in users:
        store.groups.add_member(group.id, u.id, "member")
    for u in rng.sample(users, min(1500, len(users))):
        store.votes.add_vote(u.id, rng.choice(ids))
    for c in range(40):
        u = rng.choice(users)
        coll = store.collections.create_collection(u.id, f"Shared {c}")
        store.groups.share_collection(group.id, coll.id, u.id)
        for pid in rng.sample(ids, 10):
            store.collections.add_to_collection(u.id, coll.id, pid)
    paper = ids[0]
    thread: list[int] = []
    depth: dict[int, int] = {}
    for i in range(200):
        author = rng.choice(users[:50])
        parent = rng.choice(thread) if thread and rng.random() < 0.6 else None
        if parent is not None and depth[parent] >= 6:
            parent = None
        body = (
            f"Comment {i}: **does** it scale? See [the code](https://example.org/{i}) and "
            f"`x_{i}`.\n\n"
            "> quoting the abstract\n\n- one point\n- another point"
        )
        c = store.comments.add_comment(paper, author.id, body, parent)
        thread.append(c.id)
        depth[c.id] = 0 if parent is None else depth[parent] + 1
    store.close()
    found = {"paper": paper, "group": group.id}
    marker.write_text(" ".join(f"{k}={v}" for k, v in found.items()))
    print(f"prepared in {time.perf_counter() - t:.0f}s", flush=True)
    return found


def wrk(url: str, seconds: int, connections: int, header: str | None) -> dict[str, float]:
    """Run wrk on one URL (optionally with one header); requests/s, p50, p99 (ms), non-2xx count."""
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        *(["-H", header] if header else []),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": float(bad.group(1)) if bad else 0.0,
    }


def _login(base: str) -> str:
    """The session cookie of the lab's owner."""
    import httpx

    with httpx.Client(base_url=base) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"login": "labowner", "password": PASSWORD, "csrf_token": token})
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def main() -> None:
    """Prepare, serve, load."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--members", type=int, default=10_000)
    args = ap.parse_args()
    ids = prepare(args.members)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PAPERFEED_DATA_DIR": str(WORK)}
    server = subprocess.Popen(
        [PY, "-m", "paperfeed", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                _get(base + "/about")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        cookie = _login(base)
        bearer = f"Authorization: Bearer {TOKEN}"
        p, g = ids["paper"], ids["group"]
        cases = [
            ("reference: paper page, no comments, visitor", f"/papers/{p + 1}", None),
            (
                "reference: paper page, no comments, logged in",
                f"/papers/{p + 1}",
                f"Cookie: {cookie}",
            ),
            ("paper page, 200 comments, visitor (page cache)", f"/papers/{p}", None),
            ("paper page, 200 comments, logged in", f"/papers/{p}", f"Cookie: {cookie}"),
            ("thread JSON, 200 comments", f"/api/v1/papers/{p}/comments", None),
            (f"lab page, {args.members} members (member)", f"/groups/{g}", f"Cookie: {cookie}"),
            (f"lab feed JSON, {args.members} members", f"/api/v1/groups/{g}/feed", bearer),
            (f"lab feed Atom, {args.members} members", f"/feeds/groups/{g}.atom", bearer),
        ]
        for name, path, header in cases:
            r = wrk(base + path, args.seconds, args.connections, header)
            print(
                f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.0f} | "
                f"{int(r['non_2xx'])} |",
                flush=True,
            )
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
