"""``/staf/siak``: what still has to go into SIAK, its export, and recording the entry.

For the verifikator, the Kabid and the Kepala Dinas: the approved applications not yet
entered (:func:`sync_server.services.siak.pending`), each with its export to download
(JSON or CSV, :func:`sync_server.services.siak.export`, logged as a read) and a form to
record SIAK's reference in two steps (a confirmation page, then
:func:`sync_server.services.siak.record_entry`). The admin reads no personal data: the same
page shows them only the counts and the recorded entries (ids, references, staff names).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from protocol.workflow import Role
from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.api.files import attachment_file
from sync_server.clock import utc_now
from sync_server.schemas import SiakEntryRequest, SiakExport
from sync_server.services import siak, siak_format
from sync_server.web import session as web
from sync_server.web.pages_review import PAGE_SIZE, Reviewer
from sync_server.web.templating import render

__all__ = ["router"]

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)

SiakViewer = Annotated[
    web.WebSession,
    Depends(web.require_web_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS, Role.ADMIN)),
]
_ID = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/siak")
async def siak_page(
    request: Request,
    session: SiakViewer,
    context: ContextDep,
    halaman: Annotated[int, Query(ge=1, le=10_000)] = 1,
    tercatat: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = "",
) -> Response:
    offset = (halaman - 1) * PAGE_SIZE
    is_admin = session.role is Role.ADMIN
    pending, pending_total = await run_in_threadpool(
        lambda: siak.pending(context.db, limit=0 if is_admin else PAGE_SIZE, offset=offset)
    )
    entries, entered_total = await run_in_threadpool(
        lambda: siak.entered(context.db, limit=PAGE_SIZE if is_admin else 0, offset=offset)
    )
    shown = entered_total if is_admin else pending_total
    return render(
        request,
        "siak.html",
        {
            "session": session,
            "is_admin": is_admin,
            "pending": pending,
            "pending_total": pending_total,
            "entries": entries,
            "entered_total": entered_total,
            "page": halaman,
            "pages": max(1, -(-shown // PAGE_SIZE)),
            "recorded": tercatat or None,
        },
    )


@router.get("/siak/{application_id}/ekspor")
async def siak_export(
    application_id: _ID,
    session: Reviewer,
    context: ContextDep,
    ip: ClientIpDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """The export as a download, exactly the API's JSON record or CSV."""
    record = await run_in_threadpool(
        lambda: siak.export(
            context.db, application_id, actor=session.staff.user, now=utc_now(), client_ip=ip
        )
    )
    if format == "csv":
        body = siak_format.export_csv(record).encode("utf-8")
        media = "text/csv; charset=utf-8"
    else:
        body = SiakExport.model_validate(record).model_dump_json(indent=2).encode("utf-8")
        media = "application/json"
    return attachment_file(body, media, f"siak-{application_id}.{format}")


@router.post("/siak/{application_id}/entri")
async def siak_entry(
    request: Request,
    application_id: _ID,
    session: Reviewer,
    context: ContextDep,
    ip: ClientIpDep,
    csrf: web.CsrfField,
    referensi: Annotated[str, Form(max_length=64)],
    konfirmasi: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    web.check_csrf(session.csrf, csrf)
    try:  # the API's own rule for a SIAK reference
        reference = SiakEntryRequest(siak_reference=referensi.strip()).siak_reference
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    if konfirmasi != "ya":
        return render(
            request,
            "siak_confirm.html",
            {"session": session, "application_id": application_id, "reference": reference},
        )
    await run_in_threadpool(
        lambda: siak.record_entry(
            context.db,
            application_id,
            reference=reference,
            actor=session.staff.user,
            now=utc_now(),
            client_ip=ip,
        )
    )
    return RedirectResponse(f"{web.PREFIX}/siak?tercatat={application_id}", status_code=303)
