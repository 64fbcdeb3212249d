"""Staff page sessions: the login token in a cookie, CSRF tokens, role checks.

The pages reuse the staff login of :mod:`sync_server.services.staff_auth`: the token it
issues lives in the ``kk_staf`` cookie (``HttpOnly``, ``SameSite=Strict``, path ``/staf``,
``Secure`` over HTTPS or when configured: ``ServerConfig.web_cookie_secure``) instead of an
``Authorization`` header, so the same sliding expiry, disabling and throttling apply.

CSRF: every form carries a token that a cross-site page cannot know. Once logged in it is an
HMAC of the session token (nothing to store; it changes with each login); on the login form,
before any session exists, it is a random value also set in the ``kk_csrf`` cookie (double
submit). ``SameSite=Strict`` already keeps the session cookie off cross-site requests; the
token is the second lock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response
from starlette.concurrency import run_in_threadpool

from protocol.errors import define_messages
from protocol.workflow import Role
from sync_server.api.deps import ContextDep
from sync_server.clock import utc_now
from sync_server.errors import Refusal
from sync_server.services import staff_auth
from sync_server.services.staff_auth import StaffSession

__all__ = [
    "PREFIX",
    "SESSION_COOKIE",
    "LOGIN_CSRF_COOKIE",
    "LoginRequired",
    "WebSession",
    "web_session",
    "require_web_roles",
    "csrf_for",
    "check_csrf",
    "set_session_cookie",
    "clear_session_cookie",
    "cookie_secure",
    "CsrfField",
]

define_messages(
    {
        "web.csrf_invalid": "Formulir kedaluwarsa atau tidak berasal dari halaman ini. Muat "
        "ulang halaman lalu coba lagi.",
    }
)

PREFIX = "/staf"
SESSION_COOKIE = "kk_staf"
LOGIN_CSRF_COOKIE = "kk_csrf"
_CSRF_LABEL = b"kk-online web csrf v1"


class LoginRequired(Exception):
    """No live staff session: the page answers with a redirect to the login form."""

    def __init__(self, next_path: str, reason: str | None = None) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.reason = reason

    def location(self) -> str:
        url = f"{PREFIX}/masuk?lanjut={quote(self.next_path, safe='/')}"
        return url + (f"&alasan={self.reason}" if self.reason else "")


@dataclass(frozen=True, slots=True)
class WebSession:
    """A logged-in staff member on a page, and the CSRF token their forms carry."""

    staff: StaffSession
    csrf: str

    @property
    def role(self) -> Role:
        return self.staff.user.role


def csrf_for(token: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of the session token, never stored."""
    return hmac.new(token.encode("utf-8"), _CSRF_LABEL, hashlib.sha256).hexdigest()


def check_csrf(expected: str, given: str | None) -> None:
    """Refuse (403 ``web.csrf_invalid``) unless ``given`` equals ``expected``."""
    if not given or not expected or not hmac.compare_digest(expected, given):
        raise Refusal("web.csrf_invalid", status=403)


def cookie_secure(request: Request) -> bool:
    configured = request.app.state.context.config.web_cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=cookie_secure(request)
    )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def _next_path(request: Request) -> str:
    # Only GET pages are worth coming back to; a form post restarts from its page.
    return request.url.path if request.method == "GET" else f"{PREFIX}/"


async def web_session(request: Request, context: ContextDep) -> WebSession:
    """The staff session of the ``kk_staf`` cookie, or :class:`LoginRequired`."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired(_next_path(request))
    try:
        session = await run_in_threadpool(staff_auth.authenticate, context.db, token, now=utc_now())
    except Refusal as exc:
        if exc.status == 401:
            raise LoginRequired(_next_path(request), "sesi") from exc
        raise
    request.state.staff_user = session.user.user_id
    return WebSession(session, csrf_for(token))


WebStaff = Annotated[WebSession, Depends(web_session)]


def require_web_roles(*roles: Role) -> Callable[[WebSession], Awaitable[WebSession]]:
    """A dependency admitting only staff of ``roles`` (403 ``auth.forbidden_role`` else)."""
    allowed = frozenset(roles)
    names = ", ".join(r.label for r in Role if r in allowed)

    async def check(session: WebStaff) -> WebSession:
        if session.role not in allowed:
            raise Refusal("auth.forbidden_role", status=403, role=session.role.label, allowed=names)
        return session

    return check


CsrfField = Annotated[str, Form(alias="csrf", max_length=128)]
