"""Document scans as the protocol knows them: ids, accepted types, limits (no crypto, no I/O).

A scan travels and is stored as one self-contained encrypted blob
(:mod:`signing.scan_cipher`); its id is the lower-case hex SHA-256 of the blob's bytes, so
the id names exactly one content and every receiver can check it.

Only JPEG, PNG and PDF are accepted, recognised by their first bytes (a file name or a
declared type proves nothing). Limits bound what one counter can make the server store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocol.errors import ValidationError, define_messages
from protocol.requirements import DOCUMENTS

__all__ = [
    "SCAN_ID",
    "MEDIA_TYPES",
    "MAX_SCAN_BYTES",
    "MAX_APPLICATION_SCAN_BYTES",
    "is_scan_id",
    "sniff_media_type",
    "ScanReference",
    "scan_from_body",
]

SCAN_ID = re.compile(r"^[0-9a-f]{64}$")

MEDIA_TYPES = ("image/jpeg", "image/png", "application/pdf")
"""The only document types accepted, by content."""

MAX_SCAN_BYTES = 15 * 1024 * 1024
"""Largest scan (plaintext): a multi-page PDF from an office scanner fits; a raw 12 MP
camera photo fits before recompression."""

MAX_APPLICATION_SCAN_BYTES = 60 * 1024 * 1024
"""Largest total of the scans of one application."""

define_messages(
    {
        "scan.bad_type": "Berkas bukan JPEG, PNG atau PDF (dikenali dari isinya, bukan dari "
        "namanya); berkas tidak dilampirkan.",
        "scan.too_large": "Berkas terlalu besar ({size} byte; paling banyak {max} byte).",
        "scan.application_too_large": "Jumlah lampiran permohonan melebihi batas ({max} byte).",
        "scan.empty": "Berkas kosong tidak dapat dilampirkan.",
    }
)

_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


def is_scan_id(text: object) -> bool:
    """True for a well-formed scan id (64 lower-case hex digits)."""
    return isinstance(text, str) and SCAN_ID.match(text) is not None


def sniff_media_type(head: bytes) -> str | None:
    """The media type the first bytes of a file show, or ``None`` when not accepted."""
    for magic, media_type in _SIGNATURES:
        if head.startswith(magic):
            return media_type
    return None


@dataclass(frozen=True, slots=True)
class ScanReference:
    """What a ``scan.attached`` event says about a scan: ``{"scan": {"id", "document",
    "media_type", "bytes"[, "header_sha256"]}}`` (``bytes``: the encrypted blob's length,
    what will be sent)."""

    id: str
    document: str
    """The requirement document code (:data:`protocol.requirements.DOCUMENTS`)."""
    media_type: str
    bytes: int
    header_sha256: str | None = None
    """SHA-256 of the blob's header (:data:`signing.scan_cipher.HEADER_SIZE` bytes), signed
    with the event, so the server can trust the header of a first piece cut mid-body
    (docs/protocol.md §11.4). Older counters send none."""

    def to_body(self) -> dict[str, Any]:
        """The event body naming this scan."""
        scan: dict[str, Any] = {
            "id": self.id,
            "document": self.document,
            "media_type": self.media_type,
            "bytes": self.bytes,
        }
        if self.header_sha256 is not None:
            scan["header_sha256"] = self.header_sha256
        return {"scan": scan}


def scan_from_body(body: Mapping[str, Any]) -> ScanReference:
    """Parse a ``scan.attached`` body; :class:`ValidationError` (``event.malformed``)."""
    scan = body.get("scan")
    if set(body) != {"scan"} or not isinstance(scan, Mapping):
        raise _malformed('isi harus berupa {"scan": {...}}')
    if set(scan) - {"header_sha256"} != {"id", "document", "media_type", "bytes"}:
        raise _malformed("scan harus berisi id, document, media_type dan bytes")
    header = scan.get("header_sha256")
    if header is not None and not is_scan_id(header):
        raise _malformed("scan.header_sha256 harus 64 digit heksadesimal")
    size = scan["bytes"]
    if not is_scan_id(scan["id"]):
        raise _malformed("scan.id harus 64 digit heksadesimal")
    if scan["document"] not in DOCUMENTS:
        raise _malformed("scan.document bukan kode dokumen persyaratan")
    if scan["media_type"] not in MEDIA_TYPES:
        raise _malformed("scan.media_type harus JPEG, PNG atau PDF")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= 2 * MAX_SCAN_BYTES:
        raise _malformed("scan.bytes di luar batas")
    return ScanReference(scan["id"], scan["document"], scan["media_type"], size, header)


def _malformed(detail: str) -> ValidationError:
    return ValidationError.single("event.malformed", field="body.scan", detail=detail)
