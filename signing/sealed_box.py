"""Sealed boxes for the server's X25519 key: anyone can seal, only the server opens.

A counter seals each scan's random key for the server when the scan is attached, so the
background sync can upload the scan with no secret at hand and only the server can read it
(design.md §4). The construction is libsodium's ``crypto_box_seal`` idea built from the
primitives ``cryptography`` already gives us (no new dependency)::

    sealed = eph_pub (32) || AES-256-GCM(k, nonce = 12 zero bytes, plaintext, aad = context)
    k      = HKDF-SHA256(X25519(eph_priv, server_pub),
                         info = "KK-SEALED-BOX-V1" || eph_pub || server_pub)

A fresh ephemeral key per box makes ``k`` single-use, so the fixed nonce is safe; binding
both public keys into ``k`` stops a box from being re-targeted. ``context`` (authenticated,
not encrypted) ties a box to where it is used (a scan's header), so it cannot be moved
to another file. Overhead: 48 bytes.

The server's key pair is made by ``kk-server init`` (``server_scan_key.pem``, mode 0600,
like the Ed25519 key); its public half reaches counters signed by the server's Ed25519 key
(:func:`scan_key_statement`), so a counter that pinned the
server at enrollment can trust it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from protocol.errors import (
    KKError,
    SignatureInvalid,
    ValidationError,
    define_messages,
    message_for,
)
from signing.keys import KeyFileError, read_private_key_file, save_private_key

__all__ = [
    "SEAL_OVERHEAD",
    "SealedBoxError",
    "generate_box_key",
    "save_box_key",
    "load_box_key",
    "box_public_b64",
    "load_box_public_b64",
    "seal",
    "open_sealed",
    "scan_key_statement",
    "verify_scan_key_offer",
]

SEAL_OVERHEAD = 32 + 16
"""Bytes a sealed box adds to its plaintext: the ephemeral public key and the GCM tag."""

_INFO = b"KK-SEALED-BOX-V1"
_NONCE = bytes(12)

define_messages(
    {
        "box.invalid_key": "Kunci publik enkripsi server tidak sah: harus kunci X25519 "
        "(32 byte, base64).",
        "box.unopenable": "Berkas terenkripsi tidak dapat dibuka: kunci salah atau isinya rusak.",
        "signature.scan_key_invalid": "Kunci enkripsi berkas dari server tidak ditandatangani "
        "oleh kunci server yang dicatat saat pendaftaran; kunci tidak dipakai.",
        "box.key_file_unreadable": "Berkas kunci enkripsi {path} rusak atau bukan kunci X25519.",
    }
)


class SealedBoxError(KKError):
    """A box does not open: wrong key, altered bytes, or a different context."""

    code = "box.unopenable"


def generate_box_key() -> X25519PrivateKey:
    """A fresh X25519 private key."""
    return X25519PrivateKey.generate()


def save_box_key(key: X25519PrivateKey, path: Path) -> None:
    """Write the key like the Ed25519 keys: PKCS#8 PEM, 0600, never overwriting."""
    save_private_key(key, path)


def load_box_key(path: Path) -> X25519PrivateKey:
    """Load a key written by :func:`save_box_key`; refuse it if others can read it."""
    key = read_private_key_file(path)
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(
            message_for("box.key_file_unreadable", path=path), code="box.key_file_unreadable"
        )
    return key


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def box_public_b64(key: X25519PrivateKey | X25519PublicKey) -> str:
    """Standard base64 of the 32 raw public-key bytes."""
    public = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return base64.b64encode(_raw(public)).decode("ascii")


def load_box_public_b64(text: str) -> X25519PublicKey:
    """Parse :func:`box_public_b64` output; raise :class:`ValidationError` (``box.invalid_key``)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raw = b""
    if len(raw) != 32 or raw == bytes(32):
        raise ValidationError.single("box.invalid_key")
    return X25519PublicKey.from_public_bytes(raw)


def _box_key(shared: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + eph_pub + recipient_pub
    )
    return hkdf.derive(shared)


def seal(recipient: X25519PublicKey, plaintext: bytes, *, context: bytes = b"") -> bytes:
    """A box only the holder of ``recipient``'s private key opens (with the same context)."""
    ephemeral = X25519PrivateKey.generate()
    eph_pub = _raw(ephemeral.public_key())
    key = _box_key(ephemeral.exchange(recipient), eph_pub, _raw(recipient))
    return eph_pub + AESGCM(key).encrypt(_NONCE, plaintext, context)


def open_sealed(private: X25519PrivateKey, sealed: bytes, *, context: bytes = b"") -> bytes:
    """The plaintext of a box made by :func:`seal`; :class:`SealedBoxError` otherwise."""
    if len(sealed) < SEAL_OVERHEAD:
        raise SealedBoxError(message_for("box.unopenable"))
    eph_pub = sealed[:32]
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(eph_pub))
        key = _box_key(shared, eph_pub, _raw(private.public_key()))
        return AESGCM(key).decrypt(_NONCE, sealed[32:], context)
    except (InvalidTag, ValueError):  # ValueError: a low-order point (all-zero secret)
        raise SealedBoxError(message_for("box.unopenable")) from None


def scan_key_statement(box_public_b64_text: str) -> bytes:
    """The bytes the server signs with its Ed25519 key to vouch for its X25519 public key."""
    return b"KK-SCAN-KEY-V1\n" + box_public_b64_text.encode("ascii")


def verify_scan_key_offer(server_key: Ed25519PublicKey, offer: Mapping[str, Any]) -> str:
    """The X25519 public key (base64) of an offer ``{"scan_public_key",
    "scan_key_signature"}`` whose signature verifies with the pinned ``server_key``;
    :class:`SignatureInvalid` (``signature.scan_key_invalid``) otherwise."""
    public = offer.get("scan_public_key")
    signature = offer.get("scan_key_signature")
    try:
        if not isinstance(public, str) or not isinstance(signature, str):
            raise ValueError("missing")
        load_box_public_b64(public)
        server_key.verify(base64.b64decode(signature, validate=True), scan_key_statement(public))
    except (ValueError, InvalidSignature, ValidationError, binascii.Error):
        raise SignatureInvalid(
            message_for("signature.scan_key_invalid"), code="signature.scan_key_invalid"
        ) from None
    return public
