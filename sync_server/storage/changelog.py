"""Rows of ``events``, ``applications`` and ``application_events``.

``events`` is each device's change log exactly as accepted: one row per (device_id, seq),
refused events included (they advance the chain too), with the outcome the operator sees.
``applications`` holds what the log led to; ``application_events`` is the audit trail.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = [
    "StoredEvent",
    "ApplicationRecord",
    "TrailEntry",
    "last_event",
    "events_between",
    "insert_event",
    "get_application",
    "insert_application",
    "update_application",
    "set_owner",
    "append_trail",
    "trail_of",
]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    device_id: str
    seq: int
    hash: str
    prev_hash: str
    kind: str
    application_id: str
    operator_id: str
    device_time: str
    received_at: str
    wire: str
    """The event's wire JSON (``ChangeEvent.to_wire``), signature included."""
    status: str
    """``applied`` or ``refused``."""
    code: str | None
    message: str | None
    params: str
    """JSON object with the refusal's parameters (``{}`` when applied)."""

    def params_dict(self) -> dict[str, Any]:
        return json.loads(self.params)


@dataclass(frozen=True, slots=True)
class ApplicationRecord:
    application_id: str
    owner_device_id: str
    kecamatan: str
    state: str
    snapshot: str
    """The application's wire JSON (``Application.to_dict``) as of the last applied edit."""
    created_at: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """One applied move: who, from where, when (both clocks), what and why.

    ``device_id`` and ``seq`` name the counter event that made the move; both are ``None``
    for a central decision, which no device made (its ``device_time`` is the server's).
    """

    application_id: str
    device_id: str | None
    seq: int | None
    actor_id: str
    role: str
    action: str
    from_state: str | None
    to_state: str
    reasons: str | None
    device_time: str
    server_time: str


def last_event(conn: sqlite3.Connection, device_id: str) -> StoredEvent | None:
    row = conn.execute(
        "SELECT * FROM events WHERE device_id = ? ORDER BY seq DESC LIMIT 1", (device_id,)
    ).fetchone()
    return None if row is None else StoredEvent(**dict(row))


def events_between(
    conn: sqlite3.Connection, device_id: str, first: int, last: int
) -> dict[int, StoredEvent]:
    rows = conn.execute(
        "SELECT * FROM events WHERE device_id = ? AND seq BETWEEN ? AND ?",
        (device_id, first, last),
    ).fetchall()
    return {row["seq"]: StoredEvent(**dict(row)) for row in rows}


def insert_event(conn: sqlite3.Connection, event: StoredEvent) -> None:
    conn.execute(
        "INSERT INTO events (device_id, seq, hash, prev_hash, kind, application_id, "
        "operator_id, device_time, received_at, wire, status, code, message, params) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.device_id,
            event.seq,
            event.hash,
            event.prev_hash,
            event.kind,
            event.application_id,
            event.operator_id,
            event.device_time,
            event.received_at,
            event.wire,
            event.status,
            event.code,
            event.message,
            event.params,
        ),
    )


def get_application(conn: sqlite3.Connection, application_id: str) -> ApplicationRecord | None:
    row = conn.execute(
        "SELECT * FROM applications WHERE application_id = ?", (application_id,)
    ).fetchone()
    return None if row is None else ApplicationRecord(**dict(row))


def insert_application(conn: sqlite3.Connection, record: ApplicationRecord) -> None:
    conn.execute(
        "INSERT INTO applications (application_id, owner_device_id, kecamatan, state, "
        "snapshot, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            record.application_id,
            record.owner_device_id,
            record.kecamatan,
            record.state,
            record.snapshot,
            record.created_at,
            record.updated_at,
        ),
    )


def update_application(
    conn: sqlite3.Connection, application_id: str, *, state: str, snapshot: str, at: str
) -> None:
    conn.execute(
        "UPDATE applications SET state = ?, snapshot = ?, updated_at = ? WHERE application_id = ?",
        (state, snapshot, at, application_id),
    )


def set_owner(conn: sqlite3.Connection, application_id: str, device_id: str, *, at: str) -> None:
    conn.execute(
        "UPDATE applications SET owner_device_id = ?, updated_at = ? WHERE application_id = ?",
        (device_id, at, application_id),
    )


def append_trail(conn: sqlite3.Connection, entry: TrailEntry) -> None:
    conn.execute(
        "INSERT INTO application_events (application_id, device_id, seq, actor_id, role, "
        "action, from_state, to_state, reasons, device_time, server_time) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.application_id,
            entry.device_id,
            entry.seq,
            entry.actor_id,
            entry.role,
            entry.action,
            entry.from_state,
            entry.to_state,
            entry.reasons,
            entry.device_time,
            entry.server_time,
        ),
    )


def trail_of(conn: sqlite3.Connection, application_id: str) -> list[TrailEntry]:
    rows = conn.execute(
        "SELECT application_id, device_id, seq, actor_id, role, action, from_state, to_state, "
        "reasons, device_time, server_time FROM application_events "
        "WHERE application_id = ? ORDER BY id",
        (application_id,),
    ).fetchall()
    return [TrailEntry(**dict(row)) for row in rows]
