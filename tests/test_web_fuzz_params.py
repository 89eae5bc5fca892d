"""Property-based fuzz (hypothesis) of the query syntax and of every query parameter of the list,
search and paper routes (pages, API and feeds): no input may answer 5xx.

10,000 cases per backend, through the in-process TestClient; every 4xx must carry a message.
"""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import urlencode

import hypothesis
import pytest
from hypothesis import HealthCheck, strategies as st
from starlette.testclient import TestClient

from paperfeed.ranking.query import parse_query
from paperfeed.store import Store

QUERY_CASES = 4000
ROUTE_CASES = 6000

_FIELDS = [
    "author:",
    "cat:",
    "year:",
    "since:",
    "until:",
    "-",
    '"',
    "-author:",
    "AND ",
    "OR ",
    "(",
    ")",
    "*",
]
_DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0000",
            "0000-00-00",
            "0001-01-01",
            "9999-12-31",
            "10000-01-01",
            "2025-02-30",
            "2025-13",
            "2024..2023",
            "1-1",
            "-5",
            "2025-1-1",
            "\u0661\u0662\u0663\u0664",
        ]
    ),
    st.text(alphabet=string.digits + "-.", max_size=12),
)
_WORDS = st.one_of(
    st.sampled_from(
        [
            "transformers",
            "attention",
            "Lovelace",
            "cs.LG",
            "q-bio.BM",
            "<script>",
            "%",
            "_",
            "\\",
            "'",
            "\u00e9",
            "\U0001f600",
            "\ufeff",
            "\u202e",
        ]
    ),
    st.text(max_size=15).filter(lambda s: "\x00" not in s),
)
QUERY = st.lists(
    st.one_of(_WORDS, st.tuples(st.sampled_from(_FIELDS), st.one_of(_DATES, _WORDS)).map("".join)),
    max_size=8,
).map(" ".join)
INTS = st.one_of(
    st.integers(-3, 5),
    st.sampled_from(
        [
            "0",
            "-1",
            "2147483647",
            "2147483648",
            "9223372036854775808",
            "1e3",
            "",
            " 1",
            "abc",
            "0x10",
        ]
    ).map(str),
    st.integers().map(str),
)
ANY_TEXT = st.text(max_size=20)
PARAMS: dict[str, Any] = {
    "q": QUERY,
    "day": _DATES,
    "since": _DATES,
    "until": _DATES,
    "period": st.sampled_from(["day", "week", "month", "year", ""]) | ANY_TEXT,
    "page": INTS,
    "limit": INTS,
    "offset": INTS,
    "k": INTS,
    "category": st.sampled_from(["cs.LG", "cs", "zz.ZZ", ""]) | ANY_TEXT,
    "author": _WORDS,
    "sort": st.sampled_from(["relevance", "date"]) | ANY_TEXT,
    "mode": st.sampled_from(["hybrid", "lexical", "semantic"]) | ANY_TEXT,
    "format": st.sampled_from(["bibtex", "json"]) | ANY_TEXT,
    "utm_source": ANY_TEXT,
}
ROUTES: dict[str, list[str]] = {
    "/": ["day", "period", "page", "utm_source"],
    "/c/cs.LG": ["day", "period", "page"],
    "/trending": ["category"],
    "/search": ["q", "sort", "since", "until", "category", "author", "mode", "page"],
    "/api/v1/papers": ["period", "day", "category", "page", "limit"],
    "/api/v1/search": [
        "q",
        "sort",
        "since",
        "until",
        "category",
        "author",
        "mode",
        "page",
        "limit",
    ],
    "/api/v1/trending": ["limit", "offset", "category"],
    "/feeds/search.xml": ["q", "category", "author"],
    "/papers/{id}": ["utm_source"],
    "/api/v1/papers/{id}": [],
    "/api/v1/papers/{id}/similar": ["k"],
}
SEEN: list[int] = []


@st.composite
def requests(draw: st.DrawFn) -> str:
    """One GET: a route, a subset of its parameters (and sometimes a stray one), and a path id."""
    route = draw(st.sampled_from(sorted(ROUTES)))
    names = draw(
        st.lists(st.sampled_from(ROUTES[route] or ["utm_source"]), unique=True, max_size=6)
    )
    params = [(n, draw(PARAMS[n])) for n in names]
    path = route.replace("{id}", str(draw(INTS))) if "{id}" in route else route
    return path + ("?" + urlencode(params) if params else "")


def test_query_syntax_never_raises() -> None:
    @hypothesis.given(raw=QUERY | st.text(max_size=60))
    @hypothesis.settings(max_examples=QUERY_CASES, deadline=None, database=None, derandomize=True)
    def check(raw: str) -> None:
        parsed = parse_query(raw)
        if parsed.since and parsed.until:
            assert parsed.since <= parsed.until or parsed.notices

    check()


@pytest.mark.timeout(900)
def test_list_search_and_paper_routes_never_answer_5xx(client: TestClient, seeded: Store) -> None:
    SEEN.clear()

    @hypothesis.given(url=requests())
    @hypothesis.settings(
        max_examples=ROUTE_CASES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(url: str) -> None:
        r = client.get(url, follow_redirects=False)
        SEEN.append(r.status_code)
        assert r.status_code < 500, (url, r.text[:300])
        if r.status_code >= 400 and url.startswith("/api/"):
            assert r.json()["message"], url

    check()
    assert len(SEEN) == ROUTE_CASES
    assert (
        sum(c < 300 for c in SEEN) > ROUTE_CASES // 10 and sum(400 <= c < 500 for c in SEEN) > 100
    )
