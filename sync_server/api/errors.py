"""One error body for every failure: RFC 9457 problem details with a stable code.

``application/problem+json``: ``{"type": "urn:kk-online:problem:<code>", "title": <HTTP
reason>, "status", "detail": <Indonesian text for people>, "code": <stable machine code>,
...extra}``. Clients branch on ``code``, never on ``detail``.

* :class:`~sync_server.errors.Refusal`: its status, code, Indonesian message and extra
  fields (``seq``, ``expected_seq``, ``acked_seq``, ``server_time``, ``retry_after``...);
  ``enroll.throttled`` and ``auth.throttled`` also set ``Retry-After``; a 401 ``auth.*``
  sets ``WWW-Authenticate: Bearer``. Every refusal is logged (code, status,
  device id, seq, client IP: never bodies, codes, signatures or personal data) and recorded
  in the ``refusals`` table for admins, except throttled enrollments (a flood must not fill
  the disk); the same holds for throttled staff logins and public KK verifications
  (``verify.throttled``, ``verify.not_found``).
* any other domain error (:class:`~protocol.errors.KKError`): 400 with its code.
* FastAPI's request validation: 400 ``request.invalid_body``; Starlette's HTTP errors:
  ``http.not_found`` (404), ``http.method_not_allowed`` (405), ``http.error``.
* anything unexpected: 500 ``server.internal`` (the traceback goes to the log only).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from protocol.errors import KKError, message_for
from sync_server.clock import stamp, utc_now
from sync_server.errors import Refusal
from sync_server.storage import audit

__all__ = [
    "install_error_handlers",
    "error_response",
    "problem_body",
    "note_refusal",
    "PROBLEM_TYPE_PREFIX",
]

log = logging.getLogger("sync_server.refusals")

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NOT_RECORDED = frozenset(
    {"enroll.throttled", "auth.throttled", "verify.throttled", "verify.not_found"}
)


PROBLEM_TYPE_PREFIX = "urn:kk-online:problem:"


def problem_body(
    status: int, code: str, message: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The RFC 9457 members of one error; ``extra`` never overrides the standard ones."""
    body = {k: v for k, v in (extra or {}).items() if k not in _RESERVED}
    body.update(
        type=PROBLEM_TYPE_PREFIX + code,
        title=_reason(status),
        status=status,
        detail=message,
        code=code,
    )
    return body


_RESERVED = frozenset({"type", "title", "status", "detail", "code", "instance"})


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_response(
    status: int, code: str, message: str, extra: dict[str, Any] | None = None, **kw: Any
) -> JSONResponse:
    """A ``problem+json`` answer (:func:`problem_body`)."""
    return JSONResponse(
        status_code=status,
        content=problem_body(status, code, message, extra),
        media_type="application/problem+json",
        **kw,
    )


def _claimed_device(request: Request) -> str | None:
    claimed = getattr(request.state, "claimed_device", None)
    return claimed if isinstance(claimed, str) and _ID.match(claimed) else None


async def _refusal(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refusal)
    await note_refusal(request, exc)
    headers = {}
    if "retry_after" in exc.extra:
        headers["Retry-After"] = str(exc.extra["retry_after"])
    if exc.status == 401 and exc.code.startswith("auth."):
        headers["WWW-Authenticate"] = 'Bearer realm="kk-online"'
    return error_response(exc.status, exc.code, exc.message, exc.extra, headers=headers)


async def note_refusal(request: Request, exc: Refusal) -> None:
    """Log a refusal and record it for admins (see the module docstring); the staff pages
    call this for the refusals they show on a form instead of answering with an error."""
    device = _claimed_device(request)
    seq = exc.extra.get("seq")
    ip = request.client.host if request.client else "unknown"
    log.warning(
        "refused %s %s status=%d code=%s device=%s seq=%s ip=%s",
        request.method,
        request.url.path,
        exc.status,
        exc.code,
        device or "-",
        seq if seq is not None else "-",
        ip,
    )
    if exc.code not in _NOT_RECORDED:
        context = getattr(request.app.state, "context", None)
        if context is not None:
            await run_in_threadpool(
                _record,
                context.db,
                ip=ip,
                device=device,
                method=request.method,
                path=request.url.path[:200],
                status=exc.status,
                code=exc.code,
                seq=seq if isinstance(seq, int) else None,
            )


def _record(db: Any, **fields: Any) -> None:
    try:
        with db.write() as conn:
            audit.record_refusal(
                conn,
                at=stamp(utc_now()),
                client_ip=fields["ip"],
                device_id=fields["device"],
                method=fields["method"],
                path=fields["path"],
                status=fields["status"],
                code=fields["code"],
                seq=fields["seq"],
            )
    except Exception:  # the answer matters more than the record; the log still has it
        log.exception("could not record a refusal")


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KKError)
    return await _refusal(request, Refusal(exc.code, status=400, message=exc.message))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return await _refusal(request, Refusal("request.malformed_json", status=400))
    return await _refusal(request, invalid_body(errors))


def invalid_body(errors: list[Any]) -> Refusal:
    """400 ``request.invalid_body`` from pydantic's error list, in Indonesian."""
    fields = [".".join(str(p) for p in e.get("loc", ()) if p != "body") for e in errors]
    first = errors[0] if errors else {}
    where = (fields[0] if fields else "") or "isi"
    detail = (
        f"kolom {where} wajib diisi"
        if first.get("type") == "missing"
        else f"kolom {where} tidak sah"
    )
    return Refusal("request.invalid_body", status=400, extra={"fields": fields}, detail=detail)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        code = "http.not_found"
    elif exc.status_code == 405:
        code = "http.method_not_allowed"
    else:
        code = "http.error"
    return error_response(
        exc.status_code,
        code,
        message_for(code, status=exc.status_code),
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "server.internal", message_for("server.internal"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Refusal, _refusal)
    app.add_exception_handler(KKError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
