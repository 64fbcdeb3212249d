"""``GET /api/v1/sync/kk/{application_id}``: the signed KK for the counter that owns it.

After ``application.kk_ready`` (:mod:`sync_server.services.kk_signing`) the counter can fetch
the signed PDF to show or print it at step 6 (issue). Signed like every sync request; only
the device that currently owns the application gets it (403 ``application.not_owner``), and
the answer carries the SHA-256 the ``kk_ready`` event announced (``X-KK-SHA256``), so the
counter can check what it stores. Each download is in the access log (actor: the device).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import (
    ApplicationIdPath,
    ClientIpDep,
    ContextDep,
    SignedRequestDep,
    authenticated_request,
)
from sync_server.clock import stamp, utc_now
from sync_server.config import ServerConfig
from sync_server.errors import Refusal
from sync_server.schemas import ErrorResponse
from sync_server.services import access_log
from sync_server.services.archive import read_stored
from sync_server.storage import changelog as log_store
from sync_server.storage import kk_registry
from sync_server.storage.db import Database

router = APIRouter(
    prefix="/api/v1/sync",
    tags=["sync"],
    dependencies=[Depends(authenticated_request)],
    responses={
        401: {"model": ErrorResponse, "description": "request.* and device.unknown"},
        403: {"model": ErrorResponse, "description": "device.revoked, application.not_owner"},
    },
)


def signed_kk_for_device(
    db: Database,
    config: ServerConfig,
    application_id: str,
    *,
    device_id: str,
    client_ip: str,
    now: datetime,
) -> tuple[bytes, str]:
    """The signed KK bytes and SHA-256 for the owning device, the download access-logged."""
    with db.write() as conn:
        record = log_store.get_application(conn, application_id)
        if record is None:
            raise Refusal("application.unknown", status=404, application_id=application_id)
        if record.owner_device_id != device_id:
            raise Refusal("application.not_owner", status=403, application_id=application_id)
        document = kk_registry.document_of_application(conn, application_id)
        if document is None:
            raise Refusal("document.not_signed", status=404, application_id=application_id)
        data = read_stored(config.documents_dir, document.sha256)
        access_log.append(
            conn,
            at=stamp(now),
            actor_id=device_id,
            role="device",
            client_ip=client_ip,
            action=access_log.DOCUMENT_READ,
            application_id=application_id,
            detail="KK bertanda tangan (loket)",
        )
    return data, document.sha256


@router.get(
    "/kk/{application_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "the signed KK"},
        404: {"model": ErrorResponse, "description": "application.unknown, document.not_signed"},
    },
)
async def signed_kk(
    application_id: ApplicationIdPath,
    signed: SignedRequestDep,
    context: ContextDep,
    ip: ClientIpDep,
) -> Response:
    """The signed KK (PAdES B-LT) of an application this device owns."""
    data, digest = await run_in_threadpool(
        lambda: signed_kk_for_device(
            context.db,
            context.config,
            application_id,
            device_id=signed.device.device_id,
            client_ip=ip,
            now=utc_now(),
        )
    )
    return Response(
        data,
        media_type="application/pdf",
        headers={"Cache-Control": "no-store", "X-KK-SHA256": digest},
    )
