"""Operator endpoints: /healthz (process up), /readyz (can serve), /metrics (Prometheus, admins
only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from paperfeed.core.errors import Forbidden, NotFound, Unauthorized
from paperfeed.delivery.app.health import readiness
from paperfeed.delivery.web.deps import api_user
from paperfeed.delivery.web.metrics import StoreCollector, exposition
from paperfeed.delivery.web.state import WebState, get_state

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> JSONResponse:
    """The process is up and answering (no dependency is checked: that is /readyz).

    On the event loop, not in the thread pool: busy request threads never delay it (#21 F3).
    """
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """200 when the database answers, the index is loaded and no scheduled source is stale; else
    503.

    Anyone sees which checks pass; the details (back end, counts, errors, source names) are for
    administrators (a Bearer token or an admin's session), as /metrics is (#21).
    """
    state = get_state(request)
    result = readiness(state.settings, state.store, state.search)
    viewer = api_user(request)
    if viewer is None or not viewer.is_admin:
        result = {
            "ready": result["ready"],
            "checks": {name: {"ok": bool(c.get("ok"))} for name, c in result["checks"].items()},
        }
    return JSONResponse(
        {"status": "ready" if result["ready"] else "not ready", **result},
        status_code=200 if result["ready"] else 503,
        headers={"Cache-Control": "no-store"},
    )


def collector_for(state: WebState) -> StoreCollector:
    """The store-facts collector of this app."""
    return StoreCollector(state.settings, state.store, state.search.status)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text format; for administrators (a Bearer token), unless a separate listener
    serves it."""
    state = get_state(request)
    if state.settings.metrics_address:
        raise NotFound(f"metrics are served on {state.settings.metrics_address}, not here")
    user = api_user(request)
    if user is None:
        raise Unauthorized(
            "metrics need an administrator's API token: Authorization: Bearer <token>"
        )
    if not user.is_admin:
        raise Forbidden("metrics are for administrators only")
    body, content_type = exposition(collector_for(state))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
