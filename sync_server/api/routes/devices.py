"""``/api/v1/devices``: enrollment of counter terminals (unauthenticated: the code is the
credential). Contract: :mod:`sync_server.services.enrollment`."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, status
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ClientIpDep, ContextDep, read_body
from sync_server.api.errors import invalid_body
from sync_server.clock import stamp, utc_now
from sync_server.errors import Refusal
from sync_server.schemas import EnrollRequest, EnrollResponse, ErrorResponse
from sync_server.services import enrollment

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])

MAX_ENROLL_BODY = 16 * 1024
"""An enrollment body is a code, a key and a label: a few hundred bytes."""

_ERRORS = {
    400: {"model": ErrorResponse, "description": "enroll.code_unknown, key.invalid, request.*"},
    409: {"model": ErrorResponse, "description": "enroll.code_used, enroll.key_in_use"},
    410: {"model": ErrorResponse, "description": "enroll.code_expired"},
    413: {"model": ErrorResponse, "description": "request.too_large"},
    429: {"model": ErrorResponse, "description": "enroll.throttled (Retry-After)"},
}


@router.post(
    "/enroll",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrollResponse,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": EnrollRequest.model_json_schema()}},
        }
    },
)
async def enroll(request: Request, context: ContextDep, ip: ClientIpDep) -> EnrollResponse:
    """Enroll a device with a one-time code and its public key; returns its id and the
    server's public key to pin."""
    raw = await read_body(request, MAX_ENROLL_BODY)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal("request.malformed_json", status=400) from None
    try:
        body = EnrollRequest.model_validate(data)
    except PydanticValidationError as exc:
        raise invalid_body(list(exc.errors())) from None
    now = utc_now()
    device = await run_in_threadpool(
        lambda: enrollment.enroll(
            context.db,
            code=body.code,
            public_key=body.public_key,
            label=body.label,
            client_ip=ip,
            now=now,
            throttle=context.throttle,
        )
    )
    return EnrollResponse(
        device_id=device.device_id,
        kecamatan=device.kecamatan,
        server_public_key=context.server_public_key,
        server_time=stamp(utc_now()),
        **context.scan_key_offer(),
    )
