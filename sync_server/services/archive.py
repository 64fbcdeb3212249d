"""The archive package (design.md §1): one immutable ZIP per application at ``archived``.

Built by :func:`build_package` inside the push transaction that applies the counter's
``archive`` event (:mod:`sync_server.services.ingest`), so the state ``archived`` and the
package commit together; an application that cannot be archived completely (its signed KK
is missing) has its ``archive`` event refused with ``archive.incomplete`` and stays
``issued``. Contents::

    manifest.json      format, application, KK number, time, and every other file's name,
                       SHA-256 and size; its own SHA-256 is stored in ``archives``
    application.json   the application data as last applied, its state and kecamatan
    biodata.pdf        the Biodata Penduduk of every member (as the verifier saw it)
    kk.pdf             the signed KK, byte for byte as signed (PAdES B-LT, verifiable offline)
    audit.json         the audit trail (every move: who, role, when, reasons), the device's
                       signed change events, the signed server events sent to the counter,
                       and the hash-chained access-log rows of this application
    scans/...          every document scan (see :func:`scan_files`)

The ZIP is deterministic for the same contents (fixed entry order and times), stored
content-addressed (:mod:`sync_server.storage.documents`, read-only), and recorded once in
``archives`` (primary key: the application): ``archived`` is terminal, so a package is never
rebuilt or replaced. Reading it back checks its SHA-256 against that row.
"""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from protocol.application import Application
from protocol.canonical import sha256_hex
from protocol.errors import define_messages
from signing.biodata_pdf import render_biodata
from sync_server.clock import stamp
from sync_server.config import DOCUMENTS_DIR
from sync_server.errors import Refusal
from sync_server.services import access_log, scans
from sync_server.storage import changelog as log_store
from sync_server.storage import documents, kk_registry

__all__ = ["ArchiveFile", "build_package", "scan_files", "read_package", "read_stored", "FORMAT"]

define_messages(
    {
        "archive.incomplete": "Paket arsip permohonan {application_id} tidak dapat dibuat: "
        "{missing} tidak ada di server.",
        "archive.not_found": "Permohonan {application_id} belum diarsipkan.",
        "document.damaged": "Berkas {sha256} di server hilang atau berubah sejak disimpan; "
        "hubungi admin Dinas (pulihkan dari cadangan).",
    }
)

FORMAT = "kk-online-archive/1"
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # entry times carry no information: created_at is in the manifest


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """One file of the package."""

    name: str
    data: bytes


def documents_root(conn: sqlite3.Connection) -> Path:
    """The content-addressed store beside the database file (``ServerConfig.documents_dir``)."""
    return Path(conn.database.path).parent / DOCUMENTS_DIR  # type: ignore[attr-defined]


def scan_files(conn: sqlite3.Connection, application_id: str) -> list[ArchiveFile]:
    """Every scan of the application, decrypted, as ``scans/<document code>-<n>.<ext>``
    (:func:`sync_server.services.scans.archive_files`); ``archive.incomplete`` for a scan
    still arriving or whose blob is missing, which refuses the ``archive`` event."""
    return [
        ArchiveFile(name, data)
        for name, data in scans.archive_files(conn, application_id, Path(conn.database.path).parent)  # type: ignore[attr-defined]
    ]


def build_package(
    conn: sqlite3.Connection,
    application_id: str,
    *,
    now: datetime,
    archive_event: dict[str, Any] | None = None,
) -> str:
    """Build, store and record the package of ``application_id``; returns its SHA-256.

    Runs inside the caller's write transaction (the push that archives the application),
    after the move to ``archived`` is applied; ``archive_event`` is the counter's signed
    ``archive`` event (wire form), not stored yet while its push is being applied.
    """
    record = log_store.get_application(conn, application_id)
    if record is None:
        raise Refusal("application.unknown", status=404, application_id=application_id)
    root = documents_root(conn)
    signed = kk_registry.document_of_application(conn, application_id)
    if signed is None:
        raise Refusal(
            "archive.incomplete", application_id=application_id, missing="KK bertanda tangan"
        )
    try:
        kk_pdf = documents.get(root, signed.sha256)
    except documents.DocumentMissing:
        raise Refusal(
            "archive.incomplete",
            application_id=application_id,
            missing=f"berkas KK {signed.sha256}",
        ) from None
    app = Application.from_dict(json.loads(record.snapshot))
    at = stamp(now)
    files = [
        ArchiveFile("application.json", _json(_application(record, signed.kk_number))),
        ArchiveFile("biodata.pdf", render_biodata(app, kk_number=signed.kk_number)),
        ArchiveFile("kk.pdf", kk_pdf),
        ArchiveFile("audit.json", _json(_audit(conn, application_id, archive_event))),
        *scan_files(conn, application_id),
    ]
    manifest = _json(
        {
            "format": FORMAT,
            "application_id": application_id,
            "kk_number": signed.kk_number,
            "kk_verification_token_sha256": sha256_hex(signed.token.encode()),
            "created_at": at,
            "files": [
                {"name": f.name, "sha256": sha256_hex(f.data), "size": len(f.data)} for f in files
            ],
        }
    )
    package = _zip([ArchiveFile("manifest.json", manifest), *files])
    digest = documents.put(root, package)
    conn.execute(
        "INSERT INTO archives (application_id, sha256, size, manifest_sha256, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (application_id, digest, len(package), sha256_hex(manifest), at),
    )
    return digest


def read_package(
    db: Any,
    application_id: str,
    *,
    actor_id: str,
    role: str,
    client_ip: str,
    now: datetime,
) -> tuple[bytes, str]:
    """The package bytes and SHA-256 of an archived application, the read access-logged.

    404 ``archive.not_found`` before archiving (nothing logged).
    """
    with db.write() as conn:
        row = conn.execute(
            "SELECT sha256 FROM archives WHERE application_id = ?", (application_id,)
        ).fetchone()
        if row is None:
            raise Refusal("archive.not_found", status=404, application_id=application_id)
        data = read_stored(documents_root(conn), row[0])
        access_log.append(
            conn,
            at=stamp(now),
            actor_id=actor_id,
            role=role,
            client_ip=client_ip,
            action=access_log.DOCUMENT_READ,
            application_id=application_id,
            detail="paket arsip",
        )
    return data, row[0]


def read_stored(root: Path, sha256: str) -> bytes:
    """A stored file by hash; 500 ``document.damaged`` when missing or altered on disk."""
    try:
        return documents.get(root, sha256)
    except documents.DocumentMissing:
        raise Refusal("document.damaged", status=500, sha256=sha256) from None


def _application(record: log_store.ApplicationRecord, kk_number: str) -> dict[str, Any]:
    return {
        "application_id": record.application_id,
        "kecamatan": record.kecamatan,
        "state": record.state,
        "kk_number": kk_number,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "application": json.loads(record.snapshot),
    }


def _audit(
    conn: sqlite3.Connection, application_id: str, archive_event: dict[str, Any] | None
) -> dict[str, Any]:
    trail = [
        dict(row)
        for row in conn.execute(
            "SELECT * FROM application_events WHERE application_id = ? ORDER BY id",
            (application_id,),
        )
    ]
    change_events = [
        json.loads(row[0])
        for row in conn.execute(
            "SELECT wire FROM events WHERE application_id = ? AND status = 'applied' "
            "ORDER BY received_at, device_id, seq",
            (application_id,),
        )
    ] + ([archive_event] if archive_event is not None else [])
    server_events = [
        json.loads(row[0])
        for row in conn.execute(
            "SELECT wire FROM feed WHERE application_id = ? ORDER BY cursor", (application_id,)
        )
    ]
    with_access = access_log.entries(conn, application_id=application_id)
    return {
        "trail": trail,
        "change_events": change_events,
        "server_events": server_events,
        "access_log": [asdict(r) for r in with_access],
    }


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def _zip(files: list[ArchiveFile]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for f in files:
            info = zipfile.ZipInfo(f.name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o440 << 16
            archive.writestr(info, f.data)
    return buffer.getvalue()
