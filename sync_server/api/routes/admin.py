"""``/api/v1/admin``: the admin's view of the hash-chained access log
(:mod:`sync_server.services.access_log`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ContextDep, require_roles
from sync_server.api.pagination import DEFAULT_LIMIT, Limit, Offset
from sync_server.schemas import AuditPage, AuditVerification, ErrorResponse
from sync_server.services import access_log
from sync_server.services.staff_auth import StaffSession

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

Admin = Annotated[StaffSession, Depends(require_roles(Role.ADMIN))]

_ERRORS = {
    401: {"model": ErrorResponse, "description": "auth.token_*"},
    403: {"model": ErrorResponse, "description": "auth.forbidden_role (not an admin)"},
}


@router.get(
    "/audit",
    response_model=AuditPage,
    responses={**_ERRORS, 400: {"model": ErrorResponse, "description": "request.invalid_body"}},
)
async def audit(
    session: Admin,
    context: ContextDep,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    application_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> AuditPage:
    """Access-log rows, newest first, all or those of one application: who read or decided
    what, when, from where and why. The log names people and applications, never their
    data."""
    records, total = await run_in_threadpool(
        lambda: access_log.page(
            context.db, limit=limit, offset=offset, application_id=application_id
        )
    )
    return AuditPage.model_validate(
        {"items": [asdict(r) for r in records], "total": total, "limit": limit, "offset": offset}
    )


@router.get("/audit/verify", response_model=AuditVerification, responses=_ERRORS)
async def verify(session: Admin, context: ContextDep) -> AuditVerification:
    """Check the whole chain: every row's hash, its link to the previous row and the
    numbering; names the first row altered or following a deleted one (the same check as
    ``kk-server audit verify``)."""
    report = await run_in_threadpool(access_log.check_chain, context.db)
    return AuditVerification.model_validate(asdict(report))
