"""Rows of ``device_box_keys`` and ``sealed_documents``: downloads encrypted per counter.

A counter registers the X25519 public key it wants its downloads sealed for (one per device,
replaced when the counter's key changes). The signed KK is encrypted for that key once per
(document, device) (:mod:`sync_server.services.device_documents`) and the ciphertext kept
in ``<data_dir>/sealed/`` (:mod:`sync_server.storage.documents`, by its SHA-256), so every
piece of a resumed download comes from the same bytes.

Functions take an open connection, so a service decides what shares a transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "SealedDocument",
    "box_key_of",
    "set_box_key",
    "get_sealed",
    "put_sealed",
    "referenced_blobs",
    "forget_revoked",
]


@dataclass(frozen=True, slots=True)
class SealedDocument:
    """The signed KK ``document_sha256`` encrypted for one device's box key."""

    document_sha256: str
    device_id: str
    box_public_key: str
    blob_sha256: str
    blob_bytes: int
    created_at: str


def box_key_of(conn: sqlite3.Connection, device_id: str) -> str | None:
    """The device's registered X25519 public key (base64), ``None`` before it registers."""
    row = conn.execute(
        "SELECT box_public_key FROM device_box_keys WHERE device_id = ?", [device_id]
    ).fetchone()
    return None if row is None else str(row[0])


def set_box_key(conn: sqlite3.Connection, device_id: str, public_key: str, *, at: str) -> list[str]:
    """Register ``public_key`` for the device. A changed key drops the device's sealed
    copies (the counter cannot open them any more); returns their blob hashes so the caller
    can delete files no other row names once the transaction committed."""
    if box_key_of(conn, device_id) == public_key:
        return []
    dropped = [
        str(r[0])
        for r in conn.execute(
            "DELETE FROM sealed_documents WHERE device_id = ? RETURNING blob_sha256", [device_id]
        ).fetchall()
    ]
    conn.execute(
        "INSERT INTO device_box_keys (device_id, box_public_key, registered_at) VALUES (?, ?, ?)"
        " ON CONFLICT (device_id) DO UPDATE SET box_public_key = excluded.box_public_key,"
        " registered_at = excluded.registered_at",
        [device_id, public_key, at],
    )
    return dropped


def get_sealed(
    conn: sqlite3.Connection, document_sha256: str, device_id: str
) -> SealedDocument | None:
    row = conn.execute(
        "SELECT * FROM sealed_documents WHERE document_sha256 = ? AND device_id = ?",
        [document_sha256, device_id],
    ).fetchone()
    return None if row is None else SealedDocument(**dict(row))


def put_sealed(conn: sqlite3.Connection, sealed: SealedDocument) -> SealedDocument:
    """Record ``sealed`` unless a copy for the same key is there already (two first
    requests at once); the row that stands is returned, so both serve the same bytes."""
    existing = get_sealed(conn, sealed.document_sha256, sealed.device_id)
    if existing is not None and existing.box_public_key == sealed.box_public_key:
        return existing
    conn.execute(
        "INSERT INTO sealed_documents (document_sha256, device_id, box_public_key,"
        " blob_sha256, blob_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (document_sha256, device_id) DO UPDATE SET"
        " box_public_key = excluded.box_public_key, blob_sha256 = excluded.blob_sha256,"
        " blob_bytes = excluded.blob_bytes, created_at = excluded.created_at",
        [
            sealed.document_sha256,
            sealed.device_id,
            sealed.box_public_key,
            sealed.blob_sha256,
            sealed.blob_bytes,
            sealed.created_at,
        ],
    )
    return sealed


def referenced_blobs(conn: sqlite3.Connection) -> set[str]:
    """Every ciphertext hash a row names (the sweep keeps these files)."""
    return {str(r[0]) for r in conn.execute("SELECT blob_sha256 FROM sealed_documents")}


def forget_revoked(conn: sqlite3.Connection) -> int:
    """Drop the sealed copies of revoked devices (they are never served again)."""
    cursor = conn.execute(
        "DELETE FROM sealed_documents WHERE device_id IN"
        " (SELECT device_id FROM devices WHERE revoked_at IS NOT NULL)"
    )
    return cursor.rowcount
