"""The Kepala Dinas's electronic signature (SOP step 5) and the KK number SIAK issued.

* ``POST /api/v1/tte/sign-batch``: sign a queue of approved applications with one
  passphrase entry (:mod:`sync_server.services.kk_signing`); per-application results.
* ``PUT /api/v1/applications/{id}/kk-number``: the number SIAK issued for a new family,
  entered by the verifikator or the Kabid (only with ``KK_SERVER_KK_NUMBER_ALLOCATOR=siak``
  does signing need it; :mod:`sync_server.services.kk_numbers`).

The passphrase travels in the JSON body (over TLS in production), is held as a pydantic
``SecretStr`` (hidden from reprs and tracebacks) and is dropped with the request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ApplicationIdPath, ClientIpDep, ContextDep, require_roles
from sync_server.clock import stamp, utc_now
from sync_server.schemas import (
    ErrorResponse,
    KKNumberEntered,
    KKNumberEntry,
    SignBatchRequest,
    SignBatchResponse,
    SignResult,
)
from sync_server.services import access_log, kk_numbers, kk_signing
from sync_server.services.staff_auth import StaffSession

router = APIRouter(prefix="/api/v1", tags=["tte"])

KepalaDinas = Annotated[StaffSession, Depends(require_roles(Role.KEPALA_DINAS))]
NumberingStaff = Annotated[StaffSession, Depends(require_roles(Role.VERIFIKATOR, Role.KABID))]


@router.post(
    "/tte/sign-batch",
    response_model=SignBatchResponse,
    responses={
        400: {"model": ErrorResponse, "description": "request.invalid_body"},
        401: {"model": ErrorResponse, "description": "auth.token_*"},
        403: {"model": ErrorResponse, "description": "auth.forbidden_role (not Kepala Dinas)"},
        422: {
            "model": ErrorResponse,
            "description": "tte.key_unreadable (wrong passphrase: nothing signed), "
            "tte.passphrase_required",
        },
        503: {"model": ErrorResponse, "description": "tte.not_configured"},
    },
)
async def sign_batch(
    body: SignBatchRequest, session: KepalaDinas, context: ContextDep, ip: ClientIpDep
) -> SignBatchResponse:
    """Sign the KKs of up to 100 approved applications with one passphrase entry.

    The key is opened once (a wrong passphrase signs nothing: 422 ``tte.key_unreadable``).
    Each application is then signed in its own transaction: decision ``sign``, KK number,
    KK PDF at PAdES B-LT with the verification QR code, superseding earlier KKs of a kept
    number, and ``application.kk_ready`` to the counter. One that cannot be signed (not
    ``approved``, no SIAK number...) is reported with its code and leaves nothing behind;
    the rest are still signed.
    """
    user = session.user
    config = context.config
    passphrase = body.passphrase.get_secret_value()

    outcomes = await run_in_threadpool(
        lambda: kk_signing.sign_with_passphrase(
            context.db,
            config,
            passphrase,
            body.application_ids,
            actor_id=user.user_id,
            actor_name=user.full_name,
            client_ip=ip,
            clock=utc_now,
        )
    )
    results = [_result(o) for o in outcomes]
    signed = sum(1 for r in results if r.status == "signed")
    return SignBatchResponse(results=results, signed=signed, refused=len(results) - signed)


def _result(outcome: kk_signing.SignOutcome) -> SignResult:
    if outcome.refusal is None:
        return SignResult(
            application_id=outcome.application_id,
            status="signed",
            kk_number=outcome.kk_number,
            verification_url=outcome.verification_url,
            superseded=outcome.superseded,
        )
    return SignResult(
        application_id=outcome.application_id,
        status="refused",
        code=outcome.refusal.code,
        detail=outcome.refusal.message,
        http_status=outcome.refusal.status,
    )


@router.put(
    "/applications/{application_id}/kk-number",
    response_model=KKNumberEntered,
    responses={
        401: {"model": ErrorResponse, "description": "auth.token_*"},
        403: {"model": ErrorResponse, "description": "auth.forbidden_role"},
        404: {"model": ErrorResponse, "description": "application.unknown"},
        409: {
            "model": ErrorResponse,
            "description": "kk_number.taken, kk_number.locked (already signed), "
            "kk_number.existing_kept (a data change keeps the family's number)",
        },
        422: {"model": ErrorResponse, "description": "kk_number.invalid, wrong_kecamatan"},
    },
)
async def enter_kk_number(
    application_id: ApplicationIdPath,
    body: KKNumberEntry,
    session: NumberingStaff,
    context: ContextDep,
    ip: ClientIpDep,
) -> KKNumberEntered:
    """Record the KK number SIAK issued for a new family, before the Kepala Dinas signs.

    The number must be 16 digits starting with the family's kecamatan code and never used
    before (by any family, in this system or entered for another application). It can be
    corrected until the KK is signed. Recorded in the access log.
    """
    user = session.user

    def work() -> None:
        now = utc_now()
        with context.db.write() as conn:
            kk_numbers.enter_siak_number(
                conn,
                application_id=application_id,
                kk_number=body.kk_number,
                actor_id=user.user_id,
                now=now,
            )
            access_log.append(
                conn,
                at=stamp(now),
                actor_id=user.user_id,
                role=user.role.value,
                client_ip=ip,
                action=access_log.KK_NUMBER_ENTERED,
                application_id=application_id,
                detail=f"nomor KK dari SIAK {body.kk_number}",
            )

    await run_in_threadpool(work)
    return KKNumberEntered(application_id=application_id, kk_number=body.kk_number)
