"""The public KK verification the QR code points at (:mod:`sync_server.services.verification`).

* ``GET /verifikasi/{token}``: a server-rendered page in Bahasa Indonesia
  (``templates/verify/kk.html``, Jinja2 with autoescaping), no script, no external resource;
* ``GET /api/v1/verify/{token}``: the same as JSON (404 ``verify.not_found`` for an unknown
  token).

No login: anyone holding a KK may check it. Both count against one per-address limit
(``KK_SERVER_VERIFY_RATE_PER_MINUTE``, 429 ``verify.throttled`` with ``Retry-After``).
Answers are ``no-store``, ``Referrer-Policy: no-referrer`` (the token is in the URL) and
``X-Robots-Tag: noindex``.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.errors import Refusal
from sync_server.schemas import ErrorResponse
from sync_server.services import verification
from sync_server.services.enrollment import EnrollmentThrottle

router = APIRouter(tags=["verifikasi"])

Token = Annotated[str, Path(max_length=100)]

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
_PAGE_HEADERS = {
    **_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("templates", "verify"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _throttle(request: Request, context: ContextDep) -> EnrollmentThrottle:
    """The app's one look-up limiter (made on first use)."""
    state = request.app.state
    if getattr(state, "verify_throttle", None) is None:
        state.verify_throttle = EnrollmentThrottle(
            max_failures=context.config.verify_rate_per_minute,
            window_seconds=60,
            code="verify.throttled",
        )
    return state.verify_throttle


ThrottleDep = Annotated[EnrollmentThrottle, Depends(_throttle)]


def _count(throttle: EnrollmentThrottle, ip: str) -> None:
    throttle.check(ip)
    throttle.record_failure(ip)  # every look-up counts, found or not


@router.get("/verifikasi/{token}", response_class=HTMLResponse, include_in_schema=False)
async def verification_page(
    token: Token, context: ContextDep, ip: ClientIpDep, throttle: ThrottleDep
) -> HTMLResponse:
    """The page a phone opens from the KK's QR code."""
    values: dict[str, Any]
    try:
        _count(throttle, ip)
    except Refusal as refused:
        values = {"throttled": True, "message": refused.message, "result": None}
        status, headers = 429, {**_PAGE_HEADERS, "Retry-After": str(refused.extra["retry_after"])}
    else:
        result = await run_in_threadpool(verification.look_up, context.db, token)
        values = {"throttled": False, "result": result}
        status = 404 if result.status is verification.Status.TIDAK_DITEMUKAN else 200
        headers = _PAGE_HEADERS
    if values["result"] is None:
        values["result"] = verification.Verification(verification.Status.TIDAK_DITEMUKAN)
    html = _templates().get_template("kk.html").render(**values)
    return HTMLResponse(html, status_code=status, headers=headers)


@router.get(
    "/api/v1/verify/{token}",
    responses={
        200: {
            "description": "status aktif / tidak_aktif with label, masked KK number, issue "
            "date, signer, signing time, superseded_on and the PDF's SHA-256",
            "content": {
                "application/json": {
                    "example": {
                        "status": "aktif",
                        "label": "Aktif",
                        "kk_number": "160601******0001",
                        "issued_on": "25-11-2026",
                        "signer": "Kepala Dinas Dukcapil Kabupaten Musi Banyuasin",
                        "signed_at": "25-11-2026 10:00 WIB",
                        "superseded_on": "",
                        "sha256": "3f1c...",
                    }
                }
            },
        },
        404: {"model": ErrorResponse, "description": "verify.not_found"},
        429: {"model": ErrorResponse, "description": "verify.throttled (Retry-After)"},
    },
)
async def verification_json(
    token: Token, context: ContextDep, ip: ClientIpDep, throttle: ThrottleDep
) -> JSONResponse:
    """Public, no login: the status of the KK whose QR code carries ``token``."""
    _count(throttle, ip)
    result = await run_in_threadpool(verification.look_up, context.db, token)
    if result.status is verification.Status.TIDAK_DITEMUKAN:
        raise Refusal("verify.not_found", status=404, extra={"verification": result.status.value})
    return JSONResponse(result.to_dict(), headers=_HEADERS)
