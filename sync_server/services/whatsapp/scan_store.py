"""Where inbound documents are kept: encrypted exactly like the counters' scans.

Each document is encrypted with :func:`signing.scan_cipher.encrypt_scan` (a fresh key per
file, chunked AES-GCM, the key sealed for the server's scan key ``server_scan_key.pem``) and
the blob goes to the scans folder (:class:`sync_server.storage.scans.BlobStore`) under its
SHA-256, the scan id: same format, key and place as an uploaded scan (#5), written to a
partial file, fsynced and renamed into place.

The ``scans`` table of #5 records blobs a counter DEVICE announced (its rows need the
uploading device); a WhatsApp document has no device, so its record is the inbox row
(``whatsapp_inbox.scan_id``), behind this small interface until #5 gives device-less scans
a row of their own.
"""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from signing.scan_cipher import encrypt_scan, open_scan
from sync_server.storage.scans import BlobStore

__all__ = ["ScanStore", "EncryptedScanStore"]


class ScanStore(Protocol):
    def put(self, plaintext: bytes) -> str:
        """Encrypt and store; the scan id (hex SHA-256 of the encrypted blob)."""
        ...

    def get(self, scan_id: str) -> bytes:
        """The plaintext of a stored scan (raises if missing or altered)."""
        ...


class EncryptedScanStore:
    """Inbound documents as scan blobs in the server's scans folder."""

    def __init__(self, blobs: BlobStore, box_key: X25519PrivateKey) -> None:
        self.blobs = blobs
        self._box_key = box_key

    def put(self, plaintext: bytes) -> str:
        encrypted = encrypt_scan(plaintext, self._box_key.public_key())
        if not self.blobs.path(encrypted.scan_id).exists():
            self.blobs.append(encrypted.scan_id, 0, encrypted.blob)
            self.blobs.promote(encrypted.scan_id)
        return encrypted.scan_id

    def get(self, scan_id: str) -> bytes:
        return open_scan(self.blobs.read(scan_id), self._box_key)
