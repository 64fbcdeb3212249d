"""Documents a counter downloads: the signed KK of an application it owns, sealed for that
counter, in pieces.

``application.kk_ready`` (a signed feed event) tells the owning counter the PDF's SHA-256
and size. The counter registers the X25519 public key of its own box key once
(``PUT /api/v1/sync/documents/box-key``, a signed request: :func:`register_box_key`), then
asks for the bytes piece by piece
(``GET /api/v1/sync/documents/<application id>?offset=<n>&length=<m>``). What it gets is
never the PDF itself: it is the PDF encrypted for the counter's key
(:mod:`signing.scan_cipher`, the file key sealed for the counter), made once per
(document, device) and kept (:mod:`sync_server.storage.sealed_documents`), so a download
resumed after a cut gets the same bytes. The answer names the ciphertext's SHA-256 and size
and the plaintext's (the signed ones); the counter checks the ciphertext's hash and keeps it
as it is, and checks the plaintext's hash when an operator opens it. No plaintext byte of a
download ever lands on the counter's disk.

The server only answers the device that owns the application now (after a transfer, the
new one) and has registered a key (409 ``document.box_key_missing`` before: old counters
wait, like a counter that has not been unlocked yet). A changed key drops the copies made
for the old one. Making a copy reads the signed KK for a device: that is an access-log row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sync_server.services.kk_signing  # noqa: F401  (defines document.not_signed)
from protocol.errors import ValidationError, define_messages
from signing.scan_cipher import encrypt_scan
from signing.sealed_box import load_box_public_b64
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import access_log
from sync_server.storage import changelog as log_store
from sync_server.storage import documents, kk_registry
from sync_server.storage import sealed_documents as sealed_store
from sync_server.storage.db import Database
from sync_server.storage.devices import Device

__all__ = ["MAX_PIECE", "DocumentPiece", "read_piece", "register_box_key", "drop_unreferenced"]

log = logging.getLogger("sync_server.documents")

define_messages(
    {
        "document.bad_range": "Posisi unduhan di luar dokumen ({size} byte).",
        "document.box_key_missing": "Loket belum mendaftarkan kunci enkripsinya; unduhan "
        "menunggu sampai seorang operator masuk di loket ini.",
        "document.bad_box_key": "Kunci enkripsi loket tidak sah: harus kunci publik X25519 "
        "(32 byte, base64).",
    },
)

MAX_PIECE = 4 * 1024 * 1024
"""Largest piece served in one answer."""


@dataclass(frozen=True, slots=True)
class DocumentPiece:
    data: bytes
    sha256: str
    """Of the signed (plaintext) document: the counter checks it against ``kk_ready``."""
    size: int
    """Of the signed (plaintext) document."""
    blob_sha256: str
    """Of the whole ciphertext the piece is cut from."""
    blob_size: int
    """Of the whole ciphertext: offsets count its bytes."""


def register_box_key(
    db: Database, sealed_root: Path, device: Device, public_key: str, *, now: datetime
) -> str:
    """Record the X25519 key the device's downloads are sealed for (400
    ``document.bad_box_key`` for anything but a usable X25519 public key). Sealed copies made
    for a previous key are dropped with their files. Returns the time it was registered."""
    try:
        load_box_public_b64(public_key)
    except ValidationError:
        raise Refusal("document.bad_box_key", status=400) from None
    at = stamp(now)
    with db.write() as conn:
        dropped = sealed_store.set_box_key(conn, device.device_id, public_key, at=at)
    if dropped:
        drop_unreferenced(db, sealed_root, dropped)
        log.info("device %s changed its box key; %d sealed copies dropped", device.device_id,
                 len(dropped))  # fmt: skip
    return at


def read_piece(
    db: Database,
    roots: tuple[Path, Path],
    device: Device,
    application_id: str,
    *,
    offset: int,
    length: int,
    now: datetime,
    client_ip: str,
) -> DocumentPiece:
    """``length`` bytes (fewer at the end) of the application's signed KK sealed for the
    device, from ``offset`` of the ciphertext. ``roots``: the documents and sealed folders.
    404 ``document.not_signed`` when there is none (or the application is not the device's:
    nothing is disclosed), 409 ``document.box_key_missing``, 416 ``document.bad_range`` past
    the end."""
    for _ in range(2):
        sealed, plain_size = _sealed_copy(db, roots, device, application_id, now=now, ip=client_ip)
        try:
            blob = documents.get(roots[1], sealed.blob_sha256)
            break
        except documents.DocumentMissing:
            # Lost or damaged on disk: forget the row and make a new copy (the counter
            # sees another ciphertext and starts its download over).
            log.warning("sealed copy %s missing or damaged", sealed.blob_sha256[:12])
            with db.write() as conn:
                conn.execute(
                    "DELETE FROM sealed_documents WHERE document_sha256 = ? AND device_id = ?"
                    " AND blob_sha256 = ?",
                    [sealed.document_sha256, sealed.device_id, sealed.blob_sha256],
                )
    else:
        raise Refusal("document.not_signed", status=404, application_id=application_id)
    if offset > len(blob) or length < 1:
        raise Refusal("document.bad_range", status=416, extra={"size": len(blob)}, size=len(blob))
    piece = blob[offset : offset + min(length, MAX_PIECE)]
    return DocumentPiece(piece, sealed.document_sha256, plain_size, sealed.blob_sha256, len(blob))


def _sealed_copy(
    db: Database,
    roots: tuple[Path, Path],
    device: Device,
    application_id: str,
    *,
    now: datetime,
    ip: str,
) -> tuple[sealed_store.SealedDocument, int]:
    """The copy of the signed KK sealed for the device's current key, made if needed."""
    with db.read() as conn:
        record = log_store.get_application(conn, application_id)
        row = kk_registry.document_of_application(conn, application_id)
        box_key = sealed_store.box_key_of(conn, device.device_id)
        existing = (
            None if row is None else sealed_store.get_sealed(conn, row.sha256, device.device_id)
        )
    if record is None or row is None or record.owner_device_id != device.device_id:
        raise Refusal("document.not_signed", status=404, application_id=application_id)
    if box_key is None:
        raise Refusal("document.box_key_missing", status=409)
    if existing is not None and existing.box_public_key == box_key:
        return existing, row.size
    try:
        pdf = documents.get(roots[0], row.sha256)
    except documents.DocumentMissing:
        raise Refusal("document.not_signed", status=404, application_id=application_id) from None
    blob = encrypt_scan(pdf, load_box_public_b64(box_key)).blob
    # The file first, then the row: a crash in between leaves a file no row names, which
    # the sweep (:func:`drop_unreferenced`) deletes; never a row without its file.
    digest = documents.put(roots[1], blob)
    at = stamp(now)
    with db.write() as conn:
        if sealed_store.box_key_of(conn, device.device_id) != box_key:
            raise Refusal("document.box_key_missing", status=409)  # changed meanwhile: ask again
        stands = sealed_store.put_sealed(
            conn,
            sealed_store.SealedDocument(
                row.sha256, device.device_id, box_key, digest, len(blob), at
            ),
        )
        if stands.blob_sha256 == digest:
            access_log.append(
                conn,
                at=at,
                actor_id=device.device_id,
                role="device",
                client_ip=ip,
                action=access_log.DOCUMENT_READ,
                application_id=application_id,
                detail="KK bertanda tangan dienkripsi untuk loket",
            )
    if stands.blob_sha256 != digest:
        drop_unreferenced(db, roots[1], [digest])  # another request made the copy first
    return stands, row.size


def drop_unreferenced(db: Database, root: Path, digests: list[str]) -> None:
    """Delete the sealed files among ``digests`` that no row names (checked under the
    write lock, so a copy being recorded at the same moment is never lost)."""
    with db.write() as conn:
        named = sealed_store.referenced_blobs(conn)
        for digest in digests:
            if digest not in named:
                documents.path_of(root, digest).unlink(missing_ok=True)
