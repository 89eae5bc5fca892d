"""The interactive API documentation (Swagger UI), and the names people read in it.

`/docs` is paperfeed's own page: it loads two files of the swagger-ui-bundle package (no CDN) from
/docs/assets and a start-up script from /static (CSP script-src 'self': no inline script). Only
those two files are served: the package's stock index.html (which points at petstore.swagger.io),
its initializer and source maps are not (#21 F16). The page is for every reader, logged in or not:
it is the documentation of an API whose schema (/openapi.json) is public anyway, and it holds no
data; what an operation returns is still decided by that operation's own checks.

Every /api/v1 operation gets a summary and a tag written for people ("Get a paper" under "Papers"),
from OPERATIONS; an operation missing there (a new route) falls back to its docstring's first line
and a tag named after its path, never FastAPI's "Api Get Paper" (#19 item 9).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse

from paperfeed.core.errors import NotFound

router = APIRouter(include_in_schema=False)
ASSETS = "/docs/assets"
SERVED_ASSETS = {  # the only files of the package that are served, with their media types
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
}

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>paperfeed API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/docs-init.js"></script>
</body></html>
"""

TAGS: dict[str, str] = {
    "Papers": "Papers, search, trending and categories: open to everyone.",
    "Votes": "Upvoting papers (a write token).",
    "Submissions": "Adding a paper by arXiv id or URL (fetched by the worker).",
    "Collections": "Your collections of papers, and public ones.",
    "Digests": "Your email digest: schedule, saved searches, follows, feedback, deliveries.",
    "Discussion": "Comments on papers, reports, moderation and notifications.",
    "Authors": "Author pages and claims of authorship.",
    "Labs": "Labs (groups): members, invites, the lab's feed and shared collections.",
    "Alerts": "New versions, code and journal references of the papers you follow.",
    "Account": "Who you are, and your data.",
    "Sources": "Followed sources and their health (administrators).",
}

_V = "/api/v1"
OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", f"{_V}/papers"): ("Papers", "List papers by day"),
    ("GET", f"{_V}/papers/{{paper_id}}"): ("Papers", "Get a paper"),
    ("GET", f"{_V}/papers/{{paper_id}}/similar"): ("Papers", "Find similar papers"),
    ("GET", f"{_V}/search"): ("Papers", "Search papers"),
    ("GET", f"{_V}/trending"): ("Papers", "Trending papers"),
    ("GET", f"{_V}/categories"): ("Papers", "List categories"),
    ("GET", f"{_V}/me"): ("Account", "Who am I"),
    ("GET", f"{_V}/me/export"): ("Account", "Download my data"),
    ("POST", f"{_V}/papers/{{paper_id}}/upvote"): ("Votes", "Upvote a paper"),
    ("DELETE", f"{_V}/papers/{{paper_id}}/upvote"): ("Votes", "Take back an upvote"),
    ("POST", f"{_V}/submissions"): ("Submissions", "Submit a paper"),
    ("GET", f"{_V}/collections"): ("Collections", "List my collections"),
    ("POST", f"{_V}/collections"): ("Collections", "Create a collection"),
    ("GET", f"{_V}/collections/{{collection_id}}"): ("Collections", "Get a collection"),
    ("PATCH", f"{_V}/collections/{{collection_id}}"): ("Collections", "Change a collection"),
    ("DELETE", f"{_V}/collections/{{collection_id}}"): ("Collections", "Delete a collection"),
    ("PUT", f"{_V}/collections/{{collection_id}}/papers/{{paper_id}}"): (
        "Collections",
        "Add a paper to a collection",
    ),
    ("DELETE", f"{_V}/collections/{{collection_id}}/papers/{{paper_id}}"): (
        "Collections",
        "Remove a paper from a collection",
    ),
    ("GET", f"{_V}/collections/{{collection_id}}/export"): ("Collections", "Export a collection"),
    ("GET", f"{_V}/subscriptions"): ("Digests", "Get my digest settings"),
    ("PUT", f"{_V}/subscriptions"): ("Digests", "Change my digest settings"),
    ("POST", f"{_V}/subscriptions/searches"): ("Digests", "Save a search"),
    ("DELETE", f"{_V}/subscriptions/searches/{{search_id}}"): ("Digests", "Delete a saved search"),
    ("POST", f"{_V}/subscriptions/follows"): ("Digests", "Follow a category or an author"),
    ("DELETE", f"{_V}/subscriptions/follows"): ("Digests", "Stop following"),
    ("POST", f"{_V}/subscriptions/feedback"): ("Digests", "Say more or less like a paper"),
    ("GET", f"{_V}/subscriptions/preview"): ("Digests", "Preview my next digest"),
    ("GET", f"{_V}/subscriptions/deliveries"): ("Digests", "List my digest deliveries"),
    ("GET", f"{_V}/papers/{{paper_id}}/comments"): ("Discussion", "Get a paper's discussion"),
    ("POST", f"{_V}/papers/{{paper_id}}/comments"): ("Discussion", "Comment on a paper"),
    ("GET", f"{_V}/comments/{{comment_id}}"): ("Discussion", "Get a comment"),
    ("PATCH", f"{_V}/comments/{{comment_id}}"): ("Discussion", "Edit my comment"),
    ("DELETE", f"{_V}/comments/{{comment_id}}"): ("Discussion", "Delete my comment"),
    ("POST", f"{_V}/comments/{{comment_id}}/report"): ("Discussion", "Report a comment"),
    ("POST", f"{_V}/comments/{{comment_id}}/hide"): ("Discussion", "Hide a comment (moderators)"),
    ("DELETE", f"{_V}/comments/{{comment_id}}/hide"): ("Discussion", "Restore a hidden comment"),
    ("GET", f"{_V}/notifications"): ("Discussion", "List my notifications"),
    ("POST", f"{_V}/notifications/seen"): ("Discussion", "Mark my notifications seen"),
    ("GET", f"{_V}/authors/{{name}}"): ("Authors", "Get an author"),
    ("POST", f"{_V}/papers/{{paper_id}}/claims"): ("Authors", "Claim authorship of a paper"),
    ("GET", f"{_V}/groups"): ("Labs", "List my labs"),
    ("POST", f"{_V}/groups"): ("Labs", "Create a lab"),
    ("GET", f"{_V}/groups/{{group_id}}"): ("Labs", "Get a lab"),
    ("GET", f"{_V}/groups/{{group_id}}/feed"): ("Labs", "Get a lab's week"),
    ("POST", f"{_V}/groups/{{group_id}}/invites"): ("Labs", "Invite to a lab"),
    ("POST", f"{_V}/groups/join"): ("Labs", "Join a lab by invite"),
    ("PUT", f"{_V}/groups/{{group_id}}/collections/{{collection_id}}"): (
        "Labs",
        "Share a collection with a lab",
    ),
    ("DELETE", f"{_V}/groups/{{group_id}}/collections/{{collection_id}}"): (
        "Labs",
        "Stop sharing a collection",
    ),
    ("GET", f"{_V}/sources"): ("Sources", "List followed sources"),
    ("POST", f"{_V}/sources"): ("Sources", "Follow a source"),
    ("GET", f"{_V}/sources/{{name}}"): ("Sources", "Get a followed source"),
    ("DELETE", f"{_V}/sources/{{name}}"): ("Sources", "Stop following a source"),
    ("GET", f"{_V}/status"): ("Sources", "Site status"),
    ("GET", f"{_V}/alerts"): ("Alerts", "List my alerts"),
    ("POST", f"{_V}/alerts/seen"): ("Alerts", "Mark my alerts seen"),
}


def _fallback(method: str, path: str, operation: dict[str, Any]) -> tuple[str, str]:
    """A route OPERATIONS does not know: its docstring's first line, a tag after its path."""
    words = (operation.get("description") or "").strip().splitlines()
    summary = words[0].rstrip(".") if words else f"{method.title()} {path}"
    part = path.removeprefix(f"{_V}/").split("/", 1)[0]
    return part.replace("-", " ").replace("_", " ").capitalize() or "Papers", summary


def name_operations(spec: dict[str, Any]) -> dict[str, Any]:
    """Give every /api/v1 operation of an OpenAPI document a summary and a tag for people."""
    used: set[str] = set()
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if not path.startswith(_V) or not isinstance(operation, dict):
                continue
            key = (method.upper(), path)
            tag, summary = OPERATIONS.get(key) or _fallback(method.upper(), path, operation)
            operation["summary"], operation["tags"] = summary, [tag]
            used.add(tag)
    known = [{"name": t, "description": d} for t, d in TAGS.items() if t in used]
    extra = [{"name": t} for t in sorted(used - set(TAGS))]
    spec["tags"] = known + extra
    return spec


def mount(app: FastAPI) -> None:
    """Name the operations in the app's OpenAPI document (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = name_operations(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _asset_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


@router.get(ASSETS + "/{name}")
def asset(name: str) -> FileResponse:
    """One of the two Swagger UI files the docs page loads; anything else of the package is 404."""
    media = SERVED_ASSETS.get(name)
    if media is None:
        raise NotFound(f"nothing at {ASSETS}/{name}")
    return FileResponse(
        _asset_dir() / name, media_type=media, headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    """Swagger UI over /openapi.json, for every reader (the schema is public; the page holds no
    data)."""
    return HTMLResponse(
        _PAGE.format(assets=ASSETS), headers={"Cache-Control": "public, max-age=300"}
    )
