"""``/staf/tte``: the Kepala Dinas signs many approved applications with one passphrase entry.

The page lists the applications waiting for the TTE (the Kepala Dinas's queue,
:func:`sync_server.services.queues.read_queue`) with a checkbox each; the Kepala Dinas picks
some or all, types the certificate's passphrase once and sends. The key is opened once
(:func:`sync_server.services.kk_signing.open_signer`: a wrong passphrase signs nothing and
is answered at once), then the applications are signed one by one, each in its own
transaction (:func:`sync_server.services.kk_signing.sign_batch`), and the answer page is
streamed: each line ("3/10 Ahmad Fauzi: ditandatangani, KK ...") reaches the browser as
soon as that KK is signed, so the progress shows without any script. One that cannot be
signed is reported with its reason and the rest go on. The passphrase lives only in this
request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from protocol.errors import define_messages
from protocol.workflow import Role, State
from signing.tte import KKSigner
from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.api.pagination import MAX_LIMIT
from sync_server.clock import utc_now
from sync_server.context import ServerContext
from sync_server.errors import Refusal
from sync_server.services import kk_signing, queues
from sync_server.web import session as web
from sync_server.web.templating import render, stream

__all__ = ["router", "MAX_BATCH"]

define_messages(
    {
        "web.tte_none_selected": "Pilih minimal satu permohonan untuk ditandatangani.",
    }
)

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)

KepalaDinas = Annotated[web.WebSession, Depends(web.require_web_roles(Role.KEPALA_DINAS))]
MAX_BATCH = 100
"""As many as the API's sign-batch takes in one request."""


@router.get("/tte")
async def batch_page(
    request: Request,
    session: KepalaDinas,
    context: ContextDep,
    semua: Annotated[str, Query(max_length=2)] = "",
) -> Response:
    entries, total = await run_in_threadpool(
        lambda: queues.read_queue(
            context.db, State.APPROVED, limit=MAX_BATCH, offset=0, now=utc_now()
        )
    )
    return render(
        request,
        "tte.html",
        {
            "session": session,
            "entries": entries,
            "total": total,
            "all_checked": semua == "1",
            "max_batch": MAX_BATCH,
        },
    )


@dataclass(frozen=True, slots=True)
class Progress:
    """One line of the streamed answer."""

    position: int
    total: int
    outcome: kk_signing.SignOutcome


def _open(context: ServerContext, passphrase: str) -> tuple[ExitStack, KKSigner]:
    """Open the key before the answer starts (a wrong passphrase is refused as a page);
    the stack closes it (a token session) when the signing ends."""
    with ExitStack() as stack:
        signer = stack.enter_context(kk_signing.open_signer(context.config, passphrase))
        return stack.pop_all(), signer


def _signing(
    context: ServerContext,
    session: web.WebSession,
    opened: tuple[ExitStack, KKSigner],
    application_ids: list[str],
    ip: str,
) -> Iterator[Progress]:
    """Sign one application at a time, yielding as each is done (runs in a worker thread
    while the page streams); the key is closed at the end, or when the browser goes away
    and the generator is closed."""
    user = session.staff.user
    stack, signer = opened
    with stack:
        for position, application_id in enumerate(application_ids, start=1):
            [outcome] = kk_signing.sign_batch(
                context.db,
                context.config,
                signer,
                [application_id],
                actor_id=user.user_id,
                actor_name=user.full_name,
                client_ip=ip,
                clock=utc_now,
            )
            yield Progress(position, len(application_ids), outcome)


@router.post("/tte")
async def sign_batch(
    request: Request,
    session: KepalaDinas,
    context: ContextDep,
    ip: ClientIpDep,
    csrf: web.CsrfField,
    passphrase: Annotated[str, Form(max_length=1024)] = "",
    ids: Annotated[list[str], Form(max_length=MAX_BATCH)] = [],  # noqa: B006 (FastAPI copies)
) -> Response:
    web.check_csrf(session.csrf, csrf)
    chosen = list(dict.fromkeys(i for i in ids if 0 < len(i) <= 64))
    if not chosen:
        raise Refusal("web.tte_none_selected", status=422)
    waiting, _ = await run_in_threadpool(
        lambda: queues.read_queue(
            context.db, State.APPROVED, limit=MAX_LIMIT, offset=0, now=utc_now()
        )
    )
    opened = await run_in_threadpool(_open, context, passphrase)
    return stream(
        request,
        "tte_progress.html",
        {
            "session": session,
            "count": len(chosen),
            "names": {e.application_id: e.applicant_name for e in waiting},
            "progress": _signing(context, session, opened, chosen, ip),
        },
    )
