"""``/api/v1/sync``: every route here requires a signed request
(:mod:`sync_server.services.request_auth`); push contract: :mod:`sync_server.services.ingest`.

Pull: ``GET /api/v1/sync/pull?after=<cursor>&limit=<1..500>`` (both optional: ``after``
defaults to 0, ``limit`` to 200; signed like any sync request, over the path WITH its query
exactly as sent and the empty body). Answer 200::

    {"events": [<signed server event>, ...], "next_after": <cursor>, "more": <bool>}

with the device's own events whose cursor is greater than ``after``, ascending, at most
``limit``; ``next_after`` is the last cursor returned (``after`` when none); ``more`` says
whether more are waiting. The body is gzip-compressed (``Content-Encoding: gzip``) when the
client accepts gzip and it is worth it. Errors: 400 ``pull.bad_parameter`` (``name``: which
parameter), 409 ``pull.cursor_ahead`` (``latest``) when ``after`` is beyond every cursor the
server ever handed out. Pulling changes nothing on the server: a pull whose answer was lost
is simply asked again with the same ``after``.
"""

from __future__ import annotations

import gzip
import re

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from protocol.canonical import MAX_SAFE_INTEGER
from sync_server.api.deps import ContextDep, SignedRequestDep, authenticated_request
from sync_server.clock import utc_now
from sync_server.errors import Refusal
from sync_server.schemas import ErrorResponse, PullResponse, PushResponse
from sync_server.services import feed, ingest

GZIP_MIN_BYTES = 512
"""Smaller answers go as they are: gzip's header and trailer would eat the saving."""
_DIGITS = re.compile(r"^[0-9]{1,16}$")

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
        scans=context.scan_limits,
    )
    async with context.push_slots:
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


@router.get(
    "/pull",
    response_model=PullResponse,
    responses={
        400: {"model": ErrorResponse, "description": "pull.bad_parameter"},
        409: {"model": ErrorResponse, "description": "pull.cursor_ahead"},
    },
)
async def pull(request: Request, signed: SignedRequestDep, context: ContextDep) -> Response:
    """The device's signed server events after a cursor (decisions, operator accounts,
    transfers, KK ready, message statuses), oldest first."""
    after = _int_param(request, "after", default=0, low=0, high=MAX_SAFE_INTEGER)
    limit = _int_param(request, "limit", default=feed.DEFAULT_PAGE, low=1, high=feed.MAX_PAGE)
    page = await run_in_threadpool(
        feed.read_page, context.db, signed.device.device_id, after=after, limit=limit
    )
    body = page.to_json()
    # Built by hand from the stored signed JSON: re-encoding through a model would cost time
    # and could change bytes a counter verifies.
    headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-store"}
    if len(body) >= GZIP_MIN_BYTES and accepts_gzip(request.headers.get("accept-encoding")):
        body = await run_in_threadpool(gzip.compress, body, 6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return Response(content=body, media_type="application/json", headers=headers)


def _int_param(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    values = request.query_params.getlist(name)
    if not values:
        return default
    if len(values) > 1:
        raise _bad_param(name, "hanya boleh disebut sekali")
    if not _DIGITS.match(values[0]) or not low <= int(values[0]) <= high:
        raise _bad_param(name, f"harus bilangan bulat {low} sampai {high}")
    return int(values[0])


def _bad_param(name: str, detail: str) -> Refusal:
    return Refusal("pull.bad_parameter", status=400, extra={"name": name}, name=name, detail=detail)


def accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header accepts gzip (RFC 9110 §12.5.3: an explicit
    ``gzip`` entry wins over ``*``; ``q=0`` refuses)."""
    explicit: float | None = None
    wildcard: float | None = None
    for part in (header or "").split(","):
        coding, _, params = part.partition(";")
        coding = coding.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if coding in ("gzip", "x-gzip"):
            explicit = quality if explicit is None else max(explicit, quality)
        elif coding == "*":
            wildcard = quality
    chosen = explicit if explicit is not None else wildcard
    return chosen is not None and chosen > 0
