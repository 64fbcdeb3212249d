"""The hash-chained access log: every staff read of personal data and every central decision.

Each row names who (``actor_id``, ``role``), from where (``client_ip``), when (``at``, server
time), what (``action``: ``application.read``, ``application.decided``), which application
and why (``detail``). Rows are numbered from 1 without gaps (``seq``), and each carries
``prev_hash`` (the previous row's ``hash``; :data:`GENESIS` for the first) and
``hash = sha256_hex(canonical_json(row without hash))``, so editing, deleting or reordering a
stored row breaks the chain from that row on and :func:`verify_audit_chain` names it.

:func:`append` runs on a connection inside the caller's write transaction
(:meth:`~sync_server.storage.db.Database.write`, ``BEGIN IMMEDIATE``): the record commits with
the read or the decision it records, or neither does, and the single writer makes
``seq``/``prev_hash`` race-free.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from protocol.canonical import canonical_json, sha256_hex
from sync_server.storage.accounts import User
from sync_server.storage.db import Database

__all__ = [
    "GENESIS",
    "READ",
    "DECIDED",
    "DOCUMENT_READ",
    "KK_NUMBER_ENTERED",
    "AccessRecord",
    "append",
    "append_by",
    "entries",
    "page",
    "row_hash",
    "ChainReport",
    "check_chain",
    "verify_audit_chain",
]

GENESIS = "0" * 64
"""``prev_hash`` of the first row."""
READ = "application.read"
DECIDED = "application.decided"
DOCUMENT_READ = "document.read"
"""A staff member opened a document of an application (draft KK, Biodata, archive)."""
KK_NUMBER_ENTERED = "kk_number.entered"
"""A staff member entered the KK number SIAK issued."""

_COLUMNS = "seq, at, actor_id, role, client_ip, action, application_id, detail, prev_hash, hash"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    seq: int
    at: str
    actor_id: str
    role: str
    client_ip: str
    action: str
    application_id: str | None
    detail: str
    prev_hash: str
    hash: str


def row_hash(fields: dict[str, object]) -> str:
    """SHA-256 (hex) of the canonical JSON of a row's fields other than ``hash``."""
    return sha256_hex(canonical_json({k: v for k, v in fields.items() if k != "hash"}))


def append(
    conn: sqlite3.Connection,
    *,
    at: str,
    actor_id: str,
    role: str,
    client_ip: str,
    action: str,
    application_id: str | None,
    detail: str = "",
) -> AccessRecord:
    """Append one chained row; ``conn`` must be in a write transaction."""
    if not conn.in_transaction:
        raise RuntimeError("access_log.append needs a write transaction (Database.write)")
    last = conn.execute("SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1").fetchone()
    fields: dict[str, object] = {
        "seq": (last["seq"] + 1) if last else 1,
        "at": at,
        "actor_id": actor_id,
        "role": role,
        "client_ip": client_ip,
        "action": action,
        "application_id": application_id,
        "detail": detail,
        "prev_hash": last["hash"] if last else GENESIS,
    }
    fields["hash"] = row_hash(fields)
    conn.execute(
        f"INSERT INTO access_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        tuple(fields[c.strip()] for c in _COLUMNS.split(",")),
    )
    return AccessRecord(**fields)  # type: ignore[arg-type]


def append_by(
    conn: sqlite3.Connection,
    actor: User,
    *,
    at: str,
    client_ip: str,
    action: str,
    application_id: str | None,
    detail: str = "",
) -> AccessRecord:
    """:func:`append` for a staff account's act."""
    return append(
        conn,
        at=at,
        actor_id=actor.user_id,
        role=actor.role.value,
        client_ip=client_ip,
        action=action,
        application_id=application_id,
        detail=detail,
    )


def entries(conn: sqlite3.Connection, *, application_id: str | None = None) -> list[AccessRecord]:
    """The rows in chain order, all or those of one application."""
    return list(_in_order(conn, application_id))


def _in_order(conn: sqlite3.Connection, application_id: str | None) -> Iterator[AccessRecord]:
    """Rows in chain order, read from the cursor one at a time: the whole log of a busy
    office (years of reads) never has to fit in memory at once."""
    where, args = ("WHERE application_id = ?", (application_id,)) if application_id else ("", ())
    cursor = conn.execute(f"SELECT {_COLUMNS} FROM access_log {where} ORDER BY seq", args)
    for row in cursor:
        yield AccessRecord(**dict(row))


def page(
    db: Database, *, limit: int, offset: int, application_id: str | None = None
) -> tuple[list[AccessRecord], int]:
    """One page of rows, newest first (all, or one application's), and how many there are."""
    where, args = ("WHERE application_id = ?", (application_id,)) if application_id else ("", ())
    with db.read() as conn:
        total = conn.execute(f"SELECT count(*) FROM access_log {where}", args).fetchone()[0]
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM access_log {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
    return [AccessRecord(**dict(row)) for row in rows], int(total)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The whole chain checked: intact, how many rows, the first wrong one."""

    intact: bool
    rows: int
    first_bad_seq: int | None


def check_chain(db: Database) -> ChainReport:
    """:func:`verify_audit_chain` on one consistent snapshot, with the row count."""
    with db.read() as conn:
        conn.execute("BEGIN")  # one snapshot for the count and the walk
        try:
            rows = conn.execute("SELECT count(*) FROM access_log").fetchone()[0]
            intact, first_bad = verify_audit_chain(conn)
        finally:
            conn.execute("COMMIT")
    return ChainReport(intact, int(rows), first_bad)


def verify_audit_chain(db: Database | sqlite3.Connection) -> tuple[bool, int | None]:
    """``(True, None)`` when the whole chain holds, else ``(False, seq)`` of the first row
    that is wrong: its hash does not match its fields, its ``prev_hash`` is not the previous
    row's hash, or its ``seq`` is not the next number (a row before it was deleted)."""
    if isinstance(db, Database):
        with db.read() as conn:
            return verify_audit_chain(conn)
    prev, expected_seq = GENESIS, 1
    for record in _in_order(db, None):
        fields = asdict(record)
        if (
            record.seq != expected_seq
            or record.prev_hash != prev
            or record.hash != row_hash(fields)
        ):
            return False, record.seq
        prev, expected_seq = record.hash, record.seq + 1
    return True, None
