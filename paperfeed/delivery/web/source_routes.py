"""Followed sources on the web: /api/v1/sources and /admin/sources (administrators only), and the
public /status page (HTML, or JSON at /status.json and /api/v1/status).

Thin adapters over paperfeed.delivery.app.sources.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.core.errors import Forbidden, Unauthorized
from paperfeed.core.models import User
from paperfeed.delivery.app import sources as uc
from paperfeed.delivery.web.deps import api_user, csrf_form, flash, render, require_page_user
from paperfeed.delivery.web.state import get_state

router = APIRouter()


def _admin_api(request: Request) -> User:
    user = api_user(request)
    if user is None:
        raise Unauthorized("log in or send 'Authorization: Bearer <token>' of an administrator")
    if not user.is_admin:
        raise Forbidden("followed sources are for administrators only")
    return user


Admin = Annotated[User, Depends(_admin_api)]


class SourceIn(BaseModel):
    """A source to follow."""

    kind: str = Field(description="arxiv, arxiv-oai or hf-daily.", max_length=16)
    categories: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=50, description="arxiv: arXiv categories."
    )
    set: str | None = Field(
        default=None, max_length=64, description="arxiv-oai: an OAI-PMH set (cs, math, ...)."
    )
    name: str | None = Field(default=None, max_length=64)


@router.get("/api/v1/sources", tags=["sources"])
def api_list(request: Request, user: Admin) -> Response:
    """Followed sources with their cursor and health (administrators)."""
    state = get_state(request)
    return JSONResponse([h.as_dict() for h in uc.sources_health(state.store, state.ctx.settings)])


@router.post("/api/v1/sources", status_code=201, tags=["sources"])
def api_add(request: Request, body: SourceIn, user: Admin) -> Response:
    """Follow a source (administrators)."""
    state = get_state(request)
    uc.check_kind(body.kind)
    source = uc.add_source(state.store, body.kind, tuple(body.categories), body.set, body.name)
    return JSONResponse(uc.health_of(source, state.ctx.settings).as_dict(), status_code=201)


@router.get("/api/v1/sources/{name}", tags=["sources"])
def api_show(request: Request, name: str, user: Admin) -> Response:
    """One followed source (administrators)."""
    state = get_state(request)
    source = uc.get_source(state.store, state.ctx.settings, name)
    return JSONResponse(uc.health_of(source, state.ctx.settings).as_dict())


@router.delete("/api/v1/sources/{name}", status_code=204, tags=["sources"])
def api_remove(request: Request, name: str, user: Admin) -> Response:
    """Stop following a source; its papers stay (administrators)."""
    state = get_state(request)
    uc.remove_source(state.store, state.ctx.settings, name)
    return Response(status_code=204)


def _public(report: dict[str, Any], admin: bool) -> dict[str, Any]:
    """The status report, without cursors and error texts for everyone but administrators."""
    if admin:
        return report
    keep = (
        "name",
        "kind",
        "last_success_at",
        "papers_brought",
        "newest_day",
        "lag_days",
        "stale",
        "failing",
    )
    return {**report, "sources": [{k: s[k] for k in keep} for s in report["sources"]]}


def _status(request: Request) -> tuple[dict[str, Any], bool]:
    state = get_state(request)
    user = api_user(request) if request.method == "GET" else None
    return uc.status_report(state.store, state.ctx.settings), bool(user and user.is_admin)


@router.get("/api/v1/status", tags=["sources"])
def api_status(request: Request) -> Response:
    """Papers, the newest day, and each followed source's health; 503 when a source is stale."""
    report, admin = _status(request)
    return JSONResponse(_public(report, admin), status_code=200 if report["ok"] else 503)


@router.get("/status.json", include_in_schema=False)
def status_json(request: Request) -> Response:
    """The same as /api/v1/status."""
    return api_status(request)


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
def status_page(request: Request) -> HTMLResponse:
    """The status page: is the feed alive, and which source is behind."""
    report, admin = _status(request)
    return render(
        request,
        "status.html",
        {"title": "Status", "report": _public(report, admin), "admin": admin},
        status_code=200 if report["ok"] else 503,
    )


def _admin_page(request: Request) -> User:
    user = require_page_user(request)
    if not user.is_admin:
        raise Forbidden("administrators only")
    return user


@router.get("/admin/sources", response_class=HTMLResponse, include_in_schema=False)
def admin_sources(request: Request) -> HTMLResponse:
    """Followed sources for administrators: health, cursor, add and remove."""
    _admin_page(request)
    state = get_state(request)
    health = [h.as_dict() for h in uc.sources_health(state.store, state.ctx.settings)]
    return render(
        request,
        "sources.html",
        {"title": "Followed sources", "sources": health, "kinds": uc.KIND_HELP},
    )


@router.post("/admin/sources", include_in_schema=False, dependencies=[Depends(csrf_form)])
def admin_add(request: Request, kind: Annotated[str, Form(max_length=16)],
              categories: Annotated[str, Form(max_length=500)] = "",
              set_spec: Annotated[str, Form(max_length=64)] = "",
              name: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Follow a source from the admin page's form."""
    _admin_page(request)
    state = get_state(request)
    cats = tuple(c for c in categories.replace(",", " ").split() if c)
    source = uc.add_source(state.store, uc.check_kind(kind), cats, set_spec or None, name or None)
    flash(request, f"Following {source.name}.")
    return RedirectResponse("/admin/sources", status_code=303)


@router.post(
    "/admin/sources/{name}/remove", include_in_schema=False, dependencies=[Depends(csrf_form)]
)
def admin_remove(request: Request, name: str) -> Response:
    """Stop following a source from the admin page."""
    _admin_page(request)
    state = get_state(request)
    uc.remove_source(state.store, state.ctx.settings, name)
    flash(request, f"No longer following {name}; its papers stay.")
    return RedirectResponse("/admin/sources", status_code=303)
