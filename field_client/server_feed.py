"""What each pulled server event does to the counter's store (format:
:mod:`protocol.server_events`; the checks before it: :meth:`Store.apply_server_events`).

:func:`apply_event` runs inside the pull's transaction, after the event was parsed for this
device and its signature verified against the pinned server key. The server is the
authority, so its events are taken as they are, not judged again by the workflow here:

=========================  ===================================================================
kind                       effect
=========================  ===================================================================
operator.upsert            the account is inserted or replaced; a disabled one becomes
                           inactive and can no longer log in (:meth:`Store.authenticate`)
application.decided        the application takes ``to_state`` (the seam
                           :meth:`Transaction.set_server_state`, also behind
                           :meth:`Counter.apply_server_state`) and the decision joins its
                           history with role, actor name, reasons and time
                           (:meth:`Store.decisions`)
application.transferred    towards this device: the application is stored (or replaced) with
                           the state and snapshot the server sent, plus its earlier decisions,
                           and is editable here; away from it: read-only here from now on
                           (actions refuse it with ``application.transferred_away``)
application.kk_ready       the KK number and the document reference are kept
                           (:meth:`Store.kk_document`)
message.status             the message's latest status, purpose and reason are kept
                           (:meth:`Store.message_statuses`)
inbox.document             a document an applicant sent by WhatsApp joins the kecamatan's
                           inbox (:meth:`Store.inbox_documents`)
inbox.attached             the item went to an application, here or elsewhere: it is shown
                           as taken and not offered again (:meth:`Store.inbox_attachments`)
=========================  ===================================================================

An event about an application this file does not hold (restored from an old backup) still
records what it can (decisions, KK, message status) and changes no state: refusing it would
block every later event of the feed behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from field_client.store import (
    Decision,
    InboxDocument,
    KKDocument,
    MessageStatus,
    Operator,
    Transaction,
)
from protocol.application import Application
from protocol.errors import ValidationError
from protocol.events import application_from_body
from protocol.server_events import ServerEvent, ServerEventKind
from protocol.workflow import State

__all__ = ["apply_event"]


def apply_event(tx: Transaction, event: ServerEvent) -> None:
    """Apply one verified server event inside the pull's transaction."""
    _APPLY[event.kind](tx, event)


def _operator(tx: Transaction, event: ServerEvent) -> None:
    body = event.body
    tx.upsert_operator(
        Operator(
            id=body["operator_id"],
            username=body["username"],
            full_name=body["full_name"],
            kecamatan=body["kecamatan"],
            password_hash=body["password_hash"],
            active=body["active"],
            updated_at=event.created_at,
        )
    )


def _decided(tx: Transaction, event: ServerEvent) -> None:
    assert event.application_id is not None  # from_wire requires it for this kind
    decision = Decision.from_mapping(
        event.body, cursor=event.cursor, application_id=event.application_id
    )
    tx.add_decision(decision)
    tx.set_server_state(event.application_id, decision.to_state, at=decision.at)


def _transferred(tx: Transaction, event: ServerEvent) -> None:
    assert event.application_id is not None
    body = event.body
    device = tx.device()
    assert device is not None  # apply_server_events checked the enrollment
    if body["to_device_id"] != device.device_id:
        tx.mark_transferred(event.application_id, body["to_device_id"], at=body["at"])
        return
    app = _snapshot(body)
    if app.id != event.application_id:
        raise ValidationError.single(
            "server_event.malformed", detail="data permohonan menyebut permohonan lain"
        )
    tx.take_over(app, state=State(body["state"]), at=body["at"])
    known = {(d.at, d.action) for d in tx.decisions(event.application_id)}
    for earlier in body["decisions"]:
        decision = Decision.from_mapping(
            earlier, cursor=event.cursor, application_id=event.application_id
        )
        # Coming back to a device that saw some of them before: keep one row per decision.
        if (decision.at, decision.action) not in known:
            tx.add_decision(decision)


def _snapshot(body: Mapping[str, Any]) -> Application:
    # The same reader as a created/edited event's body, so the issues point at the field.
    return application_from_body({"application": body["application"]})


def _kk_ready(tx: Transaction, event: ServerEvent) -> None:
    assert event.application_id is not None
    tx.record_kk_document(
        KKDocument(
            application_id=event.application_id,
            kk_number=event.body["kk_number"],
            document=dict(event.body["document"]),
            cursor=event.cursor,
            at=event.created_at,
        )
    )


def _message_status(tx: Transaction, event: ServerEvent) -> None:
    assert event.application_id is not None
    tx.record_message_status(
        MessageStatus(
            message_id=event.body["message_id"],
            application_id=event.application_id,
            status=event.body["status"],
            at=event.body["at"],
            cursor=event.cursor,
            purpose=_text(event.body, "purpose"),
            reason=_text(event.body, "reason"),
        )
    )


def _text(body: Mapping[str, Any], name: str) -> str:
    """An optional text field a newer server adds (older ones send none)."""
    value = body.get(name, "")
    return value[:500] if isinstance(value, str) else ""


def _inbox_document(tx: Transaction, event: ServerEvent) -> None:
    body = event.body
    tx.record_inbox_document(
        InboxDocument(
            item_id=body["item_id"],
            scan_id=body["scan_id"],
            media_type=body["media_type"],
            size=body["size"],
            sender=body["sender"],
            application_id=body["application_id"],
            received_at=body["received_at"],
            cursor=event.cursor,
        )
    )


def _inbox_attached(tx: Transaction, event: ServerEvent) -> None:
    body = event.body
    tx.record_inbox_attached(body["item_id"], body["application_id"], body["at"])


_APPLY: Mapping[ServerEventKind, Callable[[Transaction, ServerEvent], None]] = {
    ServerEventKind.OPERATOR_UPSERT: _operator,
    ServerEventKind.APPLICATION_DECIDED: _decided,
    ServerEventKind.APPLICATION_TRANSFERRED: _transferred,
    ServerEventKind.KK_READY: _kk_ready,
    ServerEventKind.MESSAGE_STATUS: _message_status,
    ServerEventKind.INBOX_DOCUMENT: _inbox_document,
    ServerEventKind.INBOX_ATTACHED: _inbox_attached,
}
