"""Sign up, log in, log out, and the profile page (upvotes, collections, API tokens)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from paperfeed.core.errors import BadRequest, Conflict, TooManyRequests
from paperfeed.delivery.web import verify_routes
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
    hash_password,
    needs_rehash,
    new_api_token,
    token_hash,
    validate_signup,
    verify_password,
)
from paperfeed.delivery.web.state import get_state, session_user

router = APIRouter(include_in_schema=False)
# Verifying against this when the user does not exist keeps the timing of both failures alike.
_DUMMY_HASH = hash_password("not-a-real-password-0")


def _login_session(request: Request, user_id: int) -> None:
    """Start a fresh session for the user (a new CSRF token, nothing carried over)."""
    request.session.clear()
    request.session["uid"] = user_id


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, next: str = "") -> HTMLResponse:
    """The sign-up form."""
    return render(request, "signup.html", {"title": "Sign up", "needs_csrf": True, "next": safe_next(next),
                                           "error": None, "form": {"username": "", "email": ""}})


@router.post("/signup", dependencies=[Depends(csrf_form)], response_model=None)
async def signup(
    request: Request, username: str = Form(""), email: str = Form(""), password: str = Form(""),
    next: str = Form(""),
) -> Response:
    """Create the account and log in."""
    state = get_state(request)
    form = {"username": username, "email": email}
    try:
        state.limits.hit("login", client_key(request))
        username, email = username.strip(), email.strip()
        validate_signup(username, email, password)
        hashed = await run_in_threadpool(hash_password, password)
        user = await run_in_threadpool(state.store.create_user, username, email, hashed)
    except (BadRequest, Conflict, TooManyRequests) as exc:
        return render(request, "signup.html", {"title": "Sign up", "needs_csrf": True, "next": safe_next(next),
                                               "error": exc.message, "form": form}, status_code=exc.status)
    _login_session(request, user.id)
    flash(request, f"Welcome, {user.username}!")
    await verify_routes.mail_verification(request, user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> HTMLResponse:
    """The log-in form."""
    return render(request, "login.html", {"title": "Log in", "needs_csrf": True, "next": safe_next(next),
                                          "error": None, "login": ""})


@router.post("/login", dependencies=[Depends(csrf_form)], response_model=None)
async def login(request: Request, login: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
    """Check the password (argon2) and start a session."""
    state = get_state(request)
    error = "wrong username/email or password"
    status = 400
    try:
        state.limits.hit("login", client_key(request))
        state.limits.hit("login", "name:" + login.strip().lower()[:320])
    except TooManyRequests as exc:
        error, status = exc.message, exc.status
    else:
        found = await run_in_threadpool(state.store.user_credentials, login) if login.strip() else None
        stored = found[1] if found else _DUMMY_HASH
        ok = await run_in_threadpool(verify_password, stored, password)
        if found and ok:
            user = found[0]
            if needs_rehash(stored):
                await run_in_threadpool(state.store.set_password_hash, user.id, hash_password(password))
            _login_session(request, user.id)
            return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"title": "Log in", "needs_csrf": True, "next": safe_next(next),
                                          "error": error, "login": login}, status_code=status)


@router.post("/logout", dependencies=[Depends(csrf_form)])
def logout(request: Request) -> RedirectResponse:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@router.get("/profile", response_class=HTMLResponse)
def profile(request: Request) -> HTMLResponse:
    """The user's upvoted papers, collections and API tokens."""
    user = require_page_user(request)
    return _profile(request, user.id, None)


def _profile(request: Request, user_id: int, new_token: str | None) -> HTMLResponse:
    state = get_state(request)
    user = state.store.get_user(user_id)
    ctx = {
        "title": "Your profile",
        "voted": state.store.user_voted_papers(user_id, limit=100),
        "colls": state.store.user_collections(user_id),
        "tokens": state.store.user_tokens(user_id),
        "new_token": new_token,
        "submissions": state.store.list_submissions(user_id=user_id, limit=20),
        "profile_user": user,
    }
    return render(request, "profile.html", ctx)


@router.post("/profile/tokens", dependencies=[Depends(csrf_form)])
def token_create(request: Request, name: str = Form("")) -> HTMLResponse:
    """Create a personal API token; it is shown once, in this response only (never put in a cookie)."""
    user = require_page_user(request)
    write_limit(request, user)
    name = name.strip() or "token"
    if len(name) > 100:
        raise BadRequest("name: at most 100 characters")
    token = new_api_token()
    get_state(request).store.create_token(user.id, name, token_hash(token))
    return _profile(request, user.id, token)


@router.post("/profile/tokens/{token_id}/revoke", dependencies=[Depends(csrf_form)])
def token_revoke(request: Request, token_id: int) -> RedirectResponse:
    """Revoke one of the user's own tokens."""
    user = require_page_user(request)
    write_limit(request, user)
    get_state(request).store.revoke_token(user.id, token_id)
    flash(request, "Token revoked")
    return RedirectResponse("/profile#tokens", status_code=303)


def logged_in(request: Request) -> bool:
    """Whether the request carries a logged-in session."""
    return session_user(request) is not None
