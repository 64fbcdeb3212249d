"""Rows of the KK number registry and of the signed KK documents.

``kk_numbers`` holds every number the server ever allocated or took over (its primary key is
the number, so a number can never be handed out twice); ``kk_serials`` the demo allocator's
counter per kecamatan and day; ``kk_number_entries`` the numbers SIAK issued, typed in by
staff; ``application_kk_numbers`` which number each application got; ``kk_documents`` every
signed KK with its verification token. Policy lives in :mod:`sync_server.services.kk_numbers`
and :mod:`sync_server.services.kk_documents`; this module only reads and writes rows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = [
    "KKDocumentRow",
    "number_source",
    "register_number",
    "next_serial",
    "siak_entry",
    "enter_siak_number",
    "assigned_number",
    "assign_number",
    "insert_document",
    "supersede_active",
    "document_by_token",
    "document_of_application",
]


@dataclass(frozen=True, slots=True)
class KKDocumentRow:
    """One signed KK document (a row of ``kk_documents``)."""

    id: int
    token: str
    kk_number: str
    application_id: str
    sha256: str
    size: int
    signer: str
    signed_at: str
    issued_on: str
    superseded_at: str | None
    superseded_by: int | None

    @property
    def active(self) -> bool:
        return self.superseded_at is None


def number_source(conn: sqlite3.Connection, kk_number: str) -> str | None:
    """How ``kk_number`` entered the registry (``demo``/``siak``/``existing``), or ``None``."""
    row = conn.execute("SELECT source FROM kk_numbers WHERE kk_number = ?", (kk_number,)).fetchone()
    return None if row is None else str(row[0])


def register_number(
    conn: sqlite3.Connection,
    *,
    kk_number: str,
    kecamatan: str,
    source: str,
    application_id: str,
    at: str,
) -> None:
    """Add ``kk_number`` to the registry (``sqlite3.IntegrityError`` if it is there)."""
    conn.execute(
        "INSERT INTO kk_numbers (kk_number, kecamatan, source, first_application_id, "
        "registered_at) VALUES (?, ?, ?, ?, ?)",
        (kk_number, kecamatan, source, application_id, at),
    )


def next_serial(conn: sqlite3.Connection, kecamatan: str, day: str) -> int:
    """Advance and return the demo serial of (kecamatan, day); 10000 means exhausted.

    Runs inside the caller's write transaction, so two allocations never read the same value.
    """
    row = conn.execute(
        "SELECT last_serial FROM kk_serials WHERE kecamatan = ? AND day = ?", (kecamatan, day)
    ).fetchone()
    serial = 1 if row is None else int(row[0]) + 1
    if serial > 9999:
        return serial
    conn.execute(
        "INSERT INTO kk_serials (kecamatan, day, last_serial) VALUES (?, ?, ?) "
        "ON CONFLICT (kecamatan, day) DO UPDATE SET last_serial = excluded.last_serial",
        (kecamatan, day, serial),
    )
    return serial


def siak_entry(conn: sqlite3.Connection, application_id: str) -> str | None:
    """The SIAK number staff entered for ``application_id``, if any."""
    row = conn.execute(
        "SELECT kk_number FROM kk_number_entries WHERE application_id = ?", (application_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def enter_siak_number(
    conn: sqlite3.Connection, *, application_id: str, kk_number: str, actor_id: str, at: str
) -> None:
    """Record (or correct, before signing) the SIAK number of an application."""
    conn.execute(
        "INSERT INTO kk_number_entries (application_id, kk_number, entered_by, entered_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (application_id) DO UPDATE SET "
        "kk_number = excluded.kk_number, entered_by = excluded.entered_by, "
        "entered_at = excluded.entered_at",
        (application_id, kk_number, actor_id, at),
    )


def assigned_number(conn: sqlite3.Connection, application_id: str) -> tuple[str, bool] | None:
    """(number, new_family) given to ``application_id``, or ``None``."""
    row = conn.execute(
        "SELECT kk_number, new_family FROM application_kk_numbers WHERE application_id = ?",
        (application_id,),
    ).fetchone()
    return None if row is None else (str(row[0]), bool(row[1]))


def assign_number(
    conn: sqlite3.Connection, *, application_id: str, kk_number: str, new_family: bool, at: str
) -> None:
    conn.execute(
        "INSERT INTO application_kk_numbers (application_id, kk_number, new_family, "
        "assigned_at) VALUES (?, ?, ?, ?)",
        (application_id, kk_number, int(new_family), at),
    )


def insert_document(
    conn: sqlite3.Connection,
    *,
    token: str,
    kk_number: str,
    application_id: str,
    sha256: str,
    size: int,
    signer: str,
    signed_at: str,
    issued_on: str,
) -> int:
    """Store a signed KK document; returns its id."""
    cursor = conn.execute(
        "INSERT INTO kk_documents (token, kk_number, application_id, sha256, size, signer, "
        "signed_at, issued_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (token, kk_number, application_id, sha256, size, signer, signed_at, issued_on),
    )
    assert cursor.lastrowid is not None
    return int(cursor.lastrowid)


def supersede_active(conn: sqlite3.Connection, kk_number: str, *, by: int, at: str) -> int:
    """Mark every still-active document of ``kk_number`` except ``by`` superseded by it."""
    cursor = conn.execute(
        "UPDATE kk_documents SET superseded_at = ?, superseded_by = ? "
        "WHERE kk_number = ? AND superseded_at IS NULL AND id != ?",
        (at, by, kk_number, by),
    )
    return cursor.rowcount


def _document(row: sqlite3.Row | None) -> KKDocumentRow | None:
    if row is None:
        return None
    return KKDocumentRow(**{key: row[key] for key in row.keys()})


def document_by_token(conn: sqlite3.Connection, token: str) -> KKDocumentRow | None:
    return _document(
        conn.execute("SELECT * FROM kk_documents WHERE token = ?", (token,)).fetchone()
    )


def document_of_application(conn: sqlite3.Connection, application_id: str) -> KKDocumentRow | None:
    return _document(
        conn.execute(
            "SELECT * FROM kk_documents WHERE application_id = ?", (application_id,)
        ).fetchone()
    )
