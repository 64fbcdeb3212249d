"""Documents a counter downloads: the signed KK of an application it owns, in pieces.

``application.kk_ready`` (a signed feed event) tells the owning counter the PDF's SHA-256
and size; the counter then asks for the bytes piece by piece
(``GET /api/v1/sync/documents/<application id>?offset=<n>&length=<m>``), resuming after a
cut from the bytes it holds, and checks the whole file against the signed SHA-256. The
server only answers the device that owns the application now (after a transfer, the new
one). WhatsApp documents can later use the same path with their own lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sync_server.services.kk_signing  # noqa: F401  (defines document.not_signed)
from protocol.errors import define_messages
from sync_server.errors import Refusal
from sync_server.storage import changelog as log_store
from sync_server.storage import documents, kk_registry
from sync_server.storage.db import Database
from sync_server.storage.devices import Device

__all__ = ["MAX_PIECE", "DocumentPiece", "read_piece"]

define_messages(
    {"document.bad_range": "Posisi unduhan di luar dokumen ({size} byte)."},
)

MAX_PIECE = 4 * 1024 * 1024
"""Largest piece served in one answer."""


@dataclass(frozen=True, slots=True)
class DocumentPiece:
    data: bytes
    sha256: str
    """Of the whole document."""
    size: int
    """Of the whole document."""


def read_piece(
    db: Database, root: Path, device: Device, application_id: str, *, offset: int, length: int
) -> DocumentPiece:
    """``length`` bytes (fewer at the end) of the application's signed KK from ``offset``.
    404 ``document.not_signed`` when there is none (or the application is not the
    device's: nothing is disclosed), 416 ``document.bad_range`` past the end."""
    with db.read() as conn:
        record = log_store.get_application(conn, application_id)
        row = kk_registry.document_of_application(conn, application_id)
    if record is None or row is None or record.owner_device_id != device.device_id:
        raise Refusal("document.not_signed", status=404, application_id=application_id)
    try:
        data = documents.get(root, row.sha256)
    except documents.DocumentMissing:
        raise Refusal("document.not_signed", status=404, application_id=application_id) from None
    if offset > len(data) or length < 1:
        raise Refusal("document.bad_range", status=416, extra={"size": len(data)}, size=len(data))
    piece = data[offset : offset + min(length, MAX_PIECE)]
    return DocumentPiece(piece, row.sha256, len(data))
