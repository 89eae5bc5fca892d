"""The interactive API documentation (Swagger UI) for administrators, from packaged assets.

Swagger UI's files come from the swagger-ui-bundle package (no CDN), the page loads only scripts
from this site (CSP script-src 'self': the start-up script is a static file, not inline), and only
administrators see it. The OpenAPI document itself stays public at /openapi.json.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from paperfeed.core.errors import Forbidden
from paperfeed.delivery.web.deps import require_page_user

router = APIRouter(include_in_schema=False)
ASSETS = "/docs/assets"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>paperfeed API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/docs-init.js"></script>
</body></html>
"""


def mount(app: FastAPI) -> None:
    """Serve Swagger UI's files from the installed swagger-ui-bundle package."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json (administrators only)."""
    user = require_page_user(request)
    if not user.is_admin:
        raise Forbidden(
            "the interactive API docs are for administrators; the API schema is at /openapi.json"
        )
    return HTMLResponse(_PAGE.format(assets=ASSETS), headers={"Cache-Control": "private, no-store"})
