"""The encrypted form of a document scan: one self-contained blob per scan.

::

    header  = "KKSC" | version u8 (1) | chunk_size u32 | plain_size u64       (17 bytes)
              | sealed scan key (32 + 48 bytes, signing.sealed_box, context = the 17 bytes)
    chunk i = AES-256-GCM(scan_key, nonce = i as u88 | last flag u8, chunk, aad = header)

Each scan gets a fresh random 32-byte key. The plaintext is cut into ``chunk_size`` pieces,
each sealed on its own (the STREAM construction: the nonce carries the index and marks the
last chunk, so chunks cannot be reordered, dropped or the file truncated unnoticed). The
header carries the key sealed for the server, so the blob alone is enough for the server
to read it and the counter's sync engine uploads it with no secret at hand.

The blob's length follows from the header (:func:`blob_size`), so a receiver can check a
declared upload length before accepting a byte. Nothing here touches files: callers hold
a scan in memory (:data:`protocol.scans.MAX_SCAN_BYTES` bounds it).
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocol.errors import message_for
from signing.sealed_box import SEAL_OVERHEAD, SealedBoxError, open_sealed, seal

__all__ = [
    "CHUNK_SIZE",
    "HEADER_SIZE",
    "ScanHeader",
    "EncryptedScan",
    "encrypt_scan",
    "decrypt_scan",
    "open_scan",
    "read_header",
    "blob_size",
    "verified_prefix",
]

_MAGIC = b"KKSC"
_VERSION = 1
_FIXED = struct.Struct(">4sBIQ")
HEADER_SIZE = _FIXED.size + 32 + SEAL_OVERHEAD
CHUNK_SIZE = 64 * 1024
"""Plaintext bytes per encrypted chunk (16 bytes of tag each: 0.02 % overhead)."""
_TAG = 16
_MAX_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScanHeader:
    """The readable part of a blob's header."""

    chunk_size: int
    plain_size: int
    sealed_key: bytes
    raw: bytes
    """The whole header as stored (the chunks' associated data)."""


@dataclass(frozen=True, slots=True)
class EncryptedScan:
    """A freshly encrypted scan: its blob, id and key (keep the key wrapped, never plain)."""

    blob: bytes
    scan_key: bytes
    scan_id: str
    """Hex SHA-256 of ``blob``."""


def blob_size(plain_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """The exact length of the blob of ``plain_size`` plaintext bytes."""
    chunks = max(1, -(-plain_size // chunk_size))
    return HEADER_SIZE + plain_size + chunks * _TAG


def encrypt_scan(
    plaintext: bytes, server_key: X25519PublicKey, *, chunk_size: int = CHUNK_SIZE
) -> EncryptedScan:
    """Encrypt ``plaintext`` under a fresh key sealed for ``server_key``."""
    if not 1 <= chunk_size <= _MAX_CHUNK:
        raise ValueError("chunk_size out of range")
    scan_key = os.urandom(32)
    fixed = _FIXED.pack(_MAGIC, _VERSION, chunk_size, len(plaintext))
    header = fixed + seal(server_key, scan_key, context=fixed)
    aead = AESGCM(scan_key)
    parts = [header]
    count = max(1, -(-len(plaintext) // chunk_size))
    for index in range(count):
        piece = plaintext[index * chunk_size : (index + 1) * chunk_size]
        parts.append(aead.encrypt(_nonce(index, index == count - 1), piece, header))
    blob = b"".join(parts)
    return EncryptedScan(blob, scan_key, hashlib.sha256(blob).hexdigest())


def read_header(blob: bytes) -> ScanHeader:
    """Parse the header at the start of ``blob`` (at least :data:`HEADER_SIZE` bytes)."""
    if len(blob) < HEADER_SIZE:
        raise _unopenable()
    magic, version, chunk_size, plain_size = _FIXED.unpack_from(blob)
    if magic != _MAGIC or version != _VERSION or not 1 <= chunk_size <= _MAX_CHUNK:
        raise _unopenable()
    return ScanHeader(chunk_size, plain_size, blob[_FIXED.size : HEADER_SIZE], blob[:HEADER_SIZE])


def open_scan(blob: bytes, server_private: X25519PrivateKey) -> bytes:
    """The server's read: unseal the scan key with the server's key, then decrypt."""
    header = read_header(blob)
    scan_key = open_sealed(server_private, header.sealed_key, context=header.raw[: _FIXED.size])
    return decrypt_scan(blob, scan_key)


def decrypt_scan(blob: bytes, scan_key: bytes) -> bytes:
    """The plaintext of ``blob``; :class:`SealedBoxError` if any byte was changed, a chunk
    moved or dropped, or the blob cut short or extended."""
    header = read_header(blob)
    if len(blob) != blob_size(header.plain_size, header.chunk_size):
        raise _unopenable()
    aead = AESGCM(scan_key)
    step = header.chunk_size + _TAG
    body = memoryview(blob)[HEADER_SIZE:]
    count = max(1, -(-header.plain_size // header.chunk_size))
    out = []
    try:
        for index in range(count):
            piece = bytes(body[index * step : (index + 1) * step])
            out.append(aead.decrypt(_nonce(index, index == count - 1), piece, header.raw))
    except InvalidTag:
        raise _unopenable() from None
    return b"".join(out)


def verified_prefix(prefix: bytes, server_private: X25519PrivateKey) -> int:
    """How many leading bytes of ``prefix`` (the start of a blob, possibly cut short) are
    the header and whole chunks that open with the server's key: bytes only the holder of
    the scan key could have made, in their place (the nonce carries each chunk's index).
    0 when not even the header and the first chunk are there and good."""
    try:
        header = read_header(prefix)
        scan_key = open_sealed(server_private, header.sealed_key, context=header.raw[: _FIXED.size])
    except SealedBoxError:
        return 0
    aead = AESGCM(scan_key)
    step = header.chunk_size + _TAG
    count = max(1, -(-header.plain_size // header.chunk_size))
    good = 0
    for index in range(count):
        start = HEADER_SIZE + index * step
        last = index == count - 1
        end = blob_size(header.plain_size, header.chunk_size) if last else start + step
        if end > len(prefix):
            break
        try:
            aead.decrypt(_nonce(index, last), prefix[start:end], header.raw)
        except InvalidTag:
            break
        good = end
    return good


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _unopenable() -> SealedBoxError:
    return SealedBoxError(message_for("box.unopenable"))
