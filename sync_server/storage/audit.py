"""Rows of ``refusals`` and ``forks``: what an admin reviews after the fact.

Only ids, codes and statuses are kept for refusals: never request bodies, signatures,
enrollment codes or personal data. A fork keeps the conflicting event itself, because the
device's signature on it is the evidence an admin needs.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "RefusalRecord",
    "ForkRecord",
    "record_refusal",
    "list_refusals",
    "record_fork",
    "list_forks",
]


@dataclass(frozen=True, slots=True)
class RefusalRecord:
    id: int
    at: str
    client_ip: str
    device_id: str | None
    method: str
    path: str
    status: int
    code: str
    seq: int | None


@dataclass(frozen=True, slots=True)
class ForkRecord:
    id: int
    detected_at: str
    device_id: str
    seq: int
    stored_hash: str
    received_hash: str
    received_event: str


def record_refusal(
    conn: sqlite3.Connection,
    *,
    at: str,
    client_ip: str,
    device_id: str | None,
    method: str,
    path: str,
    status: int,
    code: str,
    seq: int | None,
) -> None:
    conn.execute(
        "INSERT INTO refusals (at, client_ip, device_id, method, path, status, code, seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (at, client_ip, device_id, method, path, status, code, seq),
    )


def list_refusals(conn: sqlite3.Connection, *, limit: int = 50) -> list[RefusalRecord]:
    """The newest refusals first."""
    rows = conn.execute("SELECT * FROM refusals ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [RefusalRecord(**dict(row)) for row in rows]


def record_fork(
    conn: sqlite3.Connection,
    *,
    detected_at: str,
    device_id: str,
    seq: int,
    stored_hash: str,
    received_hash: str,
    received_event: str,
) -> None:
    conn.execute(
        "INSERT INTO forks (detected_at, device_id, seq, stored_hash, received_hash, "
        "received_event) VALUES (?, ?, ?, ?, ?, ?)",
        (detected_at, device_id, seq, stored_hash, received_hash, received_event),
    )


def list_forks(conn: sqlite3.Connection, *, limit: int = 50) -> list[ForkRecord]:
    rows = conn.execute("SELECT * FROM forks ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [ForkRecord(**dict(row)) for row in rows]
