"""Fuzz the REST API from its own OpenAPI schema with schemathesis: no input may cause a 5xx."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.core.result import Ok

from paperfeed.core.settings import Settings, with_overrides
from paperfeed.delivery.common.context import AppContext
from paperfeed.delivery.web.app import create_app
from paperfeed.delivery.web.security import token_hash
from paperfeed.store import Store
from tests.web_fixtures import paper_id

TOKEN = "pf_fuzz-token-0123456789abcdefghijklmnop"


@pytest.fixture
def web_schema(settings: Settings, seeded: Store) -> schemathesis.BaseSchema:
    """The app's OpenAPI schema, over the sample papers, with a user whose token the fuzzer
    sends."""
    user = seeded.users.create_user("fuzzer", "fuzz@example.org", "x")
    seeded.users.create_token(user.id, "fuzz", token_hash(TOKEN))
    seeded.collections.create_collection(user.id, "Fuzzed", is_public=True)
    pid = paper_id(seeded, "2501.00001")
    seeded.comments.add_comment(
        pid, user.id, "A seeded comment the fuzzer may edit, report or hide"
    )
    seeded.groups.create_group(user.id, "Fuzz lab", "", True)
    fast = with_overrides(
        settings,
        rate_limit_write="100000/minute",
        rate_limit_comment="100000/minute",
        arxiv_api_url="http://127.0.0.1:9/api/query",
        http_timeout=1.0,
    )
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(AppContext(fast, seeded)))


CALLS: list[int] = []


def _check(case: schemathesis.Case[Any]) -> None:
    headers = dict(case.headers or {})
    headers.setdefault("Authorization", f"Bearer {TOKEN}")
    response = case.call(headers=headers)
    CALLS.append(response.status_code)
    assert response.status_code < 500, (
        case.method,
        case.formatted_path,
        case.query,
        case.body,
        response.text[:300],
    )
    if response.status_code >= 400:
        body = response.json()
        assert body["status"] == response.status_code and body["message"]


def test_api_never_answers_5xx(web_schema: schemathesis.BaseSchema) -> None:
    # schemathesis's pytest plugin does not run under pytest 9, so each operation gets a
    # hypothesis test built here (bounded: a dozen examples per operation).
    operations = [
        result.ok() for result in web_schema.get_all_operations() if isinstance(result, Ok)
    ]
    assert len(operations) >= 15
    paths = {op.path for op in operations}
    assert {
        "/api/v1/papers/{paper_id}/comments",
        "/api/v1/comments/{comment_id}",
        "/api/v1/comments/{comment_id}/hide",
        "/api/v1/comments/{comment_id}/report",
        "/api/v1/notifications",
        "/api/v1/authors/{name}",
        "/api/v1/papers/{paper_id}/claims",
        "/api/v1/groups",
        "/api/v1/groups/{group_id}",
        "/api/v1/groups/{group_id}/feed",
        "/api/v1/groups/join",
    } <= paths
    for operation in operations:
        run = hypothesis.given(case=operation.as_strategy())(_check)
        hypothesis.settings(max_examples=12, deadline=None, derandomize=True, database=None,
                            suppress_health_check=list(HealthCheck))(run)()
    assert len(CALLS) >= 8 * len(operations) and any(c < 300 for c in CALLS)
