"""``/api/v1/whatsapp/webhook``: the WhatsApp Cloud API calls us here (Meta's servers, not
users). Contract and checks: :mod:`sync_server.services.whatsapp.webhook`.

=======  ===========================  ===================================================
GET      ?hub.mode&hub.verify_token   echo ``hub.challenge`` (text/plain) when the token
         &hub.challenge               matches; 403 ``whatsapp.verify_refused``
POST     notification JSON            200 ``{"ok": true}`` once applied; 401
                                      ``whatsapp.bad_signature`` (checked on the raw body
                                      before parsing), 400 ``whatsapp.malformed``, 413
                                      ``request.too_large``
=======  ===========================  ===================================================
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ContextDep, read_body
from sync_server.clock import utc_now
from sync_server.schemas import ErrorResponse
from sync_server.services.whatsapp import webhook

router = APIRouter(prefix="/api/v1/whatsapp", tags=["whatsapp"])


@router.get(
    "/webhook",
    response_class=PlainTextResponse,
    responses={403: {"model": ErrorResponse, "description": "whatsapp.verify_refused"}},
)
async def verify(request: Request, context: ContextDep) -> PlainTextResponse:
    """Meta's subscription check when the webhook URL is saved in the app dashboard."""
    query = request.query_params
    challenge = webhook.verify_subscription(
        query.get("hub.mode"),
        query.get("hub.verify_token"),
        query.get("hub.challenge"),
        verify_token=context.config.whatsapp_verify_token,
    )
    return PlainTextResponse(challenge)


@router.post(
    "/webhook",
    responses={
        400: {"model": ErrorResponse, "description": "whatsapp.malformed"},
        401: {"model": ErrorResponse, "description": "whatsapp.bad_signature"},
        413: {"model": ErrorResponse, "description": "request.too_large"},
    },
)
async def notify(request: Request, context: ContextDep) -> dict[str, bool]:
    """Statuses of our messages and the applicants' messages, signed by Meta."""
    body = await read_body(request, context.config.max_body_bytes)
    webhook.check_signature(
        body,
        request.headers.get("x-hub-signature-256"),
        app_secret=context.config.whatsapp_app_secret,
    )
    notification = webhook.parse_notification(body)
    await run_in_threadpool(webhook.receive, context.db, notification, now=utc_now())
    return {"ok": True}
