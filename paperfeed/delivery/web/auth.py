"""Sign up, log in, log out, and the profile page (upvotes, collections, API tokens, sessions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from paperfeed.core.errors import BadRequest, Conflict, TooManyRequests
from paperfeed.core.ids import MAX_ID
from paperfeed.delivery.app import accounts
from paperfeed.delivery.common import charts
from paperfeed.delivery.mail.signup import (
    SignupClaim,
    read_signup_token,
    send_signup_mail,
    signup_message,
    signup_taken_message,
)
from paperfeed.delivery.web.deps import (
    client_key,
    csrf_form,
    flash,
    render,
    require_page_user,
    safe_next,
    write_limit,
)
from paperfeed.delivery.web.security import (
    address_key,
    hash_password,
    new_api_token,
    token_hash,
    validate_signup,
)
from paperfeed.delivery.web.state import get_state
from paperfeed.store.runs import now_utc

router = APIRouter(include_in_schema=False)
DEVICE_COOKIE = "pf_device"
TOKEN_DAYS = (7, 30, 90, 365)
TOKEN_SCOPES = ("read", "write")


def start_session(request: Request, user_id: int) -> None:
    """Start a fresh server-side session (a new id and CSRF token, nothing carried over)."""
    state = get_state(request)
    old = request.session.get("sid")
    if isinstance(old, str):
        accounts.end_session(state.store, old)
    request.session.clear()
    request.session["sid"] = accounts.issue_session(
        state.store, user_id, request.headers.get("user-agent", "")
    )
    request.scope.pop("pf_user", None)


def _remember_device(request: Request, response: Response, user_id: int) -> None:
    state = get_state(request)
    value = accounts.device_cookie(state.store, state.secret_key, user_id)
    if value is None:
        return
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=accounts.DEVICE_MAX_AGE,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=state.settings.base_url.startswith("https://"),
    )


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, next: str = "") -> HTMLResponse:
    """The sign-up form."""
    return render(
        request,
        "signup.html",
        {
            "title": "Sign up",
            "needs_csrf": True,
            "next": safe_next(next),
            "error": None,
            "form": {"username": "", "email": ""},
        },
    )


# Usernames are public (profiles, comments): a taken one may be named. Whether an email address is
# registered is never said (#21 F13): the form answers the same, and the mail tells the owner.
TAKEN = "username: that username is taken, choose another"
LINK_USED = ("this sign-up link was used already, or its username was taken meanwhile: log in, "
             "or sign up again with another username")


@router.post("/signup", dependencies=[Depends(csrf_form)], response_model=None)
async def signup(
    request: Request, background: BackgroundTasks, username: str = Form(""), email: str = Form(""),
    next: str = Form(""),
) -> Response:
    """Check the form and mail the address: a link that creates the account, or (registered) a
    note."""
    state = get_state(request)
    form = {"username": username, "email": email}
    try:
        state.limits.hit("login", client_key(request))
        username, email = username.strip(), email.strip()
        # the password comes with the link
        await run_in_threadpool(validate_signup, username, email, None)
        if await run_in_threadpool(state.store.users.get_user_by_name, username) is not None:
            raise Conflict(TAKEN)
    except (BadRequest, Conflict, TooManyRequests) as exc:
        response = render(
            request,
            "signup.html",
            {
                "title": "Sign up",
                "needs_csrf": True,
                "next": safe_next(next),
                "error": exc.message,
                "form": form,
            },
            status_code=exc.status,
        )
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    # usernames hold no "@"
    found = await run_in_threadpool(state.store.users.user_credentials, email)
    now = now_utc()
    out = (
        signup_taken_message(state.settings, found[0].email, now)
        if found is not None
        else signup_message(
            state.settings, state.secret_key, SignupClaim(username, email, safe_next(next)), now
        )
    )
    if state.limits.allow("unconfirmed_mail", address_key(email)):  # #21 F14
        # after the answer: no timing tells
        background.add_task(send_signup_mail, state.settings, out)
    # The same page for every address; on an instance without a mail server the one running it
    # (a laptop after `make run`) is told where the link went instead of waiting for a mail.
    local_mail = "" if state.settings.is_production else state.settings.mailer
    return render(
        request, "signup_sent.html", {"title": "Check your inbox", "local_mail": local_mail}
    )


def _finish_page(request: Request, token: str, error: str | None, status: int = 200,
                 claim: SignupClaim | None = None) -> HTMLResponse:
    return render(request, "signup_finish.html", {"title": "Finish signing up", "needs_csrf": True,
                                                  "token": token if claim else "", "claim": claim,
                                                  "error": error}, status_code=status)


@router.get("/signup/finish", response_class=HTMLResponse)
def signup_finish_form(request: Request, t: str = "") -> HTMLResponse:
    """What a sign-up link shows: the password form that creates the account (a GET changes
    nothing)."""
    try:
        claim = read_signup_token(get_state(request).secret_key, t[:2000])
    except BadRequest as exc:
        return _finish_page(request, "", exc.message, 400)
    if get_state(request).store.users.get_user_by_name(claim.username) is not None:
        return _finish_page(request, "", LINK_USED, 409)
    return _finish_page(request, t[:2000], None, claim=claim)


@router.post("/signup/finish", dependencies=[Depends(csrf_form)], response_model=None)
async def signup_finish(request: Request, t: str = Form(""), password: str = Form("")) -> Response:
    """Create the account of a sign-up link with the password chosen here (the link confirms the
    address)."""
    state = get_state(request)
    claim: SignupClaim | None = None
    try:
        claim = read_signup_token(state.secret_key, t[:2000])
        await run_in_threadpool(validate_signup, claim.username, claim.email, password)
        hashed = await run_in_threadpool(hash_password, password)
        user = await run_in_threadpool(
            state.store.users.create_user, claim.username, claim.email, hashed
        )
    except BadRequest as exc:  # a weak password: the form again, with the reason
        return _finish_page(request, t[:2000], exc.message, 400, claim)
    except Conflict:
        return _finish_page(request, "", LINK_USED, 409)
    await run_in_threadpool(state.store.comments.mark_email_verified, user.id, user.email)
    await run_in_threadpool(start_session, request, user.id)
    flash(request, f"Welcome, {user.username}! Your address {user.email} is confirmed.")
    done = RedirectResponse(safe_next(claim.next), status_code=303)
    await run_in_threadpool(_remember_device, request, done, user.id)
    return done


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> HTMLResponse:
    """The log-in form."""
    return render(
        request,
        "login.html",
        {
            "title": "Log in",
            "needs_csrf": True,
            "next": safe_next(next),
            "error": None,
            "login": "",
        },
    )


@router.post("/login", dependencies=[Depends(csrf_form)], response_model=None)
async def login(
    request: Request, login: str = Form(""), password: str = Form(""), next: str = Form("")
) -> Response:
    """Check the password (argon2) under the throttle and start a session."""
    state = get_state(request)
    device = accounts.read_device_cookie(state.secret_key, request.cookies.get(DEVICE_COOKIE))
    try:
        # The owner's browser, for the account it logged in to before (password unchanged), is
        # counted on its own: an attacker behind the same address cannot lock the owner out. Any
        # other attempt is counted with its address, device cookie or not (#21 F4).
        vouched = await run_in_threadpool(accounts.device_vouches, state.store, device, login[:320])
        key = f"device:{device.user_id}" if vouched and device else client_key(request)
        state.limits.hit("login", key)
        result = await run_in_threadpool(accounts.log_in, state.store, login, password, device,
                                         request.headers.get("user-agent", ""))
    except (BadRequest, TooManyRequests) as exc:
        response = render(
            request,
            "login.html",
            {
                "title": "Log in",
                "needs_csrf": True,
                "next": safe_next(next),
                "error": exc.message,
                "login": login,
            },
            status_code=exc.status,
        )
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    old = request.session.get("sid")
    if isinstance(old, str):
        await run_in_threadpool(accounts.end_session, state.store, old)
    request.session.clear()
    request.session["sid"] = result.sid
    done = RedirectResponse(safe_next(next), status_code=303)
    await run_in_threadpool(_remember_device, request, done, result.user.id)
    return done


@router.post("/logout", dependencies=[Depends(csrf_form)])
def logout(request: Request) -> RedirectResponse:
    """End the session: the server forgets it, so a copied cookie stops working too."""
    sid = request.session.get("sid")
    if isinstance(sid, str):
        accounts.end_session(get_state(request).store, sid)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@router.get("/profile", response_class=HTMLResponse)
def profile(request: Request) -> HTMLResponse:
    """The user's upvoted papers, collections, API tokens and sessions."""
    user = require_page_user(request)
    return _profile(request, user.id, None)


def _profile(request: Request, user_id: int, new_token: str | None) -> HTMLResponse:
    state = get_state(request)
    user = state.store.users.get_user(user_id)
    ctx = {
        "title": "Your profile",
        "voted": state.store.votes.user_voted_papers(user_id, limit=100),
        "colls": state.store.collections.user_collections(user_id),
        "tokens": state.store.security.user_tokens(user_id),
        "now": datetime.now(UTC),
        "sessions": state.store.security.user_sessions(user_id),
        "token_days": TOKEN_DAYS,
        "new_token": new_token,
        "submissions": state.store.submissions.list_submissions(user_id=user_id, limit=20),
        "profile_user": user,
        "reading_chart": state.cached(("chart-reading", user_id), lambda: charts.reading_chart(
            state.store.votes.reading_by_category(user_id))),
    }
    return render(request, "profile.html", ctx)


@router.post("/profile/tokens", dependencies=[Depends(csrf_form)])
def token_create(request: Request, name: str = Form(""), scope: str = Form("read"),
                 days: str = Form("90")) -> HTMLResponse:
    """Create a personal API token with a scope and an expiry; shown once, in this response only."""
    user = require_page_user(request)
    write_limit(request, user)
    name = name.strip() or "token"
    if len(name) > 100:
        raise BadRequest("name: at most 100 characters")
    if scope not in TOKEN_SCOPES:
        raise BadRequest(f"scope: {scope!r} is not one of {', '.join(TOKEN_SCOPES)}")
    if days not in {str(d) for d in TOKEN_DAYS}:
        raise BadRequest(f"days: {days!r} is not one of {', '.join(str(d) for d in TOKEN_DAYS)}")
    token = new_api_token()
    expires = datetime.now(UTC) + timedelta(days=int(days))
    get_state(request).store.security.create_token(user.id, name, token_hash(token), scope, expires)
    return _profile(request, user.id, token)


@router.post("/profile/tokens/{token_id}/revoke", dependencies=[Depends(csrf_form)])
def token_revoke(
    request: Request, token_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> RedirectResponse:
    """Revoke one of the user's own tokens."""
    user = require_page_user(request)
    write_limit(request, user)
    get_state(request).store.users.revoke_token(user.id, token_id)
    flash(request, "Token revoked")
    return RedirectResponse("/profile#tokens", status_code=303)
