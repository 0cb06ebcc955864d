"""Sessions, CSRF and roles: checked on the server for every page and action.

Sessions live in a signed cookie (Starlette's ``SessionMiddleware``:
itsdangerous, HttpOnly, SameSite=Lax) holding only the user id, the user's
session epoch (a password change or disabling the account ends every
session) and the CSRF token. Every state-changing request carries that token
in a form field or the ``X-CSRF-Token`` header; a missing or wrong token is
refused with 403 before anything happens.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Iterable

from fastapi import HTTPException, Request

from formwerk.users import Role, User

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

#: who may work the review queue
REVIEW_ROLES = (Role.CLERK, Role.SUPERVISOR, Role.ADMIN)
SUPERVISOR_ROLES = (Role.SUPERVISOR, Role.ADMIN)


class LoginRequired(Exception):
    """Raised by ``current_user`` for pages: the app redirects to the login page."""


class Forbidden(Exception):
    """The user is signed in but their role does not allow the request."""


class CsrfFailed(Exception):
    pass


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if "form" in content_type:
            form = await request.form()
            sent = form.get(CSRF_FIELD)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise CsrfFailed()


def sign_in(request: Request, user: User) -> None:
    request.session.clear()  # a fresh session (and CSRF token) at every login: no fixation
    request.session["uid"] = user.id
    request.session["epoch"] = user.session_epoch
    csrf_token(request)


def sign_out(request: Request) -> None:
    request.session.clear()


def current_user(request: Request) -> User:
    """The signed-in, active user whose session is still valid; else LoginRequired."""
    uid = request.session.get("uid")
    if uid is None:
        raise LoginRequired()
    user = request.app.state.formwerk.users.get_by_id(uid)
    if user is None or not user.active or user.session_epoch != request.session.get("epoch"):
        request.session.clear()
        raise LoginRequired()
    return user


def require_role(user: User, roles: Iterable[Role]) -> User:
    if user.role not in tuple(roles):
        raise Forbidden()
    return user


def reviewer(request: Request) -> User:
    return require_role(current_user(request), REVIEW_ROLES)


def supervisor(request: Request) -> User:
    return require_role(current_user(request), SUPERVISOR_ROLES)


def not_found() -> HTTPException:
    return HTTPException(status_code=404)
