"""Email verification pages: follow the signed link, ask for a new one."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from paperfeed.core.errors import BadRequest
from paperfeed.core.models import User
from paperfeed.delivery.email.verify import MailNotSent, confirm_email, send_verification
from paperfeed.delivery.web.deps import csrf_form, flash, render, require_page_user, write_limit
from paperfeed.delivery.web.state import get_state
from paperfeed.store.runs import now_utc

router = APIRouter(include_in_schema=False)


async def mail_verification(request: Request, user: User) -> None:
    """Send the verification link to a (new) account, telling the user how it went."""
    state = get_state(request)
    try:
        await run_in_threadpool(send_verification, state.settings, state.secret_key, user, now_utc())
    except MailNotSent as exc:
        flash(request, exc.message, "warn")
    else:
        flash(request, f"We sent a link to {user.email}: open it to confirm your address (no other mail before).")


@router.get("/verify-email", response_class=HTMLResponse)
def verify_email(request: Request, t: str = "") -> HTMLResponse:
    """Confirm the address in a verification link."""
    state = get_state(request)
    try:
        user = confirm_email(state.store, state.secret_key, t[:2000])
    except BadRequest as exc:
        return render(request, "verify_email.html", {"title": "Verification failed", "ok": False,
                                                     "message": exc.message}, status_code=400)
    request.scope.pop("pf_user", None)
    return render(request, "verify_email.html", {"title": "Email verified", "ok": True,
                                                 "message": f"{user.email} is confirmed. Digests can now reach you."})


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
