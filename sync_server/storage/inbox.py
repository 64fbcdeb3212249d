"""Rows of ``whatsapp_inbox``: documents applicants sent to the office number.

Plain reads and writes inside the caller's connection; the rules are in
:mod:`sync_server.services.whatsapp.inbound`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = ["InboxItem", "insert", "get", "due", "of_kecamatan", "update"]


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    provider_id: str
    sender: str
    kind: str
    media_id: str
    declared_type: str
    filename: str
    kecamatan: str | None
    """The kecamatan of the sender's pending application; ``None``: the central inbox."""
    application_id: str | None
    status: str
    """``pending`` (to download), ``stored`` (encrypted in the scan store), ``refused``."""
    attempts: int
    next_attempt_at: str
    scan_id: str | None
    media_type: str | None
    size: int | None
    reason: str
    received_at: str
    stored_at: str | None
    attached_to: str | None
    attached_by: str | None
    attached_at: str | None


def insert(conn: sqlite3.Connection, **values: Any) -> int | None:
    """A new item; ``None`` when its message was recorded before (Meta redelivers)."""
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    cursor = conn.execute(
        f"INSERT INTO whatsapp_inbox ({names}) VALUES ({marks}) "
        "ON CONFLICT (provider_id) DO NOTHING",
        tuple(values.values()),
    )
    return cursor.lastrowid if cursor.rowcount else None


def get(conn: sqlite3.Connection, item_id: int) -> InboxItem | None:
    row = conn.execute("SELECT * FROM whatsapp_inbox WHERE id = ?", (item_id,)).fetchone()
    return InboxItem(**dict(row)) if row else None


def due(conn: sqlite3.Connection, now: str, limit: int) -> list[InboxItem]:
    rows = conn.execute(
        "SELECT * FROM whatsapp_inbox WHERE status = 'pending' AND next_attempt_at <= ? "
        "ORDER BY next_attempt_at, id LIMIT ?",
        (now, limit),
    ).fetchall()
    return [InboxItem(**dict(r)) for r in rows]


def of_kecamatan(conn: sqlite3.Connection, kecamatan: str | None) -> list[InboxItem]:
    """The inbox of a kecamatan (``None``: the central inbox), oldest first."""
    rows = conn.execute(
        "SELECT * FROM whatsapp_inbox WHERE kecamatan IS ? ORDER BY id", (kecamatan,)
    ).fetchall()
    return [InboxItem(**dict(r)) for r in rows]


def update(conn: sqlite3.Connection, item_id: int, **changes: Any) -> None:
    assignments = ", ".join(f"{name} = ?" for name in changes)
    conn.execute(
        f"UPDATE whatsapp_inbox SET {assignments} WHERE id = ?", (*changes.values(), item_id)
    )
