"""Ed25519 keys of devices and of the server.

A counter's device key signs its change log and its requests. Background sync must use it
while no operator is logged in, so it cannot sit behind an operator's password: it is
protected by file permissions (0600, owner only) and by revocation on the server
(docs/security.md explains the trade-off). Loading refuses a key file others can read.

Public keys travel as standard base64 of the 32 raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from protocol.errors import KKError, ValidationError, define_messages, message_for
from signing.durable import fsync_dir

__all__ = [
    "KeyFileError",
    "generate_key",
    "save_private_key",
    "load_private_key",
    "read_private_key_file",
    "public_key_b64",
    "load_public_key_b64",
    "fingerprint",
    "is_weak_public_key",
]

define_messages(
    {
        "key.invalid": "Kunci publik tidak sah: harus kunci Ed25519 (32 byte, base64) yang "
        "dibuat perangkat itu sendiri.",
        "key.file_missing": "Berkas kunci {path} tidak ada.",
        "key.file_unreadable": "Berkas kunci {path} rusak atau bukan kunci Ed25519.",
        "key.insecure_permissions": "Berkas kunci {path} dapat dibaca pengguna lain "
        "(izin {mode}); batasi dengan chmod 600.",
        "key.exists": "Berkas kunci {path} sudah ada; tidak ditimpa.",
    }
)


class KeyFileError(KKError):
    """A key file is missing, unreadable, exposed or would be overwritten."""

    code = "key.file_unreadable"


def generate_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key."""
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey | X25519PrivateKey, path: Path) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM readable by the owner only (the server's
    X25519 scan key, :mod:`signing.sealed_box`, is kept the same way).

    Never overwrites: a device's identity is its key, and replacing it silently would orphan
    its enrollment. The file is created with mode 0600 from the start (no window in which
    it is world-readable), fsynced, and linked into place only if no key exists yet.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a leftover would keep its old permissions
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() fails if the key exists, so two concurrent saves cannot overwrite each other.
        os.link(tmp, path)
    except FileExistsError:
        raise KeyFileError(message_for("key.exists", path=path), code="key.exists") from None
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)  # the new name survives a power cut, not just the bytes


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load an Ed25519 key written by :func:`save_private_key`; refuse it if others can read
    it."""
    key = read_private_key_file(path)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(message_for("key.file_unreadable", path=path))
    return key


def read_private_key_file(path: Path) -> object:
    """The private key in a PEM file written by :func:`save_private_key`, of whatever type
    (``None`` when unparsable); refused when missing or readable by others."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileError(
            message_for("key.file_missing", path=path), code="key.file_missing"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            message_for("key.insecure_permissions", path=path, mode=oct(mode & 0o777)),
            code="key.insecure_permissions",
        )
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        return None


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Standard base64 of the 32 raw public-key bytes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def load_public_key_b64(text: str) -> Ed25519PublicKey:
    """Parse :func:`public_key_b64` output; raise :class:`ValidationError` (``key.invalid``)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raw = b""
    if len(raw) != 32 or is_weak_public_key(raw):
        raise ValidationError.single("key.invalid")
    return Ed25519PublicKey.from_public_bytes(raw)


_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def is_weak_public_key(raw: bytes) -> bool:
    """True for an Ed25519 public key no honest device has: a non-canonical encoding, a point
    off the curve, or a point of small order (8A = identity).

    With such a key, signatures can be forged without the private key (for the identity
    point, the signature R = identity, S = 0 verifies for every message under OpenSSL), so a
    device enrolled with one could later deny its own change log. RFC 8032 decoding; runs
    once per enrollment.
    """
    if len(raw) != 32:
        return True
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= _P:
        return True
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P or (x == 0 and sign):
        return True
    if x & 1 != sign:
        x = _P - x
    for _ in range(3):  # multiply by the cofactor 8
        xy = x * y % _P
        dxy2 = _D * xy * xy % _P
        x, y = (
            2 * xy * pow(1 + dxy2, -1, _P) % _P,
            (y * y + x * x) * pow(1 - dxy2, -1, _P) % _P,
        )
    return x == 0 and y == 1


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Short, human-comparable identity of a public key (first 16 hex of its SHA-256),
    shown at enrollment so an admin can compare what the device and the server see."""
    raw = base64.b64decode(public_key_b64(key))
    return hashlib.sha256(raw).hexdigest()[:16]
