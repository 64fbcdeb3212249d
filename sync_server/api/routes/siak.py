"""SIAK export and entry records (:mod:`sync_server.services.siak`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ApplicationIdPath, ClientIpDep, ContextDep, require_roles
from sync_server.api.pagination import DEFAULT_LIMIT, Limit, Offset
from sync_server.clock import utc_now
from sync_server.schemas import (
    ErrorResponse,
    SiakEntryOut,
    SiakEntryRequest,
    SiakExport,
    SiakPendingPage,
)
from sync_server.services import siak, siak_format
from sync_server.services.staff_auth import StaffSession

router = APIRouter(prefix="/api/v1", tags=["siak"])

# The central staff who read applications; the admin reads no personal data.
SiakStaff = Annotated[
    StaffSession, Depends(require_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS))
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "request.invalid_body"},
    401: {"model": ErrorResponse, "description": "auth.token_*"},
    403: {"model": ErrorResponse, "description": "auth.forbidden_role (admin)"},
    404: {"model": ErrorResponse, "description": "application.unknown"},
}
_CSV_EXAMPLE = ",".join(siak_format.CSV_COLUMNS) + "\r\n"


@router.get(
    "/applications/{application_id}/siak-export",
    response_model=SiakExport,
    responses={
        **_ERRORS,
        200: {
            "description": "JSON (format=json) or CSV, one row per member (format=csv)",
            "content": {"text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE}},
        },
        409: {
            "model": ErrorResponse,
            "description": "siak.not_approved (not yet approved by the Kabid), siak.unreadable",
        },
    },
)
async def export(
    application_id: ApplicationIdPath,
    session: SiakStaff,
    context: ContextDep,
    ip: ClientIpDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """An approved application (approved, signed, issued or archived) for entry into SIAK:
    the documented JSON record, or the CSV with one row per member
    (``Content-Disposition: attachment``). Each export is recorded in the access log."""
    record = await run_in_threadpool(
        lambda: siak.export(
            context.db, application_id, actor=session.user, now=utc_now(), client_ip=ip
        )
    )
    if format == "csv":
        return Response(
            siak_format.export_csv(record).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="siak-{application_id}.csv"'},
        )
    return SiakExport.model_validate(record)


@router.post(
    "/applications/{application_id}/siak-entry",
    status_code=201,
    response_model=SiakEntryOut,
    responses={
        **_ERRORS,
        409: {
            "model": ErrorResponse,
            "description": "siak.already_entered (the existing record in siak_entry), "
            "siak.not_approved",
        },
    },
)
async def record_entry(
    application_id: ApplicationIdPath,
    body: SiakEntryRequest,
    session: SiakStaff,
    context: ContextDep,
    ip: ClientIpDep,
) -> SiakEntryOut:
    """Record that the approved application was entered into SIAK, with SIAK's reference:
    who and when are taken from the session. Once per application; recorded in the access
    log."""
    entry = await run_in_threadpool(
        lambda: siak.record_entry(
            context.db,
            application_id,
            reference=body.siak_reference,
            actor=session.user,
            now=utc_now(),
            client_ip=ip,
        )
    )
    return SiakEntryOut.model_validate(entry.to_dict())


@router.get(
    "/siak/pending",
    response_model=SiakPendingPage,
    responses={k: v for k, v in _ERRORS.items() if k != 404},
)
async def pending(
    session: SiakStaff, context: ContextDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> SiakPendingPage:
    """Approved applications not yet recorded as entered into SIAK, the longest waiting
    (since the Kabid's approval) first: what must still go into SIAK."""
    items, total = await run_in_threadpool(
        lambda: siak.pending(context.db, limit=limit, offset=offset)
    )
    return SiakPendingPage.model_validate(
        {"items": items, "total": total, "limit": limit, "offset": offset}
    )
