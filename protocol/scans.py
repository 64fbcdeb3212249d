"""Document scans as the protocol knows them: ids, accepted types, limits (no crypto, no I/O).

A scan travels and is stored as one self-contained encrypted blob
(:mod:`signing.scan_cipher`); its id is the lower-case hex SHA-256 of the blob's bytes, so
the id names exactly one content and every receiver can check it.

Only JPEG, PNG and PDF are accepted, recognised by their first bytes (a file name or a
declared type proves nothing). Limits bound what one counter can make the server store.
"""

from __future__ import annotations

import re

from protocol.errors import define_messages

__all__ = [
    "SCAN_ID",
    "MEDIA_TYPES",
    "MAX_SCAN_BYTES",
    "MAX_APPLICATION_SCAN_BYTES",
    "is_scan_id",
    "sniff_media_type",
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
