"""Rows of ``whatsapp_outbox``, ``whatsapp_contacts`` and ``admin_alerts``.

Plain reads and writes inside the caller's connection; the rules (which status may follow
which, what a counter is told) are in :mod:`sync_server.services.whatsapp.outbox`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from protocol.whatsapp import DeliveryStatus, MessagePurpose

__all__ = [
    "OutboxRow",
    "Alert",
    "insert",
    "get",
    "by_provider_id",
    "due",
    "of_application",
    "in_status",
    "update",
    "mark_resent",
    "next_due_at",
    "touch_contact",
    "last_inbound_at",
    "add_alert",
    "list_alerts",
]

_COLUMNS = (
    "id, application_id, purpose, recipient, params, status, use_template, attempts, "
    "next_attempt_at, provider_id, media_id, error_code, reason, created_at, updated_at, "
    "resent_as"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message to an applicant and where its delivery stands."""

    id: str
    """Our id; travels as ``biz_opaque_callback_data`` and comes back in every status."""
    application_id: str
    purpose: MessagePurpose
    recipient: str
    """E.164 number (``+628...``)."""
    params: dict[str, Any]
    status: DeliveryStatus
    use_template: bool
    attempts: int
    next_attempt_at: str
    provider_id: str | None
    """The Cloud API's message id (``wamid...``) once the API accepted the message."""
    media_id: str | None
    error_code: str | None
    reason: str
    """Indonesian explanation of the last failure or retry, shown to people."""
    created_at: str
    updated_at: str
    resent_as: str | None = None
    """The new message that re-sent this one (:func:`mark_resent`), once a person asked."""

    @classmethod
    def of(cls, row: sqlite3.Row) -> OutboxRow:
        data = dict(row)
        data["purpose"] = MessagePurpose(data["purpose"])
        data["status"] = DeliveryStatus(data["status"])
        data["params"] = json.loads(data["params"])
        data["use_template"] = bool(data["use_template"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    at: str
    source: str
    code: str
    detail: str


def insert(conn: sqlite3.Connection, row: OutboxRow) -> None:
    conn.execute(
        f"INSERT INTO whatsapp_outbox ({_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            row.id,
            row.application_id,
            row.purpose.value,
            row.recipient,
            json.dumps(row.params, ensure_ascii=False, sort_keys=True),
            row.status.value,
            int(row.use_template),
            row.attempts,
            row.next_attempt_at,
            row.provider_id,
            row.media_id,
            row.error_code,
            row.reason,
            row.created_at,
            row.updated_at,
            row.resent_as,
        ),
    )


def mark_resent(conn: sqlite3.Connection, outbox_id: str, new_id: str) -> bool:
    """Record that ``new_id`` re-sent ``outbox_id``; False when it was re-sent already.

    Conditional in one statement, so two re-sends racing on the same message cannot both
    win, whichever path (counter event, CLI) they came from."""
    cursor = conn.execute(
        "UPDATE whatsapp_outbox SET resent_as = ? WHERE id = ? AND resent_as IS NULL",
        (new_id, outbox_id),
    )
    return cursor.rowcount == 1


def _select(conn: sqlite3.Connection, where: str, args: tuple[Any, ...]) -> list[OutboxRow]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM whatsapp_outbox WHERE {where}", args)
    return [OutboxRow.of(r) for r in rows.fetchall()]


def get(conn: sqlite3.Connection, outbox_id: str) -> OutboxRow | None:
    found = _select(conn, "id = ?", (outbox_id,))
    return found[0] if found else None


def by_provider_id(conn: sqlite3.Connection, provider_id: str) -> OutboxRow | None:
    found = _select(conn, "provider_id = ?", (provider_id,))
    return found[0] if found else None


def due(conn: sqlite3.Connection, now: str, limit: int) -> list[OutboxRow]:
    """Queued messages whose next attempt is due, oldest due first."""
    return _select(
        conn,
        "status = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?",
        (now, limit),
    )


def next_due_at(conn: sqlite3.Connection) -> str | None:
    row = conn.execute(
        "SELECT min(next_attempt_at) FROM whatsapp_outbox WHERE status = 'queued'"
    ).fetchone()
    return row[0]


def of_application(conn: sqlite3.Connection, application_id: str) -> list[OutboxRow]:
    return _select(conn, "application_id = ? ORDER BY created_at, id", (application_id,))


def in_status(conn: sqlite3.Connection, status: DeliveryStatus) -> list[OutboxRow]:
    return _select(conn, "status = ? ORDER BY created_at, id", (status.value,))


def update(conn: sqlite3.Connection, outbox_id: str, **changes: Any) -> None:
    """Set the given columns (enum values and booleans converted) of one row."""
    allowed = set(_COLUMNS.split(", ")) - {"id", "application_id", "created_at"}
    if not set(changes) <= allowed:
        raise ValueError(f"unknown outbox columns: {sorted(set(changes) - allowed)}")
    values = [
        v.value if hasattr(v, "value") else int(v) if isinstance(v, bool) else v
        for v in changes.values()
    ]
    assignments = ", ".join(f"{name} = ?" for name in changes)
    conn.execute(
        f"UPDATE whatsapp_outbox SET {assignments} WHERE id = ?",
        (*values, outbox_id),
    )


def touch_contact(conn: sqlite3.Connection, phone: str, at: str) -> None:
    """Record that ``phone`` wrote to the office at ``at`` (opens the 24-hour window)."""
    conn.execute(
        "INSERT INTO whatsapp_contacts (phone, last_inbound_at) VALUES (?, ?) "
        "ON CONFLICT (phone) DO UPDATE SET last_inbound_at = "
        "max(last_inbound_at, excluded.last_inbound_at)",
        (phone, at),
    )


def last_inbound_at(conn: sqlite3.Connection, phone: str) -> str | None:
    row = conn.execute(
        "SELECT last_inbound_at FROM whatsapp_contacts WHERE phone = ?", (phone,)
    ).fetchone()
    return row[0] if row else None


def add_alert(conn: sqlite3.Connection, *, at: str, source: str, code: str, detail: str) -> None:
    conn.execute(
        "INSERT INTO admin_alerts (at, source, code, detail) VALUES (?, ?, ?, ?)",
        (at, source, code, detail),
    )


def list_alerts(conn: sqlite3.Connection, *, limit: int = 50) -> list[Alert]:
    rows = conn.execute("SELECT * FROM admin_alerts ORDER BY id DESC LIMIT ?", (limit,))
    return [Alert(**dict(r)) for r in rows.fetchall()]
