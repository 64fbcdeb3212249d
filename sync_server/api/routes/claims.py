"""``/api/v1/applications/{application_id}/claim``: who works on an application's current
central step (:mod:`sync_server.services.claims`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response, status
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ApplicationIdPath, ClientIpDep, ContextDep, require_roles
from sync_server.clock import utc_now
from sync_server.schemas import ClaimOut, ClaimRequest, ErrorResponse
from sync_server.services import claims
from sync_server.services.staff_auth import StaffSession

router = APIRouter(prefix="/api/v1", tags=["claims"])

ClaimingStaff = Annotated[
    StaffSession,
    Depends(require_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS, Role.ADMIN)),
]

_ERRORS = {
    401: {"model": ErrorResponse, "description": "auth.token_*"},
    403: {
        "model": ErrorResponse,
        "description": "claim.not_your_step (the caller's role does not work on this state)",
    },
    404: {"model": ErrorResponse, "description": "application.unknown"},
    409: {
        "model": ErrorResponse,
        "description": "claim.not_claimable (no central step in this state)",
    },
}


@router.post(
    "/applications/{application_id}/claim",
    response_model=ClaimOut,
    responses={
        **_ERRORS,
        400: {"model": ErrorResponse, "description": "request.invalid_body"},
        409: {
            "model": ErrorResponse,
            "description": "claim.held (someone else holds it: claimed_by in the body; send "
            "reassign to take it over), claim.not_claimable",
        },
        422: {
            "model": ErrorResponse,
            "description": "claim.assignee_required (admin), claim.assignee_unknown, "
            "claim.assignee_wrong_role",
        },
    },
)
async def claim(
    application_id: ApplicationIdPath,
    session: ClaimingStaff,
    context: ContextDep,
    ip: ClientIpDep,
    body: Annotated[ClaimRequest | None, Body()] = None,
) -> ClaimOut:
    """Take the application's current step (verifikator: diajukan; Kabid: divalidasi;
    Kepala Dinas: diverifikasi) so colleagues see who works on it and nobody else decides
    it meanwhile.

    Without a body the caller claims for themself. ``user_id`` hands it to a colleague of
    the same role (an admin must name the account). What someone else holds is refused
    with 409 ``claim.held`` unless ``reassign`` is set by a member of the holder's role or
    an admin. Claiming what the assignee already holds changes nothing. The claim ends when
    a decision moves the application on. Recorded in the access log.
    """
    request = body or ClaimRequest()
    held = await run_in_threadpool(
        lambda: claims.claim(
            context.db,
            application_id,
            actor=session.user,
            assignee_id=request.user_id,
            reassign=request.reassign,
            now=utc_now(),
            client_ip=ip,
        )
    )
    return ClaimOut.model_validate(held.to_dict())


@router.delete(
    "/applications/{application_id}/claim",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_ERRORS,
)
async def release(
    application_id: ApplicationIdPath, session: ClaimingStaff, context: ContextDep, ip: ClientIpDep
) -> Response:
    """Release the application's current step: the holder, a member of the holder's role or
    an admin. Nothing held: nothing to do (still 204). Recorded in the access log."""
    await run_in_threadpool(
        lambda: claims.release(
            context.db, application_id, actor=session.user, now=utc_now(), client_ip=ip
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
