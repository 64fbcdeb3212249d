"""``/api/v1/applications/{application_id}/decisions``: central decisions (SOP steps 3 to 5).

The route authenticates the staff member and hands the move to
:func:`sync_server.services.decisions.record_decision`, which judges it with
:func:`protocol.workflow.transition`, writes state, audit row and the signed feed event for
the owning counter in one write transaction. The workflow's errors become HTTP statuses here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from protocol.errors import KKError
from protocol.workflow import Action, Reasons, Role, State
from sync_server.api.deps import ApplicationIdPath, ClientIpDep, ContextDep, require_roles
from sync_server.clock import utc_now
from sync_server.errors import refusal_for
from sync_server.schemas import DecisionRequest, DecisionResponse, ErrorResponse
from sync_server.services import decisions, kk_signing
from sync_server.services.staff_auth import StaffSession

router = APIRouter(prefix="/api/v1", tags=["decisions"])

DecidingStaff = Annotated[
    StaffSession, Depends(require_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS))
]


@router.post(
    "/applications/{application_id}/decisions",
    response_model=DecisionResponse,
    responses={
        400: {"model": ErrorResponse, "description": "request.invalid_body"},
        401: {"model": ErrorResponse, "description": "auth.token_*"},
        403: {
            "model": ErrorResponse,
            "description": "auth.forbidden_role (admin), workflow.role_not_permitted "
            "(e.g. a Kabid verifying), decision.actor_*",
        },
        404: {"model": ErrorResponse, "description": "application.unknown"},
        409: {
            "model": ErrorResponse,
            "description": "decision.conflict (the state changed since the caller saw it; "
            "current_state and expected_state in the body), claim.held_by_other (another "
            "staff member holds the step: claimed_by in the body), "
            "workflow.illegal_transition",
        },
        422: {
            "model": ErrorResponse,
            "description": "workflow.reason_required, workflow.unknown_reason_item (issues)",
        },
    },
)
async def decide(
    application_id: ApplicationIdPath,
    body: DecisionRequest,
    session: DecidingStaff,
    context: ContextDep,
    ip: ClientIpDep,
) -> DecisionResponse:
    """Verify (verifikator), approve (Kabid), sign (Kepala Dinas), or return
    (verifikator, Kabid) / reject TTE (Kepala Dinas) with reasons: checklist item codes
    and/or free text. The workflow decides which role may take which action from which state.

    ``expected_state`` is the state the caller saw; when the application has moved on since
    (another staff member decided first) the answer is 409 ``decision.conflict`` and nothing
    changes: of two simultaneous decisions exactly one wins. A return or TTE rejection
    reaches the owning counter on its next pull, reasons included.

    While another staff member holds the step's claim (``/claim``) the answer is 409
    ``claim.held_by_other``; the decision ends the step's claim.

    ``sign`` by the Kepala Dinas is the TTE: it needs ``passphrase`` (the TTE key's), renders
    the KK, signs it at PAdES B-LT and tells the counter the KK is ready, exactly like a
    one-item ``POST /api/v1/tte/sign-batch``; a refusal of the signing (wrong passphrase 422
    ``tte.key_unreadable``, no SIAK number 409 ``kk_number.siak_missing``...) changes nothing.

    Every recorded decision is also appended to the hash-chained access log (actor, role,
    client IP) in the same transaction.
    """
    user = session.user
    if body.action == Action.SIGN and user.role is Role.KEPALA_DINAS:
        return await _sign(application_id, body, session, context, ip)
    reasons = (
        Reasons(items=tuple(body.reasons.items), text=body.reasons.text) if body.reasons else None
    )
    try:
        decision = await run_in_threadpool(
            lambda: decisions.record_decision(
                context.db,
                application_id=application_id,
                action=body.action,
                role=user.role,
                actor_id=user.user_id,
                actor_name=user.full_name,
                reasons=reasons,
                now=utc_now(),
                expected_state=body.expected_state,
                client_ip=ip,
            )
        )
    except KKError as exc:
        raise refusal_for(exc) from exc
    return DecisionResponse(
        application_id=decision.application_id,
        from_state=decision.from_state.value,
        to_state=decision.to_state.value,
        action=decision.action.value,
        at=decision.event.body["at"],
    )


async def _sign(
    application_id: str,
    body: DecisionRequest,
    session: StaffSession,
    context: ContextDep,
    ip: str,
) -> DecisionResponse:
    """One ``sign`` decision: the TTE of one application (``kk_signing``)."""
    user = session.user
    passphrase = body.passphrase.get_secret_value() if body.passphrase else ""

    [outcome] = await run_in_threadpool(
        lambda: kk_signing.sign_with_passphrase(
            context.db,
            context.config,
            passphrase,
            [application_id],
            actor_id=user.user_id,
            actor_name=user.full_name,
            client_ip=ip,
            clock=utc_now,
            expected_state=body.expected_state,
        )
    )
    if outcome.refusal is not None:
        raise outcome.refusal
    assert outcome.signed_at is not None
    return DecisionResponse(
        application_id=application_id,
        from_state=State.APPROVED.value,
        to_state=State.SIGNED.value,
        action=Action.SIGN.value,
        at=outcome.signed_at,
    )
