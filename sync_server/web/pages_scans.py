"""The scans of an application on the staff pages (:mod:`sync_server.services.scans`).

* ``/staf/permohonan/{id}/pindaian/{scan_id}``: the scan itself (JPEG, PNG or PDF), decrypted
  for this read and recorded in the access log by :func:`sync_server.services.scans.read_scan`;
  PDFs open in the browser's viewer, page by page.
* ``.../lihat``: an image on a page of its own, fitted to the screen, with "Perbesar" for
  its full size (scrollable; a phone can pinch-zoom either way). No script.

The application page lists every scan: viewable when complete, "masih dikirim" with how
much has arrived while the counter is still uploading it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.api.files import inline_file
from sync_server.clock import utc_now
from sync_server.services import scans
from sync_server.web import session as web
from sync_server.web.pages_review import Reviewer
from sync_server.web.templating import render

__all__ = ["router"]

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)

ApplicationId = Annotated[str, Path(min_length=1, max_length=64)]
ScanId = Annotated[str, Path(pattern="^[0-9a-f]{64}$")]


@router.get("/permohonan/{application_id}/pindaian/{scan_id}")
async def scan_file(
    application_id: ApplicationId,
    scan_id: ScanId,
    session: Reviewer,
    context: ContextDep,
    ip: ClientIpDep,
) -> Response:
    user = session.staff.user
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
    return inline_file(content, media_type, f"pindaian-{scan_id[:12]}")


@router.get("/permohonan/{application_id}/pindaian/{scan_id}/lihat")
async def scan_viewer(
    request: Request,
    application_id: ApplicationId,
    scan_id: ScanId,
    session: Reviewer,
    besar: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    """The page holds no personal data itself; the image it shows is read (and logged) by
    the browser's request for it."""
    return render(
        request,
        "scan.html",
        {
            "session": session,
            "application_id": application_id,
            "scan_id": scan_id,
            "full_size": besar == "1",
        },
    )
