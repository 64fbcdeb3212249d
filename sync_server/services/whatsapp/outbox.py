"""The WhatsApp outbox: every message persisted before it is sent, and its status after.

Life of a message (statuses: :class:`protocol.whatsapp.DeliveryStatus`)::

    queued --claim--> sending --accepted--> sent --webhook--> delivered --> read
      ^                 |  \\--error: certainly not sent (throughput, connection refused,
      |                 |      token expired, outside the window -> template)--> queued
      |                 |  \\--error: will not be delivered (131026...)-----------> failed
      |                 \\--outcome unknown (timeout after sending, or the process died
      |                     between the API call and recording its answer) --> unknown
      |                                                                   ("perlu dicek")
      \\-- a 131047 webhook failure of a free-form message: resent as a template

* :func:`on_move` enqueues, inside the transaction of the workflow move that causes it (a
  counter event applied by :mod:`sync_server.services.ingest`, a central decision by
  :mod:`sync_server.services.decisions`), so a move and its message commit together and a
  re-pushed event (a duplicate, skipped) never enqueues twice.
* The Cloud API has no idempotency key, so at-most-once is earned here: ``sending`` is
  committed BEFORE the API call, and :func:`recover_interrupted` (run when the worker
  starts) turns every ``sending`` row left by a dead process into ``unknown``. Such a row is
  never sent again by the worker: the webhook's statuses, which carry our outbox id as
  ``biz_opaque_callback_data``, settle it (:func:`apply_report`).
* Every change of status a person should see is appended to the owning counter's feed as
  ``message.status`` (``{"message_id", "status", "at", "purpose", "reason"}``) in the same
  transaction, so the counter shows it after its next pull.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from protocol.errors import ValidationError
from protocol.phone import normalize_whatsapp
from protocol.requirements import reason_label
from protocol.server_events import ServerEventKind
from protocol.whatsapp import RESENDABLE, DeliveryStatus, MessagePurpose, advance
from protocol.workflow import Action, Reasons
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import feed
from sync_server.services.whatsapp.texts import reference_of
from sync_server.services.wilayah import kecamatan_name
from sync_server.storage import changelog as log_store
from sync_server.storage import outbox as store
from sync_server.storage.changelog import ApplicationRecord
from sync_server.storage.db import Connection
from sync_server.storage.outbox import OutboxRow

__all__ = [
    "PURPOSE_OF_ACTION",
    "WINDOW",
    "on_move",
    "enqueue",
    "in_window",
    "message_list",
    "claim",
    "record_media",
    "record_accepted",
    "record_retry",
    "record_template_fallback",
    "record_failed",
    "record_unknown",
    "recover_interrupted",
    "resend",
    "resend_for_application",
    "apply_report",
]

log = logging.getLogger("sync_server.whatsapp")

PURPOSE_OF_ACTION = {
    Action.MARK_INCOMPLETE: MessagePurpose.INCOMPLETE,
    Action.RETURN: MessagePurpose.RETURNED,
    Action.ISSUE: MessagePurpose.KK_ISSUED,
    Action.ARCHIVE: MessagePurpose.KK_RECEIVED,
}
"""The workflow moves the applicant hears about, and the message each one sends."""

WINDOW = timedelta(hours=24)
"""The customer-service window a user's message opens for free-form messages."""


def on_move(
    conn: Connection,
    record: ApplicationRecord,
    action: Action,
    reasons: Reasons | None,
    *,
    now: datetime,
) -> OutboxRow | None:
    """Enqueue the message ``action`` sends, if any (called inside the move's transaction)."""
    purpose = PURPOSE_OF_ACTION.get(action)
    if purpose is None:
        return None
    return enqueue(conn, record, purpose, reasons=reasons, now=now)


def enqueue(
    conn: Connection,
    record: ApplicationRecord,
    purpose: MessagePurpose,
    *,
    reasons: Reasons | None = None,
    params: dict[str, Any] | None = None,
    now: datetime,
) -> OutboxRow:
    """Persist one message to the applicant of ``record`` and tell the counter it is queued.

    ``params`` replaces the ones made from ``record`` and ``reasons`` (a re-send).

    A number that cannot receive messages (the counter validates it, so only an old
    snapshot could hold one) gives a ``failed`` row with the reason, visible at the counter.
    """
    at = stamp(now)
    raw = json.loads(record.snapshot).get("applicant", {}).get("whatsapp", "")
    status, reason, recipient = DeliveryStatus.QUEUED, "", ""
    try:
        recipient = normalize_whatsapp(raw)
    except ValidationError:
        status, reason = DeliveryStatus.FAILED, "Nomor WhatsApp pemohon tidak valid."
    row = OutboxRow(
        id=uuid.uuid4().hex,
        application_id=record.application_id,
        purpose=purpose,
        recipient=recipient,
        params=params if params is not None else _params(record, reasons),
        status=status,
        use_template=False,
        attempts=0,
        next_attempt_at=at,
        provider_id=None,
        media_id=None,
        error_code="phone.invalid" if reason else None,
        reason=reason,
        created_at=at,
        updated_at=at,
    )
    store.insert(conn, row)
    _tell_counter(conn, row, now)
    log.info(
        "whatsapp enqueued id=%s application=%s purpose=%s status=%s",
        row.id,
        row.application_id,
        purpose.value,
        status.value,
    )
    return row


def resend(conn: Connection, outbox_id: str, *, now: datetime) -> OutboxRow:
    """Send a ``failed`` or "perlu dicek" message again, as a NEW message (its own id and
    statuses), to the number the application holds now. Only a person decides this, after
    checking with the applicant: the outbox never re-sends an unknown outcome by itself.

    Once per message, whoever asks (a counter's ``message.resend``, ``kk-server whatsapp
    resend``): the old row records the new one in the same transaction. Raises
    :class:`Refusal` (``outbox.not_found``, ``outbox.already_resent``,
    ``outbox.not_resendable``)."""
    row = store.get(conn, outbox_id)
    if row is None:
        raise Refusal("outbox.not_found", status=404, message_id=outbox_id)
    if row.resent_as is not None:
        raise Refusal("outbox.already_resent", status=409, message_id=outbox_id)
    if row.status not in RESENDABLE:
        raise Refusal("outbox.not_resendable", status=409, status_label=row.status.label)
    record = log_store.get_application(conn, row.application_id)
    assert record is not None  # the outbox references applications
    new = enqueue(conn, record, row.purpose, params=row.params, now=now)
    if not store.mark_resent(conn, outbox_id, new.id):
        # Unreachable inside one write transaction; kept so a caller outside one fails
        # loudly (and rolls back the new row) rather than sending twice.
        raise Refusal("outbox.already_resent", status=409, message_id=outbox_id)
    return new


def resend_for_application(
    conn: Connection, message_id: str, application_id: str, *, now: datetime
) -> OutboxRow:
    """A counter's ``message.resend``: :func:`resend`, for a message of ``application_id``
    only (``outbox.not_found`` for another application's message)."""
    row = store.get(conn, message_id)
    if row is None or row.application_id != application_id:
        raise Refusal("outbox.not_found", status=404, message_id=message_id)
    return resend(conn, message_id, now=now)


def _params(record: ApplicationRecord, reasons: Reasons | None) -> dict[str, Any]:
    items: list[str] = []
    for code in reasons.items if reasons else ():
        try:
            items.append(reason_label(code))
        except KeyError:  # the workflow accepted it, so a newer code list: say it as it is
            items.append(code)
    return {
        "reference": reference_of(record.application_id),
        "kecamatan": kecamatan_name(record.kecamatan),
        "items": items,
        "note": " ".join((reasons.text if reasons else "").split()),
    }


def in_window(conn: Connection, phone: str, now: datetime) -> bool:
    """True when ``phone`` wrote to the office within the last 24 hours."""
    last = store.last_inbound_at(conn, phone)
    return last is not None and last > stamp(now - WINDOW)


def message_list(conn: Connection, application_id: str) -> list[dict[str, Any]]:
    """The application's messages for the central views (no recipient: the snapshot has it)."""
    return [
        {
            "message_id": row.id,
            "purpose": row.purpose.value,
            "purpose_label": row.purpose.label,
            "status": row.status.value,
            "status_label": row.status.label,
            "reason": row.reason,
            "template": row.use_template,
            "attempts": row.attempts,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
        for row in store.of_application(conn, application_id)
    ]


# -- the worker's transitions (each in its own short write transaction) ------------------


def claim(conn: Connection, outbox_id: str, *, now: datetime) -> OutboxRow | None:
    """``queued`` -> ``sending``, committed before the API call; ``None`` if no longer queued."""
    row = store.get(conn, outbox_id)
    if row is None or row.status is not DeliveryStatus.QUEUED:
        return None
    store.update(
        conn,
        outbox_id,
        status=DeliveryStatus.SENDING,
        attempts=row.attempts + 1,
        updated_at=stamp(now),
    )
    return store.get(conn, outbox_id)


def record_media(conn: Connection, outbox_id: str, media_id: str, *, now: datetime) -> None:
    """Keep the uploaded document's media id, so a retry does not upload it again."""
    store.update(conn, outbox_id, media_id=media_id, updated_at=stamp(now))


def record_accepted(conn: Connection, outbox_id: str, provider_id: str, *, now: datetime) -> None:
    """The API accepted the message: ``sent``, unless a webhook already told us more."""
    row = _get(conn, outbox_id)
    if row.status is DeliveryStatus.QUEUED:
        return  # a webhook already refused this attempt (131047) and queued the template
    store.update(conn, outbox_id, provider_id=provider_id, updated_at=stamp(now))
    _move(conn, row, DeliveryStatus.SENT, now)


def record_retry(
    conn: Connection,
    outbox_id: str,
    *,
    code: str,
    reason: str,
    delay: timedelta,
    max_attempts: int,
    now: datetime,
) -> None:
    """The message was certainly not sent: try again after ``delay``, or give up as
    ``failed`` once ``max_attempts`` attempts were made."""
    row = _get(conn, outbox_id)
    if row.attempts >= max_attempts:
        gave_up = f"{reason} (berhenti setelah {row.attempts} percobaan)"
        record_failed(conn, outbox_id, code=code, reason=gave_up, now=now)
        return
    store.update(
        conn,
        outbox_id,
        status=DeliveryStatus.QUEUED,
        next_attempt_at=stamp(now + delay),
        error_code=code,
        reason=reason,
        updated_at=stamp(now),
    )


def record_template_fallback(conn: Connection, outbox_id: str, *, code: str, now: datetime) -> None:
    """Outside the 24-hour window: send the approved template instead, at once."""
    row = _get(conn, outbox_id)
    store.update(
        conn,
        outbox_id,
        status=DeliveryStatus.QUEUED,
        use_template=True,
        next_attempt_at=stamp(now),
        error_code=code,
        reason="Di luar jendela 24 jam: dikirim ulang sebagai templat resmi.",
        updated_at=stamp(now),
    )
    if row.status is not DeliveryStatus.SENDING:
        _tell_counter(conn, _get(conn, outbox_id), now)


def record_failed(
    conn: Connection, outbox_id: str, *, code: str, reason: str, now: datetime
) -> None:
    row = _get(conn, outbox_id)
    store.update(conn, outbox_id, error_code=code, reason=reason, updated_at=stamp(now))
    _force(conn, row, DeliveryStatus.FAILED, now)


def record_unknown(
    conn: Connection, outbox_id: str, *, code: str, reason: str, now: datetime
) -> None:
    row = _get(conn, outbox_id)
    if row.status is not DeliveryStatus.SENDING:
        return  # a webhook already settled it
    store.update(conn, outbox_id, error_code=code, reason=reason, updated_at=stamp(now))
    _force(conn, row, DeliveryStatus.UNKNOWN, now)


def recover_interrupted(conn: Connection, *, now: datetime) -> int:
    """Every ``sending`` row left by a process that died mid-call becomes ``unknown``."""
    rows = store.in_status(conn, DeliveryStatus.SENDING)
    for row in rows:
        record_unknown(
            conn,
            row.id,
            code="outbox.interrupted",
            reason="Server berhenti saat pesan dikirim; menunggu status dari WhatsApp, "
            "tidak dikirim ulang otomatis.",
            now=now,
        )
    if rows:
        log.warning("whatsapp: %d message(s) interrupted mid-send are now 'perlu dicek'", len(rows))
    return len(rows)


# -- statuses reported by the Cloud API's webhook -----------------------------------------


def apply_report(
    conn: Connection,
    *,
    outbox_id: str | None,
    provider_id: str,
    status: DeliveryStatus,
    code: str | None,
    reason: str,
    fallback_to_template: bool = False,
    now: datetime,
) -> OutboxRow | None:
    """Apply one status the webhook reported; ``None`` when no outbox row matches.

    Matched by our id (``biz_opaque_callback_data``) first, else by the Cloud API's message
    id. ``fallback_to_template``: the failure says the free-form message was refused for
    being outside the 24-hour window (131047), so it certainly was not delivered and is
    queued again as the approved template.
    """
    row = store.get(conn, outbox_id) if outbox_id else None
    if row is None:
        row = store.by_provider_id(conn, provider_id)
    if row is None:
        return None
    if fallback_to_template and row.use_template:
        return row  # about the free-form attempt a template already replaces (or will)
    if row.provider_id is None:
        store.update(conn, row.id, provider_id=provider_id)
    elif row.provider_id != provider_id:
        return row  # about an earlier attempt of this row
    settling = row.status in (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN, DeliveryStatus.SENT)
    if status is DeliveryStatus.FAILED and fallback_to_template and settling:
        store.update(conn, row.id, provider_id=None)
        record_template_fallback(conn, row.id, code=code or "", now=now)
        return _get(conn, row.id)
    if status is DeliveryStatus.FAILED and advance(row.status, status) is not None:
        store.update(conn, row.id, error_code=code, reason=reason)
    _move(conn, _get(conn, row.id), status, now)
    return _get(conn, row.id)


# -- internals ------------------------------------------------------------------------------


def _get(conn: Connection, outbox_id: str) -> OutboxRow:
    row = store.get(conn, outbox_id)
    if row is None:
        raise LookupError(f"outbox row {outbox_id} vanished")
    return row


def _move(conn: Connection, row: OutboxRow, reported: DeliveryStatus, now: datetime) -> None:
    new = advance(row.status, reported)
    if new is not None:
        _force(conn, row, new, now)


def _force(conn: Connection, row: OutboxRow, status: DeliveryStatus, now: datetime) -> None:
    store.update(conn, row.id, status=status, updated_at=stamp(now))
    _tell_counter(conn, _get(conn, row.id), now)


def _tell_counter(conn: Connection, row: OutboxRow, now: datetime) -> None:
    if row.status is DeliveryStatus.SENDING:
        return  # internal: the counter learns the outcome, not the attempt
    record = log_store.get_application(conn, row.application_id)
    if record is None:
        return
    feed.append(
        conn,
        audience=record.owner_device_id,
        kind=ServerEventKind.MESSAGE_STATUS,
        application_id=row.application_id,
        body={
            "message_id": row.id,
            "status": row.status.value,
            "at": stamp(now),
            "purpose": row.purpose.value,
            "reason": row.reason if row.status in _WITH_REASON else "",
        },
        now=now,
    )


_WITH_REASON = {DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN, DeliveryStatus.QUEUED}
