"""Rows of ``feed`` (the signed events each device pulls) and ``transfers``.

A feed row is written in two steps inside one transaction: :func:`reserve` inserts it to
obtain its cursor (AUTOINCREMENT, so a cursor is never reused even after a row is purged),
then :func:`seal` stores the signed wire JSON, whose signature covers that cursor. Nothing
outside the transaction ever sees a row without its wire.

Cursor order is commit order: SQLite has one writer at a time and every feed write happens
inside :meth:`Database.write`, so no reader can see cursor ``n + 1`` before cursor ``n`` is
committed. A counter that pulls "after ``n``" therefore never skips an event.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "Transfer",
    "reserve",
    "seal",
    "wires_after",
    "last_cursor",
    "wires_of",
    "insert_transfer",
    "transfers_of",
]


@dataclass(frozen=True, slots=True)
class Transfer:
    application_id: str
    from_device_id: str
    to_device_id: str
    state: str
    at: str


def reserve(
    conn: sqlite3.Connection,
    *,
    audience: str,
    kind: str,
    application_id: str | None,
    created_at: str,
) -> int:
    """Insert a feed row without its wire yet; returns its cursor."""
    cursor = conn.execute(
        "INSERT INTO feed (audience, kind, application_id, wire, created_at) "
        "VALUES (?, ?, ?, '', ?)",
        (audience, kind, application_id, created_at),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


def seal(conn: sqlite3.Connection, cursor: int, wire: str) -> None:
    """Store the signed wire JSON of a reserved row."""
    conn.execute("UPDATE feed SET wire = ? WHERE cursor = ?", (wire, cursor))


def wires_after(
    conn: sqlite3.Connection, audience: str, after: int, limit: int
) -> list[tuple[int, str]]:
    """``(cursor, wire)`` of ``audience``'s events with cursor > ``after``, ascending."""
    rows = conn.execute(
        "SELECT cursor, wire FROM feed WHERE audience = ? AND cursor > ? ORDER BY cursor LIMIT ?",
        (audience, after, limit),
    ).fetchall()
    return [(row["cursor"], row["wire"]) for row in rows]


def last_cursor(conn: sqlite3.Connection) -> int:
    """The highest cursor ever handed out (0 before the first), of any audience."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'feed'").fetchone()
    return int(row["seq"]) if row else 0


def wires_of(conn: sqlite3.Connection, application_id: str, kind: str) -> list[str]:
    """The wire JSON of every ``kind`` event about one application, oldest first."""
    rows = conn.execute(
        "SELECT wire FROM feed WHERE application_id = ? AND kind = ? ORDER BY cursor",
        (application_id, kind),
    ).fetchall()
    return [row["wire"] for row in rows]


def insert_transfer(conn: sqlite3.Connection, transfer: Transfer) -> None:
    conn.execute(
        "INSERT INTO transfers (application_id, from_device_id, to_device_id, state, at) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            transfer.application_id,
            transfer.from_device_id,
            transfer.to_device_id,
            transfer.state,
            transfer.at,
        ),
    )


def transfers_of(conn: sqlite3.Connection, application_id: str) -> list[Transfer]:
    rows = conn.execute(
        "SELECT application_id, from_device_id, to_device_id, state, at FROM transfers "
        "WHERE application_id = ? ORDER BY id",
        (application_id,),
    ).fetchall()
    return [Transfer(**dict(row)) for row in rows]
