"""One application for central staff: stored snapshot, state, checklist, history, who holds
its current step (:mod:`sync_server.services.claims`) and its duplicate-NIK flags with the
other records (:mod:`sync_server.services.duplicates`), and its SIAK entry
(:mod:`sync_server.services.siak`).

:func:`read_application` reads inside a write transaction (``BEGIN IMMEDIATE``) so that the
access-log row (:mod:`sync_server.services.access_log`, action ``application.read``) commits
with the read: no personal data leaves the database unrecorded. Each other application a
flag shows gets its own access-log row (detail ``duplicate flag of <id>``). An unknown
application (404 ``application.unknown``) discloses nothing and is not logged.

``scans`` lists the application's document scans, each ``complete`` or still ``arriving``
(:func:`sync_server.services.scans.scan_list`); the images themselves are read one by one
(``GET /api/v1/applications/{id}/scans/{scan_id}``), each read logged on its own.

``messages`` lists the WhatsApp messages to the applicant with their delivery status
(:func:`sync_server.services.whatsapp.outbox.message_list`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import protocol.jurisdiction  # noqa: F401  (defines application.unknown)
from protocol.application import Application
from protocol.errors import ValidationError
from protocol.jurisdiction import office_date
from protocol.validation import checklist_of
from protocol.workflow import Role, State
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import access_log, claims, duplicates, scans, siak
from sync_server.services.whatsapp import outbox
from sync_server.storage import changelog as log_store
from sync_server.storage.db import Database

__all__ = ["read_application"]


def read_application(
    db: Database,
    application_id: str,
    *,
    actor_id: str,
    role: Role,
    client_ip: str,
    now: datetime,
    purpose: str | None = None,
) -> dict[str, Any]:
    """The application's detail (see :class:`sync_server.schemas.ApplicationDetail`)."""
    with db.write() as conn:
        record = log_store.get_application(conn, application_id)
        if record is None:
            raise Refusal("application.unknown", status=404, application_id=application_id)
        trail = log_store.trail_of(conn, application_id)
        attached = scans.scan_list(conn, application_id)
        messages = outbox.message_list(conn, application_id)
        held = claims.current_claim(conn, application_id)
        flags = duplicates.flags_of(conn, application_id)
        entered = siak.entry_of(conn, application_id)
        # A flag shows a little of another application (a name, its KK number): that read
        # is recorded against the other application too.
        reads = [(application_id, purpose or "detail view")] + [
            (other, f"duplicate flag of {application_id}")
            for other in sorted({f.other_application_id for f in flags})
        ]
        logged = [
            access_log.append(
                conn,
                at=stamp(now),
                actor_id=actor_id,
                role=role.value,
                client_ip=client_ip,
                action=access_log.READ,
                application_id=read_id,
                detail=detail,
            )
            for read_id, detail in reads
        ]
    data = json.loads(record.snapshot)
    state = State(record.state)
    return {
        "application_id": record.application_id,
        "kecamatan": record.kecamatan,
        "state": state.value,
        "state_label": state.label,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "data": data,
        "checklist": _checklist(data, now),
        "history": [
            {
                "actor_id": e.actor_id,
                "role": e.role,
                "action": e.action,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "reasons": json.loads(e.reasons) if e.reasons else None,
                "device_id": e.device_id,
                "seq": e.seq,
                "device_time": e.device_time,
                "server_time": e.server_time,
            }
            for e in trail
        ],
        "scans": attached,
        "messages": messages,
        "access_seq": logged[0].seq,
        "claimed_by": held.to_dict() if held else None,
        "duplicates": [f.to_dict() for f in flags],
        "siak_entry": entered.to_dict() if entered else None,
    }


def _checklist(data: dict[str, Any], now: datetime) -> list[dict[str, Any]] | None:
    """Each requirement with ``attached`` (satisfied by the attached documents) and the
    attached document codes that satisfy it; ``None`` if the snapshot no longer parses."""
    try:
        app = Application.from_dict(data)
    except ValidationError:
        return None
    attached = app.attached_documents
    return [
        {
            **requirement.to_dict(),
            "attached": requirement.is_satisfied_by(attached),
            "attached_documents": sorted(c for c in requirement.any_of if c in attached),
        }
        for requirement in checklist_of(app, today=office_date(now)).requirements
    ]
