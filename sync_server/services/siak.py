"""SIAK: exporting an approved application for entry into SIAK, and recording that it was
entered, so the SOP's warning ("tidak dapat di entri ke database") never happens silently.

* :func:`export` gives the JSON record (:mod:`sync_server.services.siak_format`) of an
  application the Kabid has approved (``approved``, ``signed``, ``issued``, ``archived``);
  any other state is 409 ``siak.not_approved``. An export is a read of personal data: it is
  appended to the access log (``application.exported``) in the same transaction.
* :func:`record_entry` records SIAK's reference, who and when, once per application (409
  ``siak.already_entered`` with the existing record otherwise); access log
  ``application.siak_entered``.
* :func:`pending` lists approved applications not yet recorded as entered, the longest
  waiting first: what still has to go into SIAK; :func:`entered` the recorded entries.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import protocol.jurisdiction  # noqa: F401  (defines application.unknown)
from protocol.application import Application
from protocol.errors import ValidationError, define_messages
from protocol.workflow import Action, State
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import access_log, document_read, queues, siak_format
from sync_server.storage import changelog as log_store
from sync_server.storage.accounts import User
from sync_server.storage.changelog import ApplicationRecord
from sync_server.storage.db import Database

__all__ = [
    "EXPORTABLE",
    "EXPORTED",
    "ENTERED",
    "SiakEntry",
    "export",
    "record_entry",
    "entry_of",
    "entered",
    "pending",
]

define_messages(
    {
        "siak.not_approved": 'Permohonan {application_id} berstatus "{state}": hanya '
        "permohonan yang sudah diverifikasi Kabid yang dapat dientri ke SIAK.",
        "siak.already_entered": "Permohonan {application_id} sudah tercatat dientri ke SIAK "
        "oleh {username} pada {at} (referensi {reference}).",
        "siak.unreadable": "Data permohonan {application_id} tidak dapat dibaca untuk "
        "ekspor SIAK; hubungi admin Dinas.",
    }
)

EXPORTABLE = frozenset({State.APPROVED, State.SIGNED, State.ISSUED, State.ARCHIVED})
EXPORTED = "application.exported"
ENTERED = "application.siak_entered"


@dataclass(frozen=True, slots=True)
class SiakEntry:
    """That an application was entered into SIAK."""

    application_id: str
    reference: str
    entered_by: str
    username: str
    full_name: str
    entered_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _exportable(conn: sqlite3.Connection, application_id: str) -> ApplicationRecord:
    record = log_store.get_application(conn, application_id)
    if record is None:
        raise Refusal("application.unknown", status=404, application_id=application_id)
    state = State(record.state)
    if state not in EXPORTABLE:
        raise Refusal(
            "siak.not_approved",
            status=409,
            extra={"state": state.value},
            application_id=application_id,
            state=state.label,
        )
    return record


def _approval(conn: sqlite3.Connection, application_id: str) -> tuple[str | None, str | None]:
    """When the latest approval happened and the Kabid's name."""
    row = conn.execute(
        "SELECT e.server_time, u.full_name FROM application_events e "
        "LEFT JOIN users u ON u.user_id = e.actor_id "
        "WHERE e.application_id = ? AND e.action = ? ORDER BY e.id DESC LIMIT 1",
        (application_id, Action.APPROVE.value),
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def export(
    db: Database, application_id: str, *, actor: User, now: datetime, client_ip: str
) -> dict[str, Any]:
    """The JSON export record of an approved application; logged as a read."""
    at = stamp(now)
    with db.write() as conn:
        record = _exportable(conn, application_id)
        try:
            app = Application.from_dict(json.loads(record.snapshot))
        except ValidationError:
            raise Refusal("siak.unreadable", status=409, application_id=application_id) from None
        approved_at, approved_by = _approval(conn, application_id)
        kk_number = document_read.known_kk_number(conn, app)
        access_log.append_by(
            conn,
            actor,
            at=at,
            client_ip=client_ip,
            action=EXPORTED,
            application_id=application_id,
            detail="SIAK export",
        )
    return siak_format.export_record(
        app,
        state=record.state,
        kk_number=kk_number,
        exported_at=at,
        approved_at=approved_at,
        approved_by=approved_by,
    )


_ENTRIES = """
    SELECT s.application_id, s.reference, s.entered_by, u.username, u.full_name, s.entered_at
      FROM siak_entries s JOIN users u ON u.user_id = s.entered_by
"""


def entry_of(conn: sqlite3.Connection, application_id: str) -> SiakEntry | None:
    """The SIAK entry of the application, if it was recorded."""
    row = conn.execute(f"{_ENTRIES} WHERE s.application_id = ?", (application_id,)).fetchone()
    return SiakEntry(**dict(row)) if row else None


def entered(db: Database, *, limit: int, offset: int) -> tuple[list[SiakEntry], int]:
    """One page of the recorded SIAK entries, newest first, and how many there are. No
    personal data (ids, SIAK references, staff names): the admin's status view."""
    with db.read() as conn:
        total = conn.execute("SELECT count(*) FROM siak_entries").fetchone()[0]
        rows = conn.execute(
            f"{_ENTRIES} ORDER BY s.entered_at DESC, s.application_id LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
    return [SiakEntry(**dict(row)) for row in rows], int(total)


def record_entry(
    db: Database,
    application_id: str,
    *,
    reference: str,
    actor: User,
    now: datetime,
    client_ip: str,
) -> SiakEntry:
    """Record that the application was entered into SIAK under ``reference``."""
    at = stamp(now)
    with db.write() as conn:
        _exportable(conn, application_id)
        existing = entry_of(conn, application_id)
        if existing is not None:
            raise Refusal(
                "siak.already_entered",
                status=409,
                extra={"siak_entry": existing.to_dict()},
                application_id=application_id,
                username=existing.username,
                at=existing.entered_at,
                reference=existing.reference,
            )
        conn.execute(
            "INSERT INTO siak_entries (application_id, reference, entered_by, entered_at, "
            "client_ip) VALUES (?, ?, ?, ?, ?)",
            (application_id, reference, actor.user_id, at, client_ip),
        )
        access_log.append_by(
            conn,
            actor,
            at=at,
            client_ip=client_ip,
            action=ENTERED,
            application_id=application_id,
            detail=f"SIAK reference {reference}",
        )
        entry = entry_of(conn, application_id)
    assert entry is not None  # written in this transaction
    return entry


_STATES = tuple(sorted(s.value for s in EXPORTABLE))
_PENDING = f"""
    SELECT a.application_id, a.kecamatan, a.state, a.snapshot,
           (SELECT e.server_time FROM application_events e
             WHERE e.application_id = a.application_id AND e.action = 'approve'
             ORDER BY e.id DESC LIMIT 1) AS approved_at
      FROM applications a
     WHERE a.state IN ({", ".join("?" * len(_STATES))})
       AND NOT EXISTS (SELECT 1 FROM siak_entries s WHERE s.application_id = a.application_id)
"""


def pending(db: Database, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """One page of approved applications not yet entered into SIAK, longest waiting first
    (:class:`sync_server.schemas.SiakPendingItem`), and how many there are."""
    with db.read() as conn:
        total = conn.execute(f"SELECT count(*) FROM ({_PENDING})", _STATES).fetchone()[0]
        rows = conn.execute(
            f"{_PENDING} ORDER BY approved_at, a.application_id LIMIT ? OFFSET ?",
            (*_STATES, limit, offset),
        ).fetchall()
    items = [{**queues.summary(row), "approved_at": row["approved_at"] or ""} for row in rows]
    return items, int(total)
