"""Wrapping the counter's keys: scan keys under the device data key, the data key under each
operator's password (design.md §4, docs/security.md "Key hierarchy").

Both wraps are AES-256-GCM with a random 96-bit nonce and associated data naming what is
wrapped (``context``), so a wrapped key copied onto another row does not open::

    key wrap       kw1$<nonce b64>$<ciphertext+tag b64>
    password wrap  pw1$<log2 n>$<salt b64>$<nonce b64>$<ciphertext+tag b64>

The password wrap derives its key with scrypt (:func:`signing.passwords.derive_key`) from a
salt of its own. Both raise :class:`KeyUnwrapError` for a wrong key or password and for
altered bytes alike: the two cannot be told apart, by design.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocol.errors import KKError, define_messages, message_for
from signing.passwords import DEFAULT_LOG2_N, derive_key

__all__ = ["KeyUnwrapError", "wrap_key", "unwrap_key", "wrap_with_password", "unwrap_with_password"]

define_messages(
    {
        "key.unwrap_failed": "Kunci tidak dapat dibuka: kata sandi atau kunci salah, atau "
        "data kunci rusak.",
    }
)


class KeyUnwrapError(KKError):
    """A wrapped key does not open with this key or password."""

    code = "key.unwrap_failed"


def wrap_key(kek: bytes, key: bytes, *, context: bytes) -> str:
    """``key`` encrypted under ``kek`` (32 bytes), bound to ``context``."""
    nonce = os.urandom(12)
    return "$".join(["kw1", _b64(nonce), _b64(AESGCM(kek).encrypt(nonce, key, context))])


def unwrap_key(kek: bytes, wrapped: str, *, context: bytes) -> bytes:
    """The key :func:`wrap_key` wrapped; :class:`KeyUnwrapError` otherwise."""
    try:
        scheme, nonce, sealed = wrapped.split("$")
        if scheme != "kw1":
            raise ValueError(scheme)
        return AESGCM(kek).decrypt(_unb64(nonce), _unb64(sealed), context)
    except (ValueError, InvalidTag, binascii.Error):
        raise KeyUnwrapError(message_for("key.unwrap_failed")) from None


def wrap_with_password(
    password: str, key: bytes, *, context: bytes, log2_n: int = DEFAULT_LOG2_N
) -> str:
    """``key`` encrypted under a key derived from ``password`` with a fresh salt."""
    salt = os.urandom(16)
    kek = derive_key(password, salt, log2_n=log2_n)
    nonce = os.urandom(12)
    sealed = AESGCM(kek).encrypt(nonce, key, context)
    return "$".join(["pw1", str(log2_n), _b64(salt), _b64(nonce), _b64(sealed)])


def unwrap_with_password(password: str, wrapped: str, *, context: bytes) -> bytes:
    """The key :func:`wrap_with_password` wrapped; :class:`KeyUnwrapError` otherwise."""
    try:
        scheme, log2_n, salt, nonce, sealed = wrapped.split("$")
        if scheme != "pw1":
            raise ValueError(scheme)
        kek = derive_key(password, _unb64(salt), log2_n=int(log2_n))
        return AESGCM(kek).decrypt(_unb64(nonce), _unb64(sealed), context)
    except (ValueError, InvalidTag, binascii.Error):
        raise KeyUnwrapError(message_for("key.unwrap_failed")) from None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
