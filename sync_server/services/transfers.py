"""Moving a counter-side application to another device of its kecamatan (design.md §1).

One device owns an application while the counter side holds it; two terminals never edit
it offline. When that device is broken, stolen or the applicant goes to another counter of
the same kecamatan, an admin moves it: ``kk-server application transfer APPLICATION_ID
--to DEVICE_ID`` (:func:`transfer_application`). Refusals, in order:

* ``application.unknown`` (404): no such application;
* ``transfer.not_at_counter`` (409): the centre holds it (``submitted`` .. ``issued``) or it
  is finished (``archived``, ``withdrawn``); only :func:`protocol.workflow.owner` = counter
  states move;
* ``device.not_found`` (404), ``transfer.device_revoked`` (409),
  ``transfer.wrong_kecamatan`` (409), ``transfer.same_device`` (409) for the target.

In one transaction it changes the owner, records the move in ``transfers`` and feeds
``application.transferred`` to the old device (stop editing: the application becomes
read-only there) and to the new one (with the snapshot, the state and the earlier central
decisions, so it can take over). From then on the old device's events about the application
are refused by ingest's ownership rule (``application.not_owner``), and decisions go to the
new device.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

import protocol.jurisdiction  # noqa: F401  (defines application.unknown)
from protocol.server_events import ServerEvent, ServerEventKind
from protocol.workflow import Side, State, owner
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import feed
from sync_server.storage import changelog as log_store
from sync_server.storage import devices as device_store
from sync_server.storage import feed as feed_store
from sync_server.storage.db import Database

__all__ = ["TransferOutcome", "transfer_application"]

log = logging.getLogger("sync_server.transfers")


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    application_id: str
    state: State
    from_device_id: str
    to_device_id: str
    away: ServerEvent
    """The event for the old device."""
    towards: ServerEvent
    """The event for the new device."""


def transfer_application(
    db: Database, application_id: str, *, to_device_id: str, now: datetime
) -> TransferOutcome:
    """Move the application to ``to_device_id`` (see the module docstring)."""
    application_id = application_id.strip()
    to_device_id = to_device_id.strip()
    with db.write() as conn:
        record = log_store.get_application(conn, application_id)
        if record is None:
            raise Refusal("application.unknown", status=404, application_id=application_id)
        state = State(record.state)
        if owner(state) is not Side.COUNTER:
            raise Refusal(
                "transfer.not_at_counter",
                status=409,
                application_id=application_id,
                state=state.label,
            )
        target = device_store.get_device(conn, to_device_id)
        if target is None:
            raise Refusal("device.not_found", status=404, device_id=to_device_id)
        if target.is_revoked:
            raise Refusal("transfer.device_revoked", status=409, device_id=target.device_id)
        if target.kecamatan != record.kecamatan:
            raise Refusal(
                "transfer.wrong_kecamatan",
                status=409,
                device_id=target.device_id,
                device_kecamatan=target.kecamatan,
                kecamatan=record.kecamatan,
            )
        if target.device_id == record.owner_device_id:
            raise Refusal("transfer.same_device", status=409, device_id=target.device_id)

        at = stamp(now)
        source = record.owner_device_id
        log_store.set_owner(conn, application_id, target.device_id, at=at)
        feed_store.insert_transfer(
            conn,
            feed_store.Transfer(application_id, source, target.device_id, state.value, at),
        )
        common = {
            "from_device_id": source,
            "to_device_id": target.device_id,
            "state": state.value,
            "at": at,
        }
        away = feed.append(
            conn,
            audience=source,
            kind=ServerEventKind.APPLICATION_TRANSFERRED,
            application_id=application_id,
            body=common,
            now=now,
        )
        decisions = [
            json.loads(wire)["body"]
            for wire in feed_store.wires_of(
                conn, application_id, ServerEventKind.APPLICATION_DECIDED.value
            )
        ]
        towards = feed.append(
            conn,
            audience=target.device_id,
            kind=ServerEventKind.APPLICATION_TRANSFERRED,
            application_id=application_id,
            body={
                **common,
                "application": json.loads(record.snapshot),
                "decisions": decisions,
            },
            now=now,
        )
    log.info(
        "transfer application=%s state=%s from=%s to=%s",
        application_id,
        state.value,
        source,
        target.device_id,
    )
    return TransferOutcome(application_id, state, source, target.device_id, away, towards)
