"""``/api/v1/sync``: every route here requires a signed request
(:mod:`sync_server.services.request_auth`); push contract: :mod:`sync_server.services.ingest`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ContextDep, SignedRequestDep, authenticated_request
from sync_server.clock import utc_now
from sync_server.schemas import ErrorResponse, PushResponse
from sync_server.services import ingest

router = APIRouter(
    prefix="/api/v1/sync",
    tags=["sync"],
    # Declared on the router so no sync route can forget it; FastAPI runs it once per
    # request even when a route also takes its result as a parameter.
    dependencies=[Depends(authenticated_request)],
    responses={
        401: {"model": ErrorResponse, "description": "request.* and device.unknown"},
        403: {"model": ErrorResponse, "description": "device.revoked"},
        413: {"model": ErrorResponse, "description": "request.too_large"},
    },
)


@router.post(
    "/push",
    response_model=PushResponse,
    responses={
        400: {"model": ErrorResponse, "description": "malformed body or event, bad signature"},
        403: {"model": ErrorResponse, "description": "event.wrong_device, device.revoked"},
        409: {"model": ErrorResponse, "description": "event.seq_gap/chain_broken/forked"},
        415: {"model": ErrorResponse, "description": "request.unsupported_encoding"},
    },
)
async def push(signed: SignedRequestDep, context: ContextDep) -> PushResponse:
    """Store a batch of the device's change log (all or nothing) and acknowledge it."""
    config = context.config
    limits = ingest.PushLimits(
        max_decompressed_bytes=config.max_decompressed_bytes,
        max_events=config.max_events_per_batch,
    )
    outcome = await run_in_threadpool(
        lambda: ingest.receive_push(
            context.db,
            signed.device,
            signed.body,
            signed.content_encoding,
            limits=limits,
            now=utc_now(),
        )
    )
    return PushResponse.model_validate(
        {"acked_seq": outcome.acked_seq, "results": [r.to_dict() for r in outcome.results]}
    )
