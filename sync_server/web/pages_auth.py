"""``/staf/masuk`` (login), ``/staf/keluar`` (logout), ``/staf/sandi`` (a staff member
changes their own password) and ``/staf/`` (each role's start page).

Login goes through :func:`sync_server.services.staff_auth.login`: the same throttle, the
same refusals (shown on the form in Indonesian), the same session as the JSON API.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.api.errors import note_refusal
from sync_server.clock import utc_now
from sync_server.errors import Refusal
from sync_server.services import accounts, staff_auth
from sync_server.web import session as web
from sync_server.web.templating import render

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)

_REASONS = {
    "sesi": "Sesi Anda sudah berakhir. Silakan masuk kembali.",
    "sandi": "Kata sandi Anda sudah diganti dan semua sesi Anda berakhir. Silakan masuk "
    "dengan kata sandi baru.",
}


def start_page(role: Role) -> str:
    """Where a role lands after logging in."""
    return f"{web.PREFIX}/admin/pengguna" if role is Role.ADMIN else f"{web.PREFIX}/antrean"


def _safe_next(path: str | None) -> str | None:
    # Only our own pages: never an absolute or protocol-relative URL (open redirect).
    if path and path.startswith(web.PREFIX + "/") and "//" not in path and "\\" not in path:
        return path
    return None


def _login_form(
    request: Request,
    *,
    error: str | None = None,
    username: str = "",
    next_path: str | None = None,
    status: int = 200,
) -> Response:
    token = web.new_login_csrf()
    response = render(
        request,
        "login.html",
        {
            "error": error,
            "notice": _REASONS.get(request.query_params.get("alasan", "")),
            "username": username,
            "next_path": _safe_next(next_path) or "",
            "csrf": token,
        },
        status=status,
    )
    response.set_cookie(
        web.LOGIN_CSRF_COOKIE,
        token,
        path=f"{web.PREFIX}/masuk",
        httponly=True,
        samesite="strict",
        secure=web.cookie_secure(request),
    )
    return response


@router.get("/masuk")
async def login_form(request: Request, lanjut: str | None = None) -> Response:
    return _login_form(request, next_path=lanjut)


@router.post("/masuk")
async def login(
    request: Request,
    context: ContextDep,
    ip: ClientIpDep,
    csrf: web.CsrfField,
    username: Annotated[str, Form(max_length=staff_auth.MAX_USERNAME)],
    password: Annotated[str, Form(max_length=staff_auth.MAX_PASSWORD)],
    lanjut: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    web.check_csrf(request.cookies.get(web.LOGIN_CSRF_COOKIE, ""), csrf)
    try:
        result = await run_in_threadpool(
            lambda: staff_auth.login(
                context.db, username=username, password=password, client_ip=ip, now=utc_now()
            )
        )
    except Refusal as exc:
        await note_refusal(request, exc)
        return _login_form(
            request, error=exc.message, username=username, next_path=lanjut, status=exc.status
        )
    response = RedirectResponse(_safe_next(lanjut) or start_page(result.user.role), status_code=303)
    web.set_session_cookie(response, request, result.token)
    response.delete_cookie(web.LOGIN_CSRF_COOKIE, path=f"{web.PREFIX}/masuk")
    return response


@router.post("/keluar")
async def logout(
    request: Request, session: web.WebStaff, context: ContextDep, csrf: web.CsrfField
) -> Response:
    web.check_csrf(session.csrf, csrf)
    await run_in_threadpool(staff_auth.logout, context.db, session.staff)
    response = RedirectResponse(f"{web.PREFIX}/masuk", status_code=303)
    web.clear_session_cookie(response, request)
    return response


def _password_form(
    request: Request, session: web.WebSession, *, error: str | None = None, status: int = 200
) -> Response:
    return render(request, "password.html", {"session": session, "error": error}, status=status)


@router.get("/sandi")
async def password_form(request: Request, session: web.WebStaff) -> Response:
    return _password_form(request, session)


@router.post("/sandi")
async def change_password(
    request: Request,
    session: web.WebStaff,
    context: ContextDep,
    ip: ClientIpDep,
    csrf: web.CsrfField,
    old_password: Annotated[str, Form(max_length=staff_auth.MAX_PASSWORD)],
    password: Annotated[str, Form(max_length=staff_auth.MAX_PASSWORD)],
    password_again: Annotated[str, Form(max_length=staff_auth.MAX_PASSWORD)],
) -> Response:
    """Every session of the account ends, this one too: the next step is the login form."""
    web.check_csrf(session.csrf, csrf)
    try:
        if password != password_again:
            raise Refusal("user.password_mismatch")
        await run_in_threadpool(
            lambda: accounts.change_own_password(
                context.db,
                session.staff.user,
                old=old_password,
                new=password,
                client_ip=ip,
                now=utc_now(),
            )
        )
    except Refusal as exc:
        await note_refusal(request, exc)
        return _password_form(request, session, error=exc.message, status=exc.status)
    response = RedirectResponse(f"{web.PREFIX}/masuk?alasan=sandi", status_code=303)
    web.clear_session_cookie(response, request)
    return response


@router.get("/")
async def home(session: web.WebStaff) -> Response:
    return RedirectResponse(start_page(session.role), status_code=303)
