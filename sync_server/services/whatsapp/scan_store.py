"""Where inbound documents are kept: encrypted like every other scan (design.md §4).

Each document is encrypted with :func:`signing.scan_cipher.encrypt_scan` (a fresh key per
file, chunked AES-GCM, the key sealed for the server's X25519 key) and the blob is stored
content-addressed by its SHA-256, which is the scan id (:mod:`sync_server.storage.documents`
writes it atomically, read-only). The server's X25519 key is ``<data dir>/server_box_key.pem``
(0600), made on first use.

The scans issue (#5) builds the server's side of the counters' scan uploads; until it lands
on main, inbound documents go through this small interface (:class:`ScanStore`) so they can
be moved onto its store without touching the inbox.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from signing.scan_cipher import encrypt_scan, open_scan
from signing.sealed_box import generate_box_key, load_box_key, save_box_key
from sync_server.storage import documents

__all__ = ["ScanStore", "EncryptedScanStore", "BOX_KEY_FILE", "SCANS_DIR"]

BOX_KEY_FILE = "server_box_key.pem"
SCANS_DIR = "scans"


class ScanStore(Protocol):
    def put(self, plaintext: bytes) -> str:
        """Encrypt and store; the scan id (hex SHA-256 of the encrypted blob)."""
        ...

    def get(self, scan_id: str) -> bytes:
        """The plaintext of a stored scan (raises if missing or altered)."""
        ...


class EncryptedScanStore:
    """Encrypted, content-addressed scans under ``<data dir>/scans``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / SCANS_DIR
        self.key_path = data_dir / BOX_KEY_FILE
        self._lock = threading.Lock()
        self._key: X25519PrivateKey | None = None

    def _box_key(self) -> X25519PrivateKey:
        with self._lock:
            if self._key is None:
                if not self.key_path.exists():
                    save_box_key(generate_box_key(), self.key_path)
                self._key = load_box_key(self.key_path)
            return self._key

    def put(self, plaintext: bytes) -> str:
        encrypted = encrypt_scan(plaintext, self._box_key().public_key())
        return documents.put(self.root, encrypted.blob)

    def get(self, scan_id: str) -> bytes:
        return open_scan(documents.get(self.root, scan_id), self._box_key())
