"""Account security pages: change password, log out everywhere, reset a forgotten password by email.

Thin adapters over delivery/app/accounts.py, where sessions are issued and revoked.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from paperfeed.core.errors import BadRequest, TooManyRequests
from paperfeed.delivery.app import accounts
from paperfeed.delivery.mail.mailer import MailError, open_mailer
from paperfeed.delivery.web.auth import start_session
from paperfeed.delivery.web.deps import client_key, csrf_form, flash, render, require_page_user
from paperfeed.delivery.web.security import address_key
from paperfeed.delivery.web.state import get_state, log

router = APIRouter(include_in_schema=False)


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request) -> HTMLResponse:
    """The change-password form."""
    require_page_user(request)
    return render(request, "password.html", {"title": "Change password", "error": None})


@router.post("/account/password", dependencies=[Depends(csrf_form)], response_model=None)
async def password_change(
    request: Request, current: str = Form(""), new: str = Form("")
) -> Response:
    """Change the password; every other session of the account ends."""
    user = require_page_user(request)
    state = get_state(request)
    sid = request.session.get("sid")
    try:
        state.limits.hit("login", client_key(request))
        ended = await run_in_threadpool(
            accounts.change_password,
            state.store,
            user,
            current,
            new,
            sid if isinstance(sid, str) else None,
        )
    except (BadRequest, TooManyRequests) as exc:
        return render(
            request,
            "password.html",
            {"title": "Change password", "error": exc.message},
            status_code=exc.status,
        )
    s_end, t_end = ended.sessions, ended.tokens
    flash(
        request,
        f"Password changed; {s_end} other session{'' if s_end == 1 else 's'} logged out and "
        f"{t_end} API token{'' if t_end == 1 else 's'} revoked.",
    )
    return RedirectResponse("/profile#security", status_code=303)


@router.post("/account/logout-everywhere", dependencies=[Depends(csrf_form)])
def logout_everywhere(request: Request) -> RedirectResponse:
    """End every session and revoke every API token of the account, this one included."""
    user = require_page_user(request)
    accounts.log_out_everywhere(get_state(request).store, user.id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/password-reset", response_class=HTMLResponse)
def reset_form(request: Request) -> HTMLResponse:
    """Ask for a reset link."""
    return render(
        request,
        "reset.html",
        {
            "title": "Reset password",
            "needs_csrf": True,
            "error": None,
            "sent": False,
            "token": "",
            "invalid": False,
        },
    )


@router.post("/password-reset", dependencies=[Depends(csrf_form)], response_model=None)
async def reset_request(request: Request, login: str = Form("")) -> Response:
    """Email a reset link when the account exists; the answer is the same either way."""
    state = get_state(request)
    ctx = {
        "title": "Reset password",
        "needs_csrf": True,
        "error": None,
        "sent": True,
        "token": "",
        "invalid": False,
    }
    try:
        state.limits.hit("login", client_key(request))
    except TooManyRequests as exc:
        ctx.update(error=exc.message, sent=False)
        response = render(request, "reset.html", ctx, status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    def send() -> None:
        mailer = open_mailer(state.settings)
        try:
            accounts.request_password_reset(
                state.settings,
                state.store,
                state.secret_key,
                login[:320],
                mailer,
                lambda address: state.limits.allow("unconfirmed_mail", address_key(address)),
            )
        except MailError as exc:  # logged for the operator; the visitor's answer must not differ
            log.error("password reset mail failed: %s", exc)
        finally:
            mailer.close()

    # #21 F13: the mail goes after the answer (a background task), so an existing and an unknown
    # account get the same page in the same time; the lookup happens there too
    response = render(request, "reset.html", ctx)
    response.background = BackgroundTask(send)
    return response


@router.get("/password-reset/confirm", response_class=HTMLResponse)
def reset_confirm_form(request: Request, t: str = Query("", max_length=400)) -> HTMLResponse:
    """The new-password form of a reset link (a GET changes nothing)."""
    state = get_state(request)
    try:
        user = accounts.reset_user(state.store, state.secret_key, t)
    except BadRequest as exc:
        return render(
            request,
            "reset.html",
            {
                "title": "Reset password",
                "needs_csrf": True,
                "error": exc.message,
                "sent": False,
                "token": "",
                "invalid": True,
            },
            status_code=400,
        )
    return render(
        request,
        "reset.html",
        {
            "title": "Reset password",
            "needs_csrf": True,
            "error": None,
            "sent": False,
            "token": t,
            "account": user.username,
            "invalid": False,
        },
    )


@router.post("/password-reset/confirm", dependencies=[Depends(csrf_form)], response_model=None)
async def reset_confirm(request: Request, t: str = Form(""), password: str = Form("")) -> Response:
    """Set the new password: all sessions and API tokens of the account are revoked, then log in
    afresh."""
    state = get_state(request)
    try:
        user = await run_in_threadpool(
            accounts.reset_password, state.store, state.secret_key, t[:400], password
        )
    except BadRequest as exc:
        valid = True
        try:
            account = accounts.reset_user(state.store, state.secret_key, t[:400]).username
        except BadRequest:
            valid, account = False, ""
        return render(
            request,
            "reset.html",
            {
                "title": "Reset password",
                "needs_csrf": True,
                "error": exc.message,
                "sent": False,
                "token": t if valid else "",
                "account": account,
                "invalid": not valid,
            },
            status_code=400,
        )
    await run_in_threadpool(start_session, request, user.id)
    flash(
        request, "Password changed: every other session and API token of your account was revoked."
    )
    return RedirectResponse("/profile", status_code=303)
