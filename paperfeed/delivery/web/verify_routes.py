"""Email verification pages: follow the signed link, ask for a new one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from paperfeed.core.errors import BadRequest
from paperfeed.core.models import User
from paperfeed.delivery.mail.verify import (
    MailNotSent,
    confirm_email,
    pending_verification,
    send_verification,
)
from paperfeed.delivery.web.deps import csrf_form, flash, render, require_page_user, write_limit
from paperfeed.delivery.web.security import address_key
from paperfeed.delivery.web.state import get_state
from paperfeed.store.runs import now_utc

router = APIRouter(include_in_schema=False)


async def mail_verification(request: Request, user: User) -> None:
    """Send the verification link to a (new) account, telling the user how it went."""
    state = get_state(request)
    if not state.limits.allow("unconfirmed_mail", address_key(user.email)):  # #21 F14
        flash(
            request,
            f"Several links went to {user.email} in the last hour already: use the newest, "
            "or ask for another later.",
            "warn",
        )
        return
    try:
        await run_in_threadpool(
            send_verification, state.settings, state.secret_key, user, now_utc()
        )
    except MailNotSent as exc:
        flash(request, exc.message, "warn")
    else:
        flash(
            request,
            f"We sent a link to {user.email}: open it to confirm your address (no other mail "
            "before).",
        )


def _failed(request: Request, exc: BadRequest) -> HTMLResponse:
    return render(
        request,
        "verify_email.html",
        {"title": "Verification failed", "ok": False, "message": exc.message, "token": ""},
        status_code=400,
    )


@router.get("/verify-email", response_class=HTMLResponse)
def verify_form(request: Request, t: str = "") -> HTMLResponse:
    """What a verification link shows: a button that confirms (a GET changes nothing: mail scanners
    follow links)."""
    state = get_state(request)
    try:
        user = pending_verification(state.store, state.secret_key, t[:2000])
    except BadRequest as exc:
        return _failed(request, exc)
    return render(request, "verify_email.html", {
        "title": "Confirm your email address", "ok": True, "token": t[:2000], "needs_csrf": True,
        "message": f"Confirm that {user.email} is the address of {user.username}."})


@router.post("/verify-email", response_class=HTMLResponse, dependencies=[Depends(csrf_form)])
def verify_email(request: Request, t: str = Form("")) -> HTMLResponse:
    """Confirm the address in a verification link (the link works once)."""
    state = get_state(request)
    try:
        user = confirm_email(state.store, state.secret_key, t[:2000])
    except BadRequest as exc:
        return _failed(request, exc)
    request.scope.pop("pf_user", None)
    return render(
        request,
        "verify_email.html",
        {
            "title": "Email verified",
            "ok": True,
            "token": "",
            "message": f"{user.email} is confirmed. Digests can now reach you.",
        },
    )


@router.post("/profile/verify-email", dependencies=[Depends(csrf_form)])
async def resend(request: Request) -> RedirectResponse:
    """Send a new verification link."""
    user = require_page_user(request)
    write_limit(request, user)
    get_state(request).limits.hit("login", f"verify:{user.id}")
    if user.email_verified:
        flash(request, "Your email address is already verified")
    else:
        await mail_verification(request, user)
    return RedirectResponse("/profile", status_code=303)
