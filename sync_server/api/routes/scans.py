"""Scan routes (:mod:`sync_server.services.scans`; protocol: docs/protocol.md §11).

Counters (signed requests, like every ``/api/v1/sync`` route):

* ``GET  /api/v1/sync/scans/key``: the server's X25519 public key and its Ed25519 signature;
* ``POST /api/v1/sync/scans/status``: the missing check, ``{"scan_ids": [...]}`` (at most
  500) answered ``{"scans": [{"scan_id", "status", "offset", "bytes"}]}``;
* ``POST /api/v1/sync/scans/key/recover``: the counter's data key re-issued to an operator
  (:mod:`sync_server.services.scan_key_recovery`);
* ``PATCH /api/v1/sync/scans/{scan_id}?offset=<n>&sha256=<hex>``: one chunk of the blob
  (``application/offset+octet-stream``) written at ``offset``; ``sha256`` is the chunk's.
  Both travel in the query so the request signature covers them (headers are not signed).
  Answer ``{"scan_id", "offset", "complete"}``.

* ``PUT /api/v1/sync/documents/box-key``: ``{"box_public_key": <X25519, base64>}``, the key
  the device's downloads are sealed for;
* ``GET /api/v1/sync/documents/{application_id}?offset=<n>&length=<m>``: a piece of the
  signed KK of an application the device owns, encrypted for the device's box key
  (:mod:`sync_server.services.device_documents`).

Staff (bearer token; verifikator, Kabid, Kepala Dinas):

* ``GET /api/v1/applications/{application_id}/scans/{scan_id}``: the decrypted scan with its
  media type, recorded in the access log.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from protocol.canonical import MAX_SAFE_INTEGER
from protocol.scans import is_scan_id
from protocol.workflow import Role
from sync_server.api.deps import (
    ApplicationIdPath,
    ClientIpDep,
    ContextDep,
    SignedRequestDep,
    authenticated_request,
    require_roles,
)
from sync_server.api.files import inline_file
from sync_server.clock import utc_now
from sync_server.errors import Refusal
from sync_server.schemas import ErrorResponse
from sync_server.services import device_documents, scan_key_recovery, scans
from sync_server.services.staff_auth import StaffSession

router = APIRouter(
    prefix="/api/v1/sync/scans",
    tags=["scans"],
    dependencies=[Depends(authenticated_request)],
    responses={
        401: {"model": ErrorResponse, "description": "request.* and device.unknown"},
        403: {"model": ErrorResponse, "description": "device.revoked, scan.not_yours"},
        413: {"model": ErrorResponse, "description": "request.too_large"},
    },
)

staff_router = APIRouter(prefix="/api/v1", tags=["applications"])

documents_router = APIRouter(
    prefix="/api/v1/sync/documents",
    tags=["scans"],
    dependencies=[Depends(authenticated_request)],
    responses={401: {"model": ErrorResponse, "description": "request.* and device.unknown"}},
)

_DIGITS = re.compile(r"^[0-9]{1,16}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

ReviewingStaff = Annotated[
    StaffSession, Depends(require_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS))
]


@router.get("/key")
async def scan_key(context: ContextDep) -> dict[str, str]:
    """The X25519 public key counters seal scan keys for, signed by the server's Ed25519
    key over ``KK-SCAN-KEY-V1\\n<key>`` (check it with the key pinned at enrollment)."""
    return context.scan_key_offer()


@router.post(
    "/key/recover",
    responses={
        400: {"model": ErrorResponse, "description": "scan_key.bad_request, request.*"},
        401: {"model": ErrorResponse, "description": "auth.invalid_credentials, request.*"},
        403: {
            "model": ErrorResponse,
            "description": "device.revoked, scan_key.not_operator, scan_key.operator_elsewhere,"
            " scan_key.escrow_foreign, auth.account_disabled",
        },
        429: {"model": ErrorResponse, "description": "auth.throttled (retry_after)"},
    },
)
async def recover_scan_key(
    signed: SignedRequestDep, context: ContextDep, ip: ClientIpDep
) -> dict[str, str]:
    """Re-issue this counter's data key to one of its operators, proven by their password:
    ``{"username", "password", "escrow", "ephemeral_key"}`` answered ``{"sealed_key"}``
    (:mod:`sync_server.services.scan_key_recovery`)."""
    if len(signed.body) > MAX_RECOVERY_BODY:
        raise Refusal(
            "request.too_large",
            status=413,
            extra={"max_bytes": MAX_RECOVERY_BODY},
            max=MAX_RECOVERY_BODY,
        )
    try:
        data = json.loads(signed.body)
    except (ValueError, RecursionError):
        raise Refusal("request.malformed_json", status=400) from None
    request = scan_key_recovery.parse_request(data)
    sealed = await run_in_threadpool(
        lambda: scan_key_recovery.reissue(
            context.db, context.box_key, signed.device, request, client_ip=ip, now=utc_now()
        )
    )
    return {"sealed_key": sealed}


MAX_RECOVERY_BODY = 8 * 1024
"""A recovery body is four short strings: a few hundred bytes."""


@router.post(
    "/status",
    responses={400: {"model": ErrorResponse, "description": "request.* body errors"}},
)
async def scan_status(signed: SignedRequestDep, context: ContextDep) -> dict[str, Any]:
    """The missing check: which of these scans the server holds, and where to resume."""
    try:
        data = json.loads(signed.body)
    except (ValueError, RecursionError):
        raise Refusal("request.malformed_json", status=400) from None
    ids = data.get("scan_ids") if isinstance(data, dict) else None
    if (
        not isinstance(ids, list)
        or len(ids) > scans.MAX_STATUS_IDS
        or not all(is_scan_id(i) for i in ids)
    ):
        raise Refusal(
            "request.invalid_body",
            status=400,
            detail=f"scan_ids: daftar paling banyak {scans.MAX_STATUS_IDS} pengenal berkas",
        )
    answers = await run_in_threadpool(
        lambda: scans.upload_status(
            context.db,
            context.blobs,
            context.box_key,
            ids,
            now=utc_now(),
            limits=context.scan_limits,
        )
    )
    return {"scans": answers}


chunks_router = APIRouter(
    prefix="/api/v1/sync/scans",
    tags=["scans"],
    responses={
        401: {"model": ErrorResponse, "description": "request.* and device.unknown"},
        403: {"model": ErrorResponse, "description": "device.revoked, scan.not_yours"},
        413: {"model": ErrorResponse, "description": "request.too_large"},
    },
)
"""The chunk upload authenticates in its handler (not as a router dependency), so that it
can keep the verified part of a body cut mid-transfer."""


@chunks_router.patch(
    "/{scan_id}",
    responses={
        400: {"model": ErrorResponse, "description": "scan.checksum_mismatch and others"},
        404: {"model": ErrorResponse, "description": "scan.unknown"},
        409: {"model": ErrorResponse, "description": "scan.offset_mismatch (with offset)"},
        422: {"model": ErrorResponse, "description": "scan.hash_mismatch/unreadable/bad_type"},
    },
)
async def upload_chunk(scan_id: str, request: Request, context: ContextDep) -> dict[str, Any]:
    """Append one chunk at ``offset``; the last one completes and verifies the scan. When
    the connection is cut mid-body, the whole encrypted chunks that arrived and open with
    the server's key are kept (:func:`sync_server.services.scans.salvage_cut_chunk`): the
    counter resumes after them."""
    try:
        signed = await authenticated_request(request, context)
    except ClientDisconnect:
        cut = getattr(request.state, "cut_body", b"")
        offset = request.query_params.get("offset", "")
        if cut and _DIGITS.match(offset):
            await run_in_threadpool(
                lambda: scans.salvage_cut_chunk(
                    context.db,
                    context.blobs,
                    context.box_key,
                    scan_id,
                    offset=int(offset),
                    data=cut,
                    now=utc_now(),
                    limits=context.scan_limits,
                )
            )
        raise
    offset = _query_int(request, "offset")
    digest = request.query_params.get("sha256", "")
    if not _HEX64.match(digest):
        raise Refusal("scan.bad_parameter", status=400, extra={"name": "sha256"}, name="sha256")
    result = await run_in_threadpool(
        lambda: scans.receive_chunk(
            context.db,
            context.blobs,
            context.box_key,
            signed.device,
            scan_id,
            offset=offset,
            chunk_sha256=digest,
            data=signed.body,
            now=utc_now(),
            limits=context.scan_limits,
        )
    )
    return {"scan_id": scan_id, "offset": result.offset, "complete": result.complete}


@documents_router.put(
    "/box-key",
    responses={400: {"model": ErrorResponse, "description": "document.bad_box_key, request.*"}},
)
async def register_box_key(signed: SignedRequestDep, context: ContextDep) -> dict[str, str]:
    """Register the X25519 public key this device's downloads are sealed for (the request
    signature vouches for it); a new key replaces the old one."""
    try:
        data = json.loads(signed.body)
    except (ValueError, RecursionError):
        raise Refusal("request.malformed_json", status=400) from None
    public = data.get("box_public_key") if isinstance(data, dict) else None
    if not isinstance(public, str) or len(public) > 64:
        raise Refusal("document.bad_box_key", status=400)
    at = await run_in_threadpool(
        lambda: device_documents.register_box_key(
            context.db, context.config.sealed_dir, signed.device, public, now=utc_now()
        )
    )
    return {"box_public_key": public, "registered_at": at}


@documents_router.get(
    "/{application_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "the piece"},
        404: {"model": ErrorResponse, "description": "document.not_signed"},
        409: {"model": ErrorResponse, "description": "document.box_key_missing"},
        416: {"model": ErrorResponse, "description": "document.bad_range"},
    },
)
async def download_piece(
    application_id: ApplicationIdPath,
    request: Request,
    signed: SignedRequestDep,
    context: ContextDep,
    ip: ClientIpDep,
) -> Response:
    """A piece, from ``offset``, at most ``length`` bytes, of the signed KK of an
    application this device owns, encrypted for the device's registered box key.
    ``X-KK-Blob-SHA256`` and ``X-KK-Blob-Size`` describe the whole ciphertext (offsets count
    its bytes), ``X-KK-Document-SHA256`` and ``X-KK-Document-Size`` the signed PDF inside
    (the counter checks them against the signed ``application.kk_ready``)."""
    offset = _query_int(request, "offset")
    length = _query_int(request, "length")
    config = context.config
    piece = await run_in_threadpool(
        lambda: device_documents.read_piece(
            context.db,
            (config.documents_dir, config.sealed_dir),
            signed.device,
            application_id,
            offset=offset,
            length=length,
            now=utc_now(),
            client_ip=ip,
        )
    )
    headers = {
        "Cache-Control": "no-store",
        "X-KK-Blob-SHA256": piece.blob_sha256,
        "X-KK-Blob-Size": str(piece.blob_size),
        "X-KK-Document-SHA256": piece.sha256,
        "X-KK-Document-Size": str(piece.size),
    }
    return Response(piece.data, media_type="application/octet-stream", headers=headers)


def _query_int(request: Request, name: str) -> int:
    value = request.query_params.get(name, "")
    if not _DIGITS.match(value) or int(value) > MAX_SAFE_INTEGER:
        raise Refusal("scan.bad_parameter", status=400, extra={"name": name}, name=name)
    return int(value)


@staff_router.get(
    "/applications/{application_id}/scans/{scan_id}",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}},
        403: {"model": ErrorResponse, "description": "auth.forbidden_role (admin)"},
        404: {"model": ErrorResponse, "description": "scan.unknown"},
        409: {"model": ErrorResponse, "description": "scan.not_complete"},
    },
)
async def read_scan(
    application_id: ApplicationIdPath,
    scan_id: Annotated[str, Path(min_length=64, max_length=64)],
    session: ReviewingStaff,
    context: ContextDep,
    ip: ClientIpDep,
) -> Response:
    """One scan of the application, decrypted for review; every read is in the access log."""
    user = session.user
    media_type, content = await run_in_threadpool(
        lambda: scans.read_scan(
            context.db,
            context.blobs,
            context.box_key,
            application_id,
            scan_id,
            actor_id=user.user_id,
            role=user.role,
            client_ip=ip,
            now=utc_now(),
        )
    )
    return inline_file(content, media_type, scan_id[:16])
