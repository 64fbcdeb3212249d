"""``/api/v1/queue``: the caller's work queue (:mod:`sync_server.services.queues`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ContextDep, require_roles
from sync_server.api.pagination import DEFAULT_LIMIT, Limit, Offset
from sync_server.clock import utc_now
from sync_server.schemas import ErrorResponse, QueuePage
from sync_server.services import queues
from sync_server.services.staff_auth import StaffSession

router = APIRouter(prefix="/api/v1", tags=["queue"])

QueueStaff = Annotated[
    StaffSession, Depends(require_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS))
]
_Q = "Application id or applicant NIK prefix, or part of the applicant's name."


@router.get(
    "/queue",
    response_model=QueuePage,
    responses={
        400: {"model": ErrorResponse, "description": "request.invalid_body (limit, offset, q)"},
        401: {"model": ErrorResponse, "description": "auth.token_*"},
        403: {"model": ErrorResponse, "description": "auth.forbidden_role (admin)"},
    },
)
async def queue(
    session: QueueStaff,
    context: ContextDep,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
    q: Annotated[str | None, Query(max_length=queues.MAX_SEARCH, description=_Q)] = None,
) -> QueuePage:
    """Applications waiting for my step, oldest first, with time in the step against the
    SOP's target (verifikator: diajukan; Kabid: divalidasi; Kepala Dinas: diverifikasi).
    ``q`` searches: application id or applicant NIK prefix, or part of the applicant's name."""
    state = queues.QUEUE_STATE[session.user.role]
    entries, total = await run_in_threadpool(
        lambda: queues.read_queue(
            context.db, state, limit=limit, offset=offset, now=utc_now(), search=q
        )
    )
    return QueuePage.model_validate(
        {"items": [e.to_dict() for e in entries], "total": total, "limit": limit, "offset": offset}
    )
