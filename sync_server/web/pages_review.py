"""``/staf/antrean`` (my queue, with search) and ``/staf/permohonan/{id}`` (one file).

The queue is :func:`sync_server.services.queues.read_queue` for the role's state; the file
is :func:`sync_server.services.application_read.read_application`, so every page view is in
the access log exactly like an API read. The admin sees neither (no need for personal data).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from protocol.requirement_rules import RETURN_REASONS
from protocol.workflow import Action, Role, State, allowed_actions, step_of
from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.api.files import inline_file
from sync_server.clock import utc_now
from sync_server.context import ServerContext
from sync_server.services import access_log, accounts, application_read, queues
from sync_server.services.document_read import DocumentKind, read_document
from sync_server.web import session as web
from sync_server.web import views
from sync_server.web.templating import render

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)

PAGE_SIZE = 25
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Reviewer = Annotated[
    web.WebSession,
    Depends(web.require_web_roles(Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS)),
]

# Outcome notices after a decision (``?selesai=<action>``): fixed texts, never echoed input.
DONE = {
    Action.VERIFY: "sudah divalidasi dan diteruskan ke Kabid.",
    Action.APPROVE: "sudah disetujui dan diteruskan ke Kepala Dinas.",
    Action.SIGN: "sudah ditandatangani (TTE).",
    Action.RETURN: "sudah dikembalikan ke operator loket beserta alasannya.",
    Action.REJECT_TTE: "TTE-nya ditolak dan permohonan dikembalikan ke loket.",
}


@router.get("/antrean")
async def queue_page(
    request: Request,
    session: Reviewer,
    context: ContextDep,
    q: Annotated[str, Query(max_length=queues.MAX_SEARCH)] = "",
    halaman: Annotated[int, Query(ge=1, le=10_000)] = 1,
    selesai: Annotated[str, Query(max_length=20)] = "",
    id: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    state = queues.QUEUE_STATE[session.role]
    entries, total = await run_in_threadpool(
        lambda: queues.read_queue(
            context.db,
            state,
            limit=PAGE_SIZE,
            offset=(halaman - 1) * PAGE_SIZE,
            now=utc_now(),
            search=q,
        )
    )
    done = DONE.get(Action(selesai)) if selesai in Action._value2member_map_ else None
    if not _ID.match(id):
        done = None
    step = step_of(state)
    return render(
        request,
        "queue.html",
        {
            "session": session,
            "entries": entries,
            "total": total,
            "q": q,
            "page": halaman,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "state": state,
            "step": step,
            "done": f"Permohonan {id} {done}" if done and id else None,
        },
    )


def _audit_of(context: ServerContext, application_id: str) -> list[access_log.AccessRecord]:
    """Who read or decided this file (the access log's rows for it), newest first."""
    with context.db.read() as conn:
        return list(reversed(access_log.entries(conn, application_id=application_id)))


@router.get("/permohonan/{application_id}")
async def application_page(
    request: Request,
    application_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: Reviewer,
    context: ContextDep,
    ip: ClientIpDep,
    klaim: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    user = session.staff.user
    detail = await run_in_threadpool(
        lambda: application_read.read_application(
            context.db,
            application_id,
            actor_id=user.user_id,
            role=user.role,
            client_ip=ip,
            now=utc_now(),
            purpose="halaman staf",
        )
    )
    users = await run_in_threadpool(accounts.list_users, context.db)
    audit = await run_in_threadpool(lambda: _audit_of(context, application_id))
    names = {u.user_id: u.full_name for u in users}
    data = detail["data"]
    state = State(detail["state"])
    checklist = detail["checklist"] or []
    step = step_of(state)
    claimable = step is not None and step.actor_role is user.role
    return render(
        request,
        "application.html",
        {
            "session": session,
            "app": detail,
            "data": data,
            "state": state,
            "service": views.service_of(data),
            "address": views.address_line(data),
            "members": views.member_rows(data),
            "checklist": checklist,
            "history": views.history_rows(detail["history"], names),
            "scans": views.scan_rows(detail.get("scans") or []),
            "audit": audit,
            "names": names,
            "actions": allowed_actions(state, user.role),
            "reason_choices": [(r["code"], r["label"]) for r in checklist]
            + list(RETURN_REASONS.items()),
            "claimable": claimable,
            "colleagues": [
                u
                for u in users
                if u.role is user.role and u.is_active and u.user_id != user.user_id
            ]
            if claimable
            else [],
            "claim_notice": views.CLAIM_NOTICES.get(klaim),
        },
    )


_DOCUMENTS = {
    "draf-kk.pdf": DocumentKind.DRAFT_KK,
    "biodata.pdf": DocumentKind.BIODATA,
    "kk.pdf": DocumentKind.SIGNED_KK,
}


@router.get("/permohonan/{application_id}/{name}")
async def document(
    application_id: Annotated[str, Path(min_length=1, max_length=64)],
    name: Annotated[str, Path(pattern="^(draf-kk|biodata|kk)[.]pdf$")],
    session: Reviewer,
    context: ContextDep,
    ip: ClientIpDep,
) -> Response:
    """The DRAF KK, the Biodata Penduduk or the signed KK, opened in the browser's PDF
    viewer; each read is in the access log (:mod:`sync_server.services.document_read`)."""
    user = session.staff.user
    data = await run_in_threadpool(
        lambda: read_document(
            context.db,
            context.config,
            application_id,
            _DOCUMENTS[name],
            actor_id=user.user_id,
            role=user.role,
            client_ip=ip,
            now=utc_now(),
        )
    )
    return inline_file(data, "application/pdf", name)
