"""A replaying server on 127.0.0.1: arXiv's OAI-PMH and API and Hugging Face Daily Papers, served
from real data on a simulated calendar.

* The arXiv catalogue is ../shared/data/arxiv-74k.jsonl.gz (a real daily crawl of arXiv's listings;
  `first_seen_date` is the day arXiv announced the paper). A paper exists at the source from its
  announcement day on: OAI-PMH stamps it with that day (datestamp), the API lists it as submitted
  that day (the crawl has no other date). Records are written in the shapes of the recorded real
  responses in ../shared/data/recorded (arXiv metadata format, Atom with OpenSearch totals,
  resumption tokens with completeListSize, `noRecordsMatch`, `badResumptionToken`).
* Hugging Face is ../shared/data/hf-daily/hf-daily-2026-02.jsonl (real featured days and upvotes),
  answered as /api/daily_papers?date=D lists. Upvotes grow as the calendar advances: a paper read
  on its featured day has a third of its recorded upvotes, the next day two thirds, then all.

`today` is the simulated day: nothing announced or featured after it exists yet.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

OAI_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
    'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n<responseDate>{now}</responseDate>\n'
)
ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
    "  <id>http://arxiv.org/api/replay</id>\n  <title>arXiv Query: replay</title>\n"
    "  <opensearch:totalResults>{total}</opensearch:totalResults>\n"
    "  <opensearch:startIndex>{start}</opensearch:startIndex>\n"
    "  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>\n"
)


@dataclass(frozen=True)
class Listed:
    """One arXiv paper of the catalogue."""

    id: str
    day: date
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    comment: str | None
    version: int = 1  # the API serves this version (a replacement: 2, 3, ...)
    journal_ref: str | None = None
    revisions: tuple[date, ...] = ()  # days of v2, v3, ... (arXivRaw lists them once they are out)
    withdrawn: bool = False  # its last revision is arXiv's 0 kb withdrawal

    def versions_by(self, today: date) -> list[date]:
        """v1's day and the revisions out by today."""
        return [self.day, *(d for d in self.revisions if d <= today)]

    def stamp(self, today: date) -> date:
        """The OAI datestamp: the day of the newest version out by today."""
        return self.versions_by(today)[-1]


def load_arxiv(path: Path, first: date, last: date, primary: str | None = None) -> list[Listed]:
    """Catalogue records announced in [first, last] (optionally only one primary category)."""
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            day = date.fromisoformat(rec["first_seen_date"])
            cats = tuple(rec.get("arxiv_categories") or ())
            if not first <= day <= last or (primary and (not cats or cats[0] != primary)):
                continue
            out.append(
                Listed(
                    rec["id"],
                    day,
                    rec["title"],
                    rec["abstract"],
                    tuple(rec["authors"]),
                    cats,
                    rec.get("comment"),
                )
            )
    return out


def load_hf(path: Path) -> dict[date, list[dict[str, Any]]]:
    """Hugging Face records by featured day."""
    days: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            days[date.fromisoformat(rec["date"])].append(rec)
    return dict(days)


def _author_xml(name: str) -> str:
    parts = name.split()
    keyname, forenames = (parts[-1], " ".join(parts[:-1])) if parts else ("", "")
    inner = f"<keyname>{escape(keyname)}</keyname>"
    return (
        f"<author>{inner}<forenames>{escape(forenames)}</forenames></author>"
        if forenames
        else f"<author>{inner}</author>"
    )


def oai_record(p: Listed, set_spec: str) -> str:
    """One record in arXiv's OAI-PMH metadata format (as in recorded/oai-pmh/hepcrawl-*.xml)."""
    comment = f"<comments>{escape(p.comment)}</comments>" if p.comment else ""
    return (
        f"<record>\n<header>\n <identifier>oai:arXiv.org:{p.id}</identifier>\n "
        f"<datestamp>{p.day}</datestamp>\n"
        f" <setSpec>{set_spec}</setSpec>\n</header>\n<metadata>\n"
        ' <arXiv xmlns="http://arxiv.org/OAI/arXiv/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f" <id>{p.id}</id><created>{p.day}</created>"
        f"<authors>{''.join(_author_xml(a) for a in p.authors)}</authors>"
        f"<title>{escape(p.title)}</title>"
        f"<categories>{' '.join(p.categories)}</categories>{comment}"
        f"<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>"
        f"<abstract>{escape(p.abstract)}</abstract></arXiv>\n</metadata>\n</record>\n"
    )


def raw_record(p: Listed, set_spec: str, today: date) -> str:
    """One record in arXiv's arXivRaw format: every version with its date and size, the authors as
    one string (as in recorded/oai-pmh and arXiv's own arXivRaw answers)."""
    days = p.versions_by(today)
    versions = "".join(
        f'<version version="v{n}"><date>{d.strftime("%a, %d %b %Y")} 17:00:00 GMT</date>'
        f"<size>{'0kb' if p.withdrawn and n == len(days) > 1 else f'{100 + n}kb'}</size>"
        "<source_type>D</source_type></version>"
        for n, d in enumerate(days, start=1)
    )
    comment = f"<comments>{escape(p.comment)}</comments>" if p.comment else ""
    return (
        f"<record>\n<header>\n <identifier>oai:arXiv.org:{p.id}</identifier>\n"
        f" <datestamp>{p.stamp(today)}</datestamp>\n "
        f"<setSpec>{set_spec}</setSpec>\n</header>\n<metadata>\n"
        ' <arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f" <id>{p.id}</id>"
        f"<submitter>{escape(p.authors[0] if p.authors else 'unknown')}</submitter>{versions}"
        f"<title>{escape(p.title)}</title><authors>{escape(', '.join(p.authors))}</authors>"
        f"<categories>{' '.join(p.categories)}</categories>{comment}"
        f"<license>http://arxiv.org/licenses/nonexclusive-distrib/1.0/</license>"
        f"<abstract>{escape(p.abstract)}</abstract></arXivRaw>\n</metadata>\n</record>\n"
    )


def atom_entry(p: Listed) -> str:
    """One entry as the arXiv API writes it (as in recorded/arxiv-api/*.xml)."""
    stamp = f"{p.day}T17:00:00Z"
    comment = f"<arxiv:comment>{escape(p.comment)}</arxiv:comment>" if p.comment else ""
    if p.journal_ref:
        comment += f"<arxiv:journal_ref>{escape(p.journal_ref)}</arxiv:journal_ref>"
    cats = "".join(
        f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in p.categories
    )
    return (
        f"  <entry>\n    <id>http://arxiv.org/abs/{p.id}v{p.version}</id>\n    "
        f"<updated>{stamp}</updated>\n"
        f"    <published>{stamp}</published>\n    <title>{escape(p.title)}</title>\n"
        f"    <summary>{escape(p.abstract)}</summary>\n"
        + "".join(f"    <author><name>{escape(a)}</name></author>\n" for a in p.authors)
        + f'    {comment}<link href="http://arxiv.org/abs/{p.id}v{p.version}" rel="alternate" '
          'type="text/html"/>'
        f'<link title="pdf" href="http://arxiv.org/pdf/{p.id}v{p.version}" rel="related" '
        'type="application/pdf"/>'
        f'<arxiv:primary_category term="{p.categories[0] if p.categories else "cs.CL"}"/>{cats}\n '
        ' </entry>\n'
    )


def hf_item(rec: dict[str, Any], today: date) -> dict[str, Any]:
    """One /api/daily_papers element; upvotes grow with the days since the paper was featured."""
    featured = date.fromisoformat(rec["date"])
    age = (today - featured).days
    upvotes = int(rec.get("upvotes") or 0) * min(3, age + 1) // 3
    paper: dict[str, Any] = {
        "id": rec["paper_id"],
        "title": rec["title"],
        "summary": rec.get("abstract") or "",
        "ai_summary": rec.get("summary_en"),
        "authors": [{"name": a} for a in rec.get("authors") or []],
        "publishedAt": f"{rec['date']}T00:00:00.000Z",
        "upvotes": upvotes,
    }
    if rec.get("github_url"):
        paper["githubRepo"] = rec["github_url"]
    return {"paper": paper, "title": rec["title"], "numComments": max(0, age),
            "submittedOnDailyAt": f"{rec['date']}T10:00:00.000Z"}


@dataclass
class Seen:
    """One request."""

    path: str
    query: dict[str, str]
    at: float


@dataclass
class Replay:
    """The replayed world: catalogue, calendar and pacing."""

    arxiv: list[Listed] = field(default_factory=list)
    hf: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    today: date = date(2025, 3, 24)
    oai_page_size: int = 25
    oai_set: str = "cs"
    delay: float = 0.0  # seconds before each answer (to catch a worker mid-harvest)
    down: bool = False  # answer 503 to everything (an outage at the source)
    refuse_tokens: bool = False  # answer badResumptionToken to every token, even those it gave
    sets: tuple[str, ...] = (
        "cs",
        "math",
        "physics",
        "physics:hep-th",
        "q-bio",
        "q-fin",
        "stat",
        "econ",
        "eess",
    )
    requests: list[Seen] = field(default_factory=list)

    def visible(self) -> list[Listed]:
        """Papers announced by today, in id order."""
        return sorted((p for p in self.arxiv if p.day <= self.today), key=lambda p: p.id)

    def per_day(self, upto: date | None = None) -> dict[date, int]:
        """Papers per announcement day up to a day (default today)."""
        out: dict[date, int] = defaultdict(int)
        for p in self.arxiv:
            if p.day <= (upto or self.today):
                out[p.day] += 1
        return dict(out)

    # ----- OAI-PMH ------------------------------------------------------------------------------

    def oai(self, q: dict[str, str]) -> tuple[int, str]:
        now = f"{self.today}T20:00:00Z"
        head = OAI_HEAD.format(now=now)
        verb = q.get("verb")
        if verb == "GetRecord":
            ident = q.get("identifier", "").removeprefix("oai:arXiv.org:")
            found = [p for p in self.visible() if p.id == ident]
            if not found:
                return 200, head + '<error code="idDoesNotExist">no such record</error>\n</OAI-PMH>'
            return (
                200,
                head + f"<GetRecord>\n{oai_record(found[0], self.oai_set)}</GetRecord>\n</OAI-PMH>",
            )
        if verb == "ListSets":
            sets = "".join(
                f"<set><setSpec>{x}</setSpec><setName>{x}</setName></set>" for x in self.sets
            )
            return 200, head + f"<ListSets>{sets}</ListSets>\n</OAI-PMH>"
        if verb != "ListRecords":
            return (
                200,
                head
                + f'<error code="badVerb">illegal verb {escape(str(verb))}</error>\n</OAI-PMH>',
            )
        refused = (
            '<error code="badResumptionToken">The value of the resumptionToken argument is invalid'
            " or expired.</error>"
        )
        if "resumptionToken" in q:
            if self.refuse_tokens:
                return 200, head + refused + "\n</OAI-PMH>"
            try:
                first, last, set_spec, offset, prefix = q["resumptionToken"].split("|")
                lo, hi, start = date.fromisoformat(first), date.fromisoformat(last), int(offset)
            except ValueError:
                return 200, head + refused + "\n</OAI-PMH>"
        else:
            prefix = q.get("metadataPrefix", "")
            if prefix not in ("arXiv", "arXivRaw"):
                return (
                    200,
                    head
                    + '<error code="cannotDisseminateFormat">replay serves arXiv and '
                      'arXivRaw</error>\n</OAI-PMH>',
                )
            lo = date.fromisoformat(q.get("from", "1990-01-01"))
            hi = date.fromisoformat(q.get("until", str(self.today)))
            set_spec, start = q.get("set", ""), 0
            # arXiv's own answer to a set it does not have
            if set_spec and set_spec not in self.sets:
                return 200, head + (
                    '<error code="noRecordsMatch">Set argument doesn\'t match any sets. The '
                    'setSpec was '
                    f"'{escape(set_spec)}'</error>\n</OAI-PMH>"
                )
        records = [p for p in self.visible() if lo <= p.stamp(self.today) <= min(hi, self.today)]
        if not records:
            return 200, head + '<error code="noRecordsMatch"/>\n</OAI-PMH>'
        chunk = records[start : start + self.oai_page_size]
        end = start + len(chunk)
        token = f"{lo}|{hi}|{set_spec}|{end}|{prefix}" if end < len(records) else ""
        if prefix == "arXivRaw":
            body = "".join(raw_record(p, self.oai_set, self.today) for p in chunk)
        else:
            body = "".join(oai_record(p, self.oai_set) for p in chunk)
        tail = (
            f'<resumptionToken cursor="{start}" completeListSize="{len(records)}">'
            f"{token}</resumptionToken>\n"
        )
        return 200, head + f"<ListRecords>\n{body}{tail}</ListRecords>\n</OAI-PMH>"

    # ----- arXiv API ----------------------------------------------------------------------------

    def api(self, q: dict[str, str]) -> tuple[int, str]:
        cats = {
            part.strip().removeprefix("cat:") for part in q.get("search_query", "").split(" OR ")
        }
        start, size = int(q.get("start", 0)), int(q.get("max_results", 10))
        hits = sorted(
            (p for p in self.visible() if cats & set(p.categories)),
            key=lambda p: (p.day, p.id),
            reverse=True,
        )
        page = hits[start : start + size]
        head = ATOM_HEAD.format(total=len(hits), start=start, size=len(page))
        return 200, head + "".join(atom_entry(p) for p in page) + "</feed>\n"

    # ----- Hugging Face -------------------------------------------------------------------------

    def daily(self, q: dict[str, str]) -> tuple[int, str]:
        day = date.fromisoformat(q["date"])
        items = [hf_item(r, self.today) for r in self.hf.get(day, [])] if day <= self.today else []
        return 200, json.dumps(items)


class ReplayServer:
    """Serves a Replay on 127.0.0.1 in a background thread."""

    def __init__(self, world: Replay, port: int = 0) -> None:
        self.world = world
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # the name http.server calls
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                with owner._lock:
                    owner.world.requests.append(Seen(parts.path, query, time.monotonic()))
                    delay, down = owner.world.delay, owner.world.down
                if delay:
                    time.sleep(delay)
                kind = "application/xml; charset=utf-8"
                if down:
                    status, body = 503, "down for maintenance"
                elif parts.path == "/oai":
                    status, body = owner.world.oai(query)
                elif parts.path == "/api/query":
                    status, body = owner.world.api(query)
                elif parts.path == "/_calendar":  # ?today=YYYY-MM-DD moves the simulated calendar
                    if query.get("today"):
                        owner.world.today = date.fromisoformat(query["today"])
                    status, body = 200, json.dumps({"today": owner.world.today.isoformat()})
                    kind = "application/json"
                elif parts.path == "/api/daily_papers":
                    status, body = owner.world.daily(query)
                    kind = "application/json"
                else:
                    status, body = 404, "not found"
                data = body.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    if status == 503:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # a worker killed mid-request

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}
        )

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def env(self) -> dict[str, str]:
        """PAPERFEED_* variables pointing every source here, unpaced, on the simulated day."""
        return {
            "PAPERFEED_ARXIV_OAI_URL": self.base + "/oai",
            "PAPERFEED_ARXIV_API_URL": self.base + "/api/query",
            "PAPERFEED_HF_API_URL": self.base + "/api/daily_papers",
            "PAPERFEED_ARXIV_DELAY": "0",
            "PAPERFEED_HF_DELAY": "0",
            "PAPERFEED_HTTP_RETRIES": "1",
            "PAPERFEED_HTTP_BACKOFF": "0.01",
            "PAPERFEED_HTTP_TIMEOUT": "10",
            "PAPERFEED_SOURCES_TODAY": self.world.today.isoformat(),
        }

    def paths(self, path: str) -> list[Seen]:
        """Requests for one path, in order."""
        with self._lock:
            return [r for r in self.world.requests if r.path == path]

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()


@contextmanager
def replaying(world: Replay) -> Iterator[ReplayServer]:
    """A started ReplayServer, stopped on exit."""
    server = ReplayServer(world)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    """Serve the replay until interrupted: `python -m tests.replay_server --today 2025-03-24`."""
    import argparse

    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--today", type=date.fromisoformat, default=date(2025, 3, 24))
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument(
        "--category", default="cs.CL", help="primary category of the arXiv papers served"
    )
    parser.add_argument("--data", type=Path, default=shared)
    args = parser.parse_args()
    world = Replay(
        arxiv=load_arxiv(
            args.data / "arxiv-74k.jsonl.gz",
            date(2025, 3, 18),
            date(2026, 7, 1),
            primary=args.category,
        ),
        hf=load_hf(args.data / "hf-daily" / "hf-daily-2026-02.jsonl"),
        today=args.today,
    )
    server = ReplayServer(world, port=args.port)
    print(
        f"replaying on {server.base}: today is {world.today}; move it with "
        f"{server.base}/_calendar?today=YYYY-MM-DD"
    )
    for key, value in server.env().items():
        print(f"export {key}={value}")
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
