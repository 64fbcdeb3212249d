"""PDFs of one application for central staff (:mod:`sync_server.services.document_read`):
the DRAF KK and the Biodata Penduduk (SOP steps 3-5) and the signed KK. Every read is in the
access log; answers are ``Cache-Control: no-store`` (personal data stays off shared caches).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ApplicationIdPath, ClientIpDep, ContextDep, require_roles
from sync_server.api.files import inline_file
from sync_server.clock import utc_now
from sync_server.schemas import ErrorResponse
from sync_server.services import archive
from sync_server.services.document_read import DocumentKind, read_document
from sync_server.services.staff_auth import StaffSession

router = APIRouter(prefix="/api/v1", tags=["documents"])

ReviewingStaff = Annotated[
    StaffSession, Depends(require_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS))
]

_PDF = {
    200: {"content": {"application/pdf": {}}, "description": "the PDF"},
    401: {"model": ErrorResponse, "description": "auth.token_*"},
    403: {"model": ErrorResponse, "description": "auth.forbidden_role (admin)"},
    404: {"model": ErrorResponse, "description": "application.unknown, document.not_signed"},
}


async def _pdf(
    kind: DocumentKind,
    application_id: str,
    session: StaffSession,
    context: ContextDep,
    ip: str,
    filename: str,
) -> Response:
    user = session.user
    data = await run_in_threadpool(
        lambda: read_document(
            context.db,
            context.config,
            application_id,
            kind,
            actor_id=user.user_id,
            role=user.role,
            client_ip=ip,
            now=utc_now(),
        )
    )
    return inline_file(data, "application/pdf", filename)


@router.get("/applications/{application_id}/draft-kk.pdf", response_class=Response, responses=_PDF)
async def draft_kk(
    application_id: ApplicationIdPath, session: ReviewingStaff, context: ContextDep, ip: ClientIpDep
) -> Response:
    """The DRAF KK (watermarked, unsigned, no QR code) rendered from the stored data."""
    return await _pdf(DocumentKind.DRAFT_KK, application_id, session, context, ip, "draf-kk.pdf")


@router.get("/applications/{application_id}/biodata.pdf", response_class=Response, responses=_PDF)
async def biodata(
    application_id: ApplicationIdPath, session: ReviewingStaff, context: ContextDep, ip: ClientIpDep
) -> Response:
    """The Biodata Penduduk of every member (one page each, watermarked DRAF)."""
    return await _pdf(
        DocumentKind.BIODATA, application_id, session, context, ip, "biodata-penduduk.pdf"
    )


@router.get("/applications/{application_id}/kk.pdf", response_class=Response, responses=_PDF)
async def signed_kk(
    application_id: ApplicationIdPath, session: ReviewingStaff, context: ContextDep, ip: ClientIpDep
) -> Response:
    """The signed KK (PAdES B-LT) exactly as stored, once the Kepala Dinas has signed it."""
    return await _pdf(DocumentKind.SIGNED_KK, application_id, session, context, ip, "kk.pdf")


@router.get(
    "/applications/{application_id}/archive.zip",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "the archive package"},
        401: {"model": ErrorResponse, "description": "auth.token_*"},
        403: {"model": ErrorResponse, "description": "auth.forbidden_role (admin)"},
        404: {"model": ErrorResponse, "description": "archive.not_found"},
    },
)
async def archive_package(
    application_id: ApplicationIdPath, session: ReviewingStaff, context: ContextDep, ip: ClientIpDep
) -> Response:
    """The immutable archive package of an archived application (ZIP: manifest.json with
    every file's SHA-256, application.json, biodata.pdf, kk.pdf, audit.json, scans/).

    The bytes are checked against the SHA-256 recorded at archiving (``ETag``); the read is
    in the access log.
    """
    user = session.user
    data, digest = await run_in_threadpool(
        lambda: archive.read_package(
            context.db,
            application_id,
            actor_id=user.user_id,
            role=user.role.value,
            client_ip=ip,
            now=utc_now(),
        )
    )
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="arsip-{application_id}.zip"',
            "Cache-Control": "no-store",
            "ETag": f'"{digest}"',
        },
    )
