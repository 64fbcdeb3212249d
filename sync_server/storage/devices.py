"""Rows of ``enroll_codes``, ``devices`` and ``request_nonces``.

Functions take an open connection, so a service decides what shares a transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from signing.keys import load_public_key_b64

__all__ = [
    "EnrollCode",
    "Device",
    "insert_code",
    "get_code",
    "consume_code",
    "insert_device",
    "get_device",
    "device_with_key",
    "list_devices",
    "active_devices_of",
    "revoke_device",
    "remember_nonce",
    "forget_expired_nonces",
]


@dataclass(frozen=True, slots=True)
class EnrollCode:
    code_hash: str
    kecamatan: str
    label: str
    created_at: str
    expires_at: str
    used_at: str | None
    device_id: str | None


@dataclass(frozen=True, slots=True)
class Device:
    """An enrolled counter terminal."""

    device_id: str
    kecamatan: str
    label: str
    public_key: str
    """Standard base64 of the 32 raw Ed25519 bytes."""
    enrolled_at: str
    enrolled_ip: str
    revoked_at: str | None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def verifying_key(self) -> Ed25519PublicKey:
        return load_public_key_b64(self.public_key)


def insert_code(conn: sqlite3.Connection, code: EnrollCode) -> None:
    conn.execute(
        "INSERT INTO enroll_codes (code_hash, kecamatan, label, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (code.code_hash, code.kecamatan, code.label, code.created_at, code.expires_at),
    )


def get_code(conn: sqlite3.Connection, code_hash: str) -> EnrollCode | None:
    row = conn.execute("SELECT * FROM enroll_codes WHERE code_hash = ?", (code_hash,)).fetchone()
    return None if row is None else EnrollCode(**dict(row))


def consume_code(conn: sqlite3.Connection, code_hash: str, *, at: str, device_id: str) -> bool:
    """Mark an unused code used; False when it was already used (the compare-and-set)."""
    cursor = conn.execute(
        "UPDATE enroll_codes SET used_at = ?, device_id = ? "
        "WHERE code_hash = ? AND used_at IS NULL",
        (at, device_id, code_hash),
    )
    return cursor.rowcount == 1


def insert_device(conn: sqlite3.Connection, device: Device) -> None:
    conn.execute(
        "INSERT INTO devices (device_id, kecamatan, label, public_key, enrolled_at, "
        "enrolled_ip, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            device.device_id,
            device.kecamatan,
            device.label,
            device.public_key,
            device.enrolled_at,
            device.enrolled_ip,
            device.revoked_at,
        ),
    )


def get_device(conn: sqlite3.Connection, device_id: str) -> Device | None:
    row = conn.execute("SELECT * FROM devices WHERE device_id = ?", (device_id,)).fetchone()
    return None if row is None else Device(**dict(row))


def device_with_key(conn: sqlite3.Connection, public_key: str) -> Device | None:
    row = conn.execute("SELECT * FROM devices WHERE public_key = ?", (public_key,)).fetchone()
    return None if row is None else Device(**dict(row))


def list_devices(conn: sqlite3.Connection) -> list[Device]:
    rows = conn.execute("SELECT * FROM devices ORDER BY kecamatan, enrolled_at").fetchall()
    return [Device(**dict(row)) for row in rows]


def active_devices_of(conn: sqlite3.Connection, kecamatan: str) -> list[Device]:
    """The non-revoked devices of one kecamatan, oldest enrollment first."""
    rows = conn.execute(
        "SELECT * FROM devices WHERE kecamatan = ? AND revoked_at IS NULL "
        "ORDER BY enrolled_at, device_id",
        (kecamatan,),
    ).fetchall()
    return [Device(**dict(row)) for row in rows]


def revoke_device(conn: sqlite3.Connection, device_id: str, *, at: str) -> bool:
    """Set ``revoked_at`` unless already set; False when nothing changed."""
    cursor = conn.execute(
        "UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL",
        (at, device_id),
    )
    return cursor.rowcount == 1


def remember_nonce(
    conn: sqlite3.Connection, device_id: str, nonce: str, *, expires_at: str
) -> bool:
    """Record a nonce; False when this device already used it (a replay)."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO request_nonces (device_id, nonce, expires_at) VALUES (?, ?, ?)",
        (device_id, nonce, expires_at),
    )
    return cursor.rowcount == 1


def forget_expired_nonces(conn: sqlite3.Connection, *, now: str) -> int:
    """Drop nonces whose request can no longer pass the clock check anyway."""
    return conn.execute("DELETE FROM request_nonces WHERE expires_at < ?", (now,)).rowcount
