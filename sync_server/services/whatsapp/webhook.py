"""The Cloud API's webhook: verification, signature, and what a notification changes.

* GET verification: Meta calls ``?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C``
  when the webhook URL is saved; we answer ``C`` (plain text) only when ``T`` equals the
  configured verify token (constant-time), else 403 ``whatsapp.verify_refused``.
* POST: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`` is checked
  on the raw bytes, in constant time, BEFORE the body is parsed: 401
  ``whatsapp.bad_signature`` otherwise (also when no app secret is configured). Then the
  body must be a ``whatsapp_business_account`` notification (400 ``whatsapp.malformed``).
* Each ``entry[].changes[].value`` may hold ``statuses[]`` (our messages: applied with
  :func:`sync_server.services.whatsapp.outbox.apply_report`, matched by
  ``biz_opaque_callback_data`` = our outbox id, or by the message id) and ``messages[]``
  (the applicant wrote: the 24-hour window opens; documents and images go to the inbox,
  :mod:`sync_server.services.whatsapp.inbound`). Statuses come in any order, duplicated,
  sometimes without ``delivered``: the status rules absorb that. Unknown statuses
  (``deleted``, ``warning``) and ids that match no message are ignored, so Meta does not
  retry them forever.

The whole notification is applied in ONE write transaction: answered 200 only when it is
stored, so a crash before the answer makes Meta deliver it again (and applying it twice
changes nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from protocol.errors import define_messages
from protocol.phone import normalize_whatsapp
from protocol.whatsapp import DeliveryStatus
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services.whatsapp import inbound, outbox
from sync_server.services.whatsapp.codes import classify
from sync_server.services.whatsapp.transport import Disposition
from sync_server.storage import outbox as store
from sync_server.storage.db import Connection, Database

__all__ = [
    "redact_access_log",
    "verify_subscription",
    "check_signature",
    "parse_notification",
    "StatusReport",
    "InboundMessage",
    "Notification",
    "receive",
]

log = logging.getLogger("sync_server.whatsapp")

define_messages(
    {
        "whatsapp.verify_refused": "Verifikasi webhook WhatsApp ditolak.",
        "whatsapp.bad_signature": "Tanda tangan webhook WhatsApp tidak sah.",
        "whatsapp.malformed": "Isi webhook WhatsApp tidak dikenali.",
    }
)

_STATUSES = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}


_VERIFY_TOKEN_IN_QUERY = re.compile(r"(hub\.verify_token=)[^&\s\"]*")


class _RedactVerifyToken(logging.Filter):
    """Meta sends the verify token in the query string, which uvicorn's access log prints."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _VERIFY_TOKEN_IN_QUERY.sub(r"\1[disembunyikan]", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def redact_access_log() -> None:
    """Keep the webhook's verify token out of uvicorn's access log (idempotent)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactVerifyToken) for f in access.filters):
        access.addFilter(_RedactVerifyToken())


def verify_subscription(
    mode: str | None, token: str | None, challenge: str | None, *, verify_token: SecretStr
) -> str:
    """The challenge to echo, or 403 ``whatsapp.verify_refused``."""
    expected = verify_token.get_secret_value().encode()
    given = (token or "").encode()
    if not (
        expected
        and mode == "subscribe"
        and challenge
        and len(challenge) <= 256
        and hmac.compare_digest(given, expected)
    ):
        raise Refusal("whatsapp.verify_refused", status=403)
    return challenge


def check_signature(body: bytes, header: str | None, *, app_secret: SecretStr) -> None:
    """Refuse (401 ``whatsapp.bad_signature``) unless ``header`` signs ``body``."""
    secret = app_secret.get_secret_value().encode()
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not (secret and header and hmac.compare_digest(header.strip().encode(), expected.encode())):
        raise Refusal("whatsapp.bad_signature", status=401)


@dataclass(frozen=True, slots=True)
class StatusReport:
    provider_id: str
    outbox_id: str | None
    status: DeliveryStatus
    error_code: int | None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    sender: str
    """E.164 (``+628...``), or the raw wa_id when it is not an Indonesian mobile number."""
    provider_id: str
    kind: str
    media_id: str | None
    mime_type: str
    filename: str
    at: str


@dataclass(frozen=True, slots=True)
class Notification:
    statuses: tuple[StatusReport, ...]
    messages: tuple[InboundMessage, ...]


def parse_notification(raw: bytes) -> Notification:
    """The statuses and inbound messages of a (signature-checked) webhook body."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal("whatsapp.malformed", status=400) from None
    if not isinstance(body, dict) or body.get("object") != "whatsapp_business_account":
        raise Refusal("whatsapp.malformed", status=400)
    statuses: list[StatusReport] = []
    messages: list[InboundMessage] = []
    for value in _values(body):
        for item in _list(value, "statuses"):
            report = _status(item)
            if report is not None:
                statuses.append(report)
        for item in _list(value, "messages"):
            message = _message(item)
            if message is not None:
                messages.append(message)
    return Notification(tuple(statuses), tuple(messages))


def _values(body: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for entry in _list(body, "entry"):
        for change in _list(entry, "changes"):
            value = change.get("value")
            if change.get("field") == "messages" and isinstance(value, dict):
                yield value


def _list(container: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = container.get(name)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _text(item: Mapping[str, Any], name: str, limit: int = 512) -> str:
    value = item.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _status(item: Mapping[str, Any]) -> StatusReport | None:
    status = _STATUSES.get(_text(item, "status"))
    provider_id = _text(item, "id")
    if status is None or not provider_id:
        return None
    code = None
    for error in _list(item, "errors"):
        if isinstance(error.get("code"), int):
            code = error["code"]
            break
    return StatusReport(
        provider_id=provider_id,
        outbox_id=_text(item, "biz_opaque_callback_data", 64) or None,
        status=status,
        error_code=code,
    )


def _message(item: Mapping[str, Any]) -> InboundMessage | None:
    sender, provider_id, kind = _text(item, "from", 32), _text(item, "id"), _text(item, "type")
    if not sender or not provider_id:
        return None
    try:
        sender = normalize_whatsapp(sender)
    except Exception:  # not an Indonesian mobile: keep it as WhatsApp wrote it
        sender = "+" + sender.lstrip("+")
    media = item.get(kind) if kind in ("document", "image") else None
    media = media if isinstance(media, dict) else {}
    seconds = _text(item, "timestamp", 16)
    at = datetime.fromtimestamp(int(seconds), UTC) if seconds.isdigit() else None
    return InboundMessage(
        sender=sender,
        provider_id=provider_id,
        kind=kind,
        media_id=_text(media, "id", 64) or None,
        mime_type=_text(media, "mime_type", 100),
        filename=_text(media, "filename", 200),
        at=stamp(at) if at else "",
    )


def receive(db: Database, notification: Notification, *, now: datetime) -> None:
    """Apply a notification in one write transaction (blocking: run it in a thread)."""
    with db.write() as conn:
        for report in notification.statuses:
            _apply_status(conn, report, now)
        for message in notification.messages:
            store.touch_contact(conn, message.sender, message.at or stamp(now))
            _on_inbound(conn, message, now)


def _apply_status(conn: Connection, report: StatusReport, now: datetime) -> None:
    reason, fallback = "", False
    if report.status is DeliveryStatus.FAILED:
        disposition, reason = classify(report.error_code)
        fallback = disposition is Disposition.USE_TEMPLATE
    row = outbox.apply_report(
        conn,
        outbox_id=report.outbox_id,
        provider_id=report.provider_id,
        status=report.status,
        code=None if report.error_code is None else str(report.error_code),
        reason=reason,
        fallback_to_template=fallback,
        now=now,
    )
    if row is None:
        log.info("whatsapp status for an unknown message ignored: %s", report.status.value)


def _on_inbound(conn: Connection, message: InboundMessage, now: datetime) -> None:
    """Besides opening the window: a document or image goes to an inbox."""
    inbound.record(conn, message, now=now)
