"""``/staf/admin/...``: the admin's pages, the browser face of ``kk-server user / device``.

* ``pengguna``: accounts (:mod:`sync_server.services.accounts`): list, add, disable (which
  ends the account's sessions and reaches the counters through the feed), reset a password
  (typed twice; ends the account's sessions, reaches its counters at their next sync, and is
  recorded in the access log);
* ``perangkat``: counters (:mod:`sync_server.services.enrollment`): one-time enrollment
  codes (shown once, never stored), list, revoke;
* ``audit``: the access log's hash chain checked
  (:func:`sync_server.services.access_log.verify_audit_chain`) and its latest rows, and the
  latest refused requests.

Only the admin may open them. A refused form (taken username, short password...) is shown
again with the Indonesian reason, and the refusal is logged and recorded like the API's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from protocol.errors import define_messages
from protocol.wilayah import muba_kecamatan
from protocol.workflow import Role
from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.api.errors import note_refusal
from sync_server.clock import stamp, utc_now
from sync_server.errors import Refusal
from sync_server.services import access_log, accounts, enrollment, staff_auth
from sync_server.storage import audit
from sync_server.web import session as web
from sync_server.web.templating import render

__all__ = ["router"]

define_messages(
    {
        "web.disable_self": "Akun yang sedang Anda pakai tidak dapat dinonaktifkan dari sini.",
    }
)

router = APIRouter(prefix=f"{web.PREFIX}/admin", include_in_schema=False)

Admin = Annotated[web.WebSession, Depends(web.require_web_roles(Role.ADMIN))]
AUDIT_ROWS = 50
MAX_CODE_HOURS = 24 * 30

_DONE = {
    "ditambah": "Akun sudah dibuat.",
    "dinonaktifkan": "Akun sudah dinonaktifkan; sesinya berakhir dan loket diberi tahu.",
    "sandi": "Kata sandi sudah diatur ulang dan sesi akun itu berakhir. Akun operator: loket "
    "kecamatannya menerima sandi baru pada sinkronisasi berikutnya.",
    "dicabut": "Perangkat sudah dicabut; permintaannya ditolak mulai sekarang.",
}


def _notice(request: Request) -> str | None:
    return _DONE.get(request.query_params.get("selesai", ""))


async def _users_page(
    request: Request,
    session: web.WebSession,
    context: Any,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    users = await run_in_threadpool(accounts.list_users, context.db)
    return render(
        request,
        "admin_users.html",
        {
            "session": session,
            "users": users,
            "roles": list(Role),
            "kecamatan": muba_kecamatan(),
            "error": error,
            "form": form or {},
            "notice": _notice(request),
        },
        status=status,
    )


@router.get("/pengguna")
async def users_page(request: Request, session: Admin, context: ContextDep) -> Response:
    return await _users_page(request, session, context)


@router.post("/pengguna")
async def add_user(
    request: Request,
    session: Admin,
    context: ContextDep,
    csrf: web.CsrfField,
    username: Annotated[str, Form(max_length=64)],
    full_name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(max_length=staff_auth.MAX_PASSWORD)],
    kecamatan: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    web.check_csrf(session.csrf, csrf)
    try:
        await run_in_threadpool(
            lambda: accounts.add_user(
                context.db,
                username=username,
                full_name=full_name,
                role=role,
                kecamatan=kecamatan or None,
                password=password,
                now=utc_now(),
            )
        )
    except Refusal as exc:
        await note_refusal(request, exc)
        form = {"username": username, "full_name": full_name, "role": role, "kecamatan": kecamatan}
        return await _users_page(
            request, session, context, error=exc.message, form=form, status=exc.status
        )
    return RedirectResponse(f"{web.PREFIX}/admin/pengguna?selesai=ditambah", status_code=303)


@router.post("/pengguna/{username}/nonaktifkan")
async def disable_user(
    session: Admin,
    context: ContextDep,
    csrf: web.CsrfField,
    username: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    web.check_csrf(session.csrf, csrf)
    if username == session.staff.user.username:
        raise Refusal("web.disable_self", status=409)
    await run_in_threadpool(lambda: accounts.disable_user(context.db, username, now=utc_now()))
    return RedirectResponse(f"{web.PREFIX}/admin/pengguna?selesai=dinonaktifkan", status_code=303)


@router.post("/pengguna/{username}/sandi")
async def reset_password(
    request: Request,
    session: Admin,
    context: ContextDep,
    ip: ClientIpDep,
    csrf: web.CsrfField,
    username: Annotated[str, Path(min_length=1, max_length=64)],
    password: Annotated[str, Form(max_length=staff_auth.MAX_PASSWORD)],
    password_again: Annotated[str, Form(max_length=staff_auth.MAX_PASSWORD)],
) -> Response:
    """Set a new password for an account (the admin's own too: their session then ends)."""
    web.check_csrf(session.csrf, csrf)
    try:
        if password != password_again:
            raise Refusal("user.password_mismatch")
        await run_in_threadpool(
            lambda: accounts.set_password(
                context.db,
                username,
                password,
                actor=session.staff.user,
                client_ip=ip,
                now=utc_now(),
            )
        )
    except Refusal as exc:
        await note_refusal(request, exc)
        return await _users_page(request, session, context, error=exc.message, status=exc.status)
    return RedirectResponse(f"{web.PREFIX}/admin/pengguna?selesai=sandi", status_code=303)


async def _devices_page(
    request: Request,
    session: web.WebSession,
    context: Any,
    *,
    issued: enrollment.IssuedCode | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    devices = await run_in_threadpool(enrollment.list_devices, context.db)
    return render(
        request,
        "admin_devices.html",
        {
            "session": session,
            "devices": devices,
            "kecamatan": muba_kecamatan(),
            "issued": issued,
            "issued_expires": stamp(issued.expires_at) if issued else None,
            "error": error,
            "notice": _notice(request),
            "default_hours": context.config.enroll_code_ttl_hours,
            "max_hours": MAX_CODE_HOURS,
        },
        status=status,
    )


@router.get("/perangkat")
async def devices_page(request: Request, session: Admin, context: ContextDep) -> Response:
    return await _devices_page(request, session, context)


@router.post("/perangkat/kode")
async def issue_code(
    request: Request,
    session: Admin,
    context: ContextDep,
    csrf: web.CsrfField,
    kecamatan: Annotated[str, Form(max_length=20)],
    hours: Annotated[int, Form(ge=1, le=MAX_CODE_HOURS)],
    label: Annotated[str, Form(max_length=enrollment.MAX_LABEL)] = "",
) -> Response:
    """The code is shown on this answer only (never stored in clear, never redirected to)."""
    web.check_csrf(session.csrf, csrf)
    try:
        issued = await run_in_threadpool(
            lambda: enrollment.issue_code(
                context.db,
                kecamatan=kecamatan,
                ttl=timedelta(hours=hours),
                label=label,
                now=utc_now(),
            )
        )
    except Refusal as exc:
        await note_refusal(request, exc)
        return await _devices_page(request, session, context, error=exc.message, status=exc.status)
    return await _devices_page(request, session, context, issued=issued)


@router.post("/perangkat/{device_id}/cabut")
async def revoke_device(
    session: Admin,
    context: ContextDep,
    csrf: web.CsrfField,
    device_id: Annotated[str, Path(min_length=1, max_length=64)],
) -> Response:
    web.check_csrf(session.csrf, csrf)
    await run_in_threadpool(lambda: enrollment.revoke_device(context.db, device_id, now=utc_now()))
    return RedirectResponse(f"{web.PREFIX}/admin/perangkat?selesai=dicabut", status_code=303)


def _audit_view(context: Any) -> dict[str, Any]:
    with context.db.read() as conn:
        intact, broken_at = access_log.verify_audit_chain(conn)
        total = conn.execute("SELECT count(*) FROM access_log").fetchone()[0]
        latest = conn.execute(
            "SELECT seq FROM access_log ORDER BY seq DESC LIMIT 1 OFFSET ?", (AUDIT_ROWS - 1,)
        ).fetchone()
        rows = [r for r in access_log.entries(conn) if latest is None or r.seq >= latest[0]]
        refusals = audit.list_refusals(conn, limit=AUDIT_ROWS)
    names = {u.user_id: u.full_name for u in accounts.list_users(context.db)}
    names[accounts.CLI_ACTOR] = "Konsol server (kk-server)"
    return {
        "intact": intact,
        "broken_at": broken_at,
        "total": total,
        "rows": list(reversed(rows)),
        "names": names,
        "refusals": refusals,
    }


@router.get("/audit")
async def audit_page(request: Request, session: Admin, context: ContextDep) -> Response:
    view = await run_in_threadpool(_audit_view, context)
    return render(request, "admin_audit.html", {"session": session, **view})
