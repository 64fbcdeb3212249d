"""``GET /api/v1/applications/{application_id}``: one application for central review
(:mod:`sync_server.services.application_read`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ApplicationIdPath, ClientIpDep, ContextDep, require_roles
from sync_server.clock import utc_now
from sync_server.schemas import ApplicationDetail, ErrorResponse
from sync_server.services import application_read
from sync_server.services.staff_auth import StaffSession

router = APIRouter(prefix="/api/v1", tags=["applications"])

# Admin manages accounts and devices and takes no decision: it has no need to see
# citizens' personal data, so it is refused like on the queue and decisions.
ReviewingStaff = Annotated[
    StaffSession, Depends(require_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS))
]


@router.get(
    "/applications/{application_id}",
    response_model=ApplicationDetail,
    responses={
        400: {"model": ErrorResponse, "description": "request.invalid_body (purpose)"},
        401: {"model": ErrorResponse, "description": "auth.token_*"},
        403: {"model": ErrorResponse, "description": "auth.forbidden_role (admin)"},
        404: {"model": ErrorResponse, "description": "application.unknown"},
    },
)
async def read_application(
    application_id: ApplicationIdPath,
    session: ReviewingStaff,
    context: ContextDep,
    ip: ClientIpDep,
    purpose: Annotated[str | None, Query(max_length=200)] = None,
) -> ApplicationDetail:
    """The application's stored data (snapshot as of the last applied counter edit), its
    state and state label, the requirement checklist (each requirement attached or missing,
    as of the office's date) and its history (who did what, from/to state, reasons, device
    and server times), for the verifikator, Kabid and Kepala Dinas.

    ``scans`` lists the document scans (complete or still arriving); each image is read
    with ``GET /api/v1/applications/{application_id}/scans/{scan_id}``.

    Every successful read is recorded in the hash-chained access log (reader, role, client
    IP, ``purpose`` or "detail view") in the same transaction as the read; ``access_seq``
    is that record. An unknown application discloses nothing and is not recorded.
    """
    user = session.user
    detail = await run_in_threadpool(
        lambda: application_read.read_application(
            context.db,
            application_id,
            actor_id=user.user_id,
            role=user.role,
            client_ip=ip,
            now=utc_now(),
            purpose=purpose,
        )
    )
    return ApplicationDetail.model_validate(detail)
