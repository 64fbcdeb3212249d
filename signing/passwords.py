"""Password hashes for operator and staff accounts (scrypt, RFC 7914, from the stdlib).

The server creates the hashes; operator hashes are pulled to their kecamatan's counters so
operators can log in offline. The encoded form carries its own parameters, so they can be
raised later without breaking old hashes::

    scrypt$<log2 n>$<r>$<p>$<salt base64>$<hash base64>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

__all__ = [
    "hash_password",
    "verify_password",
    "needs_rehash",
    "derive_key",
    "MIN_PASSWORD_LENGTH",
    "DEFAULT_LOG2_N",
]

MIN_PASSWORD_LENGTH = 8
# 2**15 * 8 * 128 bytes = 32 MiB and ~0.1 s per check on this hardware: slow for an attacker
# with a stolen disk, still quick at a counter's login.
_LOG2_N, _R, _P = 15, 8, 1
DEFAULT_LOG2_N = _LOG2_N
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str, *, log2_n: int = _LOG2_N) -> str:
    """Hash ``password`` with a fresh random salt; returns the encoded form above."""
    salt = os.urandom(16)
    digest = _scrypt(password, salt, log2_n, _R, _P)
    return "$".join(["scrypt", str(log2_n), str(_R), str(_P), _b64(salt), _b64(digest)])


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches; False for a wrong password or an unreadable hash."""
    try:
        scheme, log2_n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        n, r_, p_ = int(log2_n), int(r), int(p)
        if not (10 <= n <= 20 and 1 <= r_ <= 32 and 1 <= p_ <= 4):
            return False  # refuse parameters that could exhaust memory or CPU
        expected = base64.b64decode(digest, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), n, r_, p_)
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(encoded: str) -> bool:
    """True when the hash uses weaker parameters than today's defaults."""
    parts = encoded.split("$")
    return len(parts) != 6 or parts[0] != "scrypt" or parts[1:4] != [str(_LOG2_N), str(_R), str(_P)]


def derive_key(password: str, salt: bytes, *, log2_n: int = _LOG2_N) -> bytes:
    """A 32-byte key from ``password`` (scrypt, same cost as a login check), to wrap the
    counter's scan data key (:mod:`signing.key_wrap`). Use a salt of its own, never the
    password hash's: that hash is stored in plain on the counter for offline login."""
    if not 10 <= log2_n <= 20:
        raise ValueError("log2_n out of range")
    return _scrypt(password, salt, log2_n, _R, _P)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=2**log2_n, r=r, p=p, maxmem=_MAXMEM, dklen=_DKLEN
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
