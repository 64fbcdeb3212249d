"""Rows of ``scans`` and ``application_scans``, and the blob files on disk.

Blobs are the counters' encrypted scans (:mod:`signing.scan_cipher`), kept exactly as
received and named by their SHA-256 (the scan id): ``scans/<first two hex>/<id>`` once
complete and verified, ``scans/partial/<id>`` while arriving. No name from outside ever
reaches the file system: an id is checked to be 64 hex digits before it becomes a path.

The database row is the authority on how much of a partial upload is good
(``received_bytes``): a file longer than that (a crash after the write, before the commit)
is cut back to it before the next chunk is appended.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from protocol.scans import is_scan_id
from signing.durable import fsync_dir

__all__ = [
    "ScanRow",
    "AttachedScanRow",
    "BlobStore",
    "get_scan",
    "insert_scan",
    "learn_header",
    "link",
    "linked_bytes",
    "scans_of",
    "set_received",
    "mark_complete",
    "stale_partials",
]


@dataclass(frozen=True, slots=True)
class ScanRow:
    scan_id: str
    device_id: str
    """The device whose event announced the blob first: the only one that may upload it."""
    blob_bytes: int
    received_bytes: int
    status: str
    """``arriving`` or ``complete``."""
    media_type: str | None
    plain_bytes: int | None
    plain_sha256: str | None
    created_at: str
    touched_at: str
    completed_at: str | None
    header_sha256: str | None
    """SHA-256 of the blob's header, as the device's signed ``scan.attached`` announced it
    (``None`` from older counters)."""


@dataclass(frozen=True, slots=True)
class AttachedScanRow:
    """A scan as one application carries it."""

    document: str
    attached_at: str
    scan: ScanRow


_COLUMNS = (
    "scan_id, device_id, blob_bytes, received_bytes, status, media_type, plain_bytes,"
    " plain_sha256, created_at, touched_at, completed_at, header_sha256"
)


def _row(row: sqlite3.Row) -> ScanRow:
    return ScanRow(**{k: row[k] for k in row.keys()})


def get_scan(conn: sqlite3.Connection, scan_id: str) -> ScanRow | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM scans WHERE scan_id = ?", [scan_id]).fetchone()
    return None if row is None else _row(row)


def insert_scan(
    conn: sqlite3.Connection,
    scan_id: str,
    *,
    device_id: str,
    blob_bytes: int,
    at: str,
    header_sha256: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO scans (scan_id, device_id, blob_bytes, created_at, touched_at,"
        " header_sha256) VALUES (?, ?, ?, ?, ?, ?)",
        [scan_id, device_id, blob_bytes, at, at, header_sha256],
    )


def learn_header(conn: sqlite3.Connection, scan_id: str, header_sha256: str) -> None:
    """Keep the header hash a later ``scan.attached`` of the same device announced, when the
    first one (an older counter version) had none."""
    conn.execute(
        "UPDATE scans SET header_sha256 = ? WHERE scan_id = ? AND header_sha256 IS NULL",
        [header_sha256, scan_id],
    )


def link(
    conn: sqlite3.Connection,
    *,
    application_id: str,
    scan_id: str,
    document: str,
    device_id: str,
    seq: int,
    operator_id: str,
    at: str,
) -> bool:
    """Record that the application carries the scan; False if it did already."""
    cursor = conn.execute(
        "INSERT INTO application_scans (application_id, scan_id, document, device_id, seq,"
        " operator_id, attached_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (application_id, scan_id) DO NOTHING",
        [application_id, scan_id, document, device_id, seq, operator_id, at],
    )
    return cursor.rowcount == 1


def linked_bytes(conn: sqlite3.Connection, application_id: str) -> int:
    """Total blob bytes of the scans the application carries."""
    row = conn.execute(
        "SELECT COALESCE(SUM(s.blob_bytes), 0) FROM application_scans a"
        " JOIN scans s USING (scan_id) WHERE a.application_id = ?",
        [application_id],
    ).fetchone()
    return int(row[0])


def scans_of(conn: sqlite3.Connection, application_id: str) -> list[AttachedScanRow]:
    """The application's scans in the order attached."""
    rows = conn.execute(
        f"SELECT a.document, a.attached_at, {', '.join('s.' + c for c in _COLUMNS.split(', '))}"
        " FROM application_scans a JOIN scans s USING (scan_id)"
        " WHERE a.application_id = ? ORDER BY a.attached_at, a.seq",
        [application_id],
    ).fetchall()
    out = []
    for row in rows:
        scan = ScanRow(**{k: row[k] for k in row.keys() if k not in ("document", "attached_at")})
        out.append(AttachedScanRow(row["document"], row["attached_at"], scan))
    return out


def set_received(conn: sqlite3.Connection, scan_id: str, received: int, *, at: str) -> None:
    conn.execute(
        "UPDATE scans SET received_bytes = ?, touched_at = ? WHERE scan_id = ?",
        [received, at, scan_id],
    )


def mark_complete(
    conn: sqlite3.Connection,
    scan_id: str,
    *,
    media_type: str,
    plain_bytes: int,
    plain_sha256: str,
    at: str,
) -> None:
    conn.execute(
        "UPDATE scans SET status = 'complete', received_bytes = blob_bytes, media_type = ?,"
        " plain_bytes = ?, plain_sha256 = ?, completed_at = ?, touched_at = ?"
        " WHERE scan_id = ?",
        [media_type, plain_bytes, plain_sha256, at, at, scan_id],
    )


def stale_partials(conn: sqlite3.Connection, *, touched_before: str) -> list[str]:
    """Ids of partial uploads with bytes received and untouched since ``touched_before``."""
    rows = conn.execute(
        "SELECT scan_id FROM scans WHERE status = 'arriving' AND received_bytes > 0"
        " AND touched_at < ?",
        [touched_before],
    ).fetchall()
    return [r[0] for r in rows]


class BlobStore:
    """The ``scans/`` folder of the data directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, scan_id: str) -> Path:
        """Where a complete blob lives."""
        _check(scan_id)
        return self.root / scan_id[:2] / scan_id

    def partial_path(self, scan_id: str) -> Path:
        """Where a blob grows while it arrives."""
        _check(scan_id)
        return self.root / "partial" / scan_id

    def append(self, scan_id: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` of the partial blob, dropping anything after
        ``offset`` first (bytes of a chunk whose commit never happened), durably."""
        path = self.partial_path(scan_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.ftruncate(fd, offset)
            os.lseek(fd, offset, os.SEEK_SET)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_partial(self, scan_id: str, length: int) -> bytes:
        """The first ``length`` bytes of the partial blob."""
        with self.partial_path(scan_id).open("rb") as f:
            return f.read(length)

    def read_arrived(self, scan_id: str, length: int) -> bytes:
        """The first ``length`` bytes of a blob that arrived whole: its partial file, or the
        complete one when a crash came after :meth:`promote` and before the row said so."""
        try:
            return self.read_partial(scan_id, length)
        except FileNotFoundError:
            with self.path(scan_id).open("rb") as f:
                return f.read(length)

    def discard_partial(self, scan_id: str) -> None:
        self.partial_path(scan_id).unlink(missing_ok=True)

    def promote(self, scan_id: str) -> None:
        """Move a verified partial blob to its final place (atomic rename, fsynced)."""
        target = self.path(scan_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.partial_path(scan_id)
        if partial.exists() or not target.exists():  # else: promoted before a crash
            os.replace(partial, target)
        fsync_dir(target.parent)

    def read(self, scan_id: str) -> bytes:
        return self.path(scan_id).read_bytes()


def _check(scan_id: str) -> None:
    if not is_scan_id(scan_id):
        raise ValueError("not a scan id")
