"""``POST /staf/permohonan/{id}/keputusan``: a decision in two clear steps.

1. The form on the application page posts the action, the state the user saw and, for a
   return or a TTE rejection, the reasons (checklist item codes and free text). The move is
   judged first with :func:`protocol.workflow.transition` (nothing is written), so a return
   without reasons is refused on the spot; then a confirmation page says what will happen,
   with the reasons as the operator will read them.
2. "Ya" posts the same fields with ``konfirmasi=ya``:
   :func:`sync_server.services.decisions.record_decision` records it (with the state the
   user saw: if someone decided first, 409 ``decision.conflict`` and nothing changes), and
   the user goes back to the queue with a notice.

The Kepala Dinas's ``sign`` is the TTE: the confirmation page asks for the passphrase of the
TTE certificate and :mod:`sync_server.services.kk_signing` numbers, renders and signs the KK
exactly as the API does (the passphrase is used for this request only, never echoed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from protocol.errors import KKError
from protocol.workflow import Action, Reasons, Role, State, transition
from sync_server.api.deps import ClientIpDep, ContextDep
from sync_server.clock import utc_now
from sync_server.context import ServerContext
from sync_server.errors import refusal_for
from sync_server.services import decisions, kk_signing
from sync_server.web import session as web
from sync_server.web import views
from sync_server.web.pages_review import Reviewer
from sync_server.web.templating import render

__all__ = ["router"]

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)

MAX_REASON_TEXT = 1000
MAX_ITEMS = 30


def _judge(state: State, action: Action, role: Role, reasons: Reasons | None) -> State:
    """The state the move leads to, or the workflow's refusal (as the API would answer)."""
    try:
        return transition(state, action, role, reasons)
    except KKError as exc:
        raise refusal_for(exc) from exc


@router.post("/permohonan/{application_id}/keputusan")
async def decide(
    request: Request,
    application_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: Reviewer,
    context: ContextDep,
    ip: ClientIpDep,
    csrf: web.CsrfField,
    action: Annotated[Action, Form()],
    expected_state: Annotated[State, Form()],
    items: Annotated[list[str], Form(max_length=MAX_ITEMS)] = [],  # noqa: B006 (FastAPI copies)
    text: Annotated[str, Form(max_length=MAX_REASON_TEXT)] = "",
    konfirmasi: Annotated[str, Form(max_length=10)] = "",
    passphrase: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    web.check_csrf(session.csrf, csrf)
    text = text.strip()
    reasons = Reasons(items=tuple(dict.fromkeys(items)), text=text) if items or text else None
    to_state = _judge(expected_state, action, session.role, reasons)
    if konfirmasi != "ya":
        return render(
            request,
            "confirm.html",
            {
                "session": session,
                "application_id": application_id,
                "action": action,
                "from_state": expected_state,
                "to_state": to_state,
                "items": list(reasons.items) if reasons else [],
                "item_labels": views.reason_labels(reasons.items) if reasons else [],
                "text": text,
                "is_return": action in (Action.RETURN, Action.REJECT_TTE),
                "is_sign": action is Action.SIGN,
            },
        )
    user = session.staff.user
    if action is Action.SIGN:
        await sign_one(context, session, application_id, expected_state, passphrase, ip)
        return _done(action, application_id)
    try:
        await run_in_threadpool(
            lambda: decisions.record_decision(
                context.db,
                application_id=application_id,
                action=action,
                role=user.role,
                actor_id=user.user_id,
                actor_name=user.full_name,
                reasons=reasons,
                now=utc_now(),
                expected_state=expected_state,
                client_ip=ip,
            )
        )
    except KKError as exc:
        raise refusal_for(exc) from exc
    return _done(action, application_id)


def _done(action: Action, application_id: str) -> Response:
    return RedirectResponse(
        f"{web.PREFIX}/antrean?selesai={action.value}&id={application_id}", status_code=303
    )


async def sign_one(
    context: ServerContext,
    session: web.WebSession,
    application_id: str,
    expected_state: State,
    passphrase: str,
    ip: str,
) -> kk_signing.SignOutcome:
    """The TTE of one application, as ``sign`` on the API; raises its refusal."""
    user = session.staff.user
    [outcome] = await run_in_threadpool(
        lambda: kk_signing.sign_with_passphrase(
            context.db,
            context.config,
            passphrase,
            [application_id],
            actor_id=user.user_id,
            actor_name=user.full_name,
            client_ip=ip,
            clock=utc_now,
            expected_state=expected_state,
        )
    )
    if outcome.refusal is not None:
        raise outcome.refusal
    return outcome
