"""``POST /staf/permohonan/{id}/klaim``: take, take over, hand on or release an
application's current step from the pages ("Ambil berkas", "Lepaskan").

All rules are :mod:`sync_server.services.claims`' own (who may claim, take over, hand to a
colleague, release; everything in the access log); this module only turns the form into a
call and the outcome into a redirect with a fixed notice. Refusals (``claim.held``,
``claim.not_your_step``...) become the Indonesian error page like any other refusal.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.clock import utc_now
from sync_server.services import claims
from sync_server.web import session as web
from sync_server.web.pages_review import Reviewer
from sync_server.web.views import ClaimAction

__all__ = ["router"]

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)


@router.post("/permohonan/{application_id}/klaim")
async def claim_form(
    application_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: Reviewer,
    context: ContextDep,
    ip: ClientIpDep,
    csrf: web.CsrfField,
    aksi: Annotated[ClaimAction, Form()],
    user_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    web.check_csrf(session.csrf, csrf)
    actor = session.staff.user
    if aksi is ClaimAction.RELEASE:
        await run_in_threadpool(
            lambda: claims.release(
                context.db, application_id, actor=actor, now=utc_now(), client_ip=ip
            )
        )
    else:
        await run_in_threadpool(
            lambda: claims.claim(
                context.db,
                application_id,
                actor=actor,
                assignee_id=user_id if aksi is ClaimAction.HAND_ON and user_id else None,
                reassign=aksi is not ClaimAction.TAKE,
                now=utc_now(),
                client_ip=ip,
            )
        )
    return RedirectResponse(
        f"{web.PREFIX}/permohonan/{application_id}?klaim={aksi.value}", status_code=303
    )
