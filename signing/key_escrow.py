"""The counter's data key in escrow for the server, and its re-issue to one operator.

A counter's device data key (:class:`field_client.scans.DataKey`) exists on the counter only
wrapped per operator password. So that an operator who has no wrapped copy yet can still get
one, the counter also keeps the key **sealed for the server's X25519 scan key**
(:mod:`signing.sealed_box`), bound to its device id: the *escrow*. Only the server's private
key opens it, so a stolen counter disk gains nothing from it.

Recovery (docs/security.md, docs/protocol.md §11.6): the counter sends the escrow with the
operator's credentials and a fresh ephemeral X25519 public key in a device-signed request; the
server opens the escrow with the signing device's id as context (an escrow copied from another
counter does not open) and answers the key sealed for the ephemeral key, bound to the device
and the operator. Only the process that made the ephemeral key opens the answer.

Both sides build the same contexts here (the counter and the server meet in ``signing/``).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from protocol.errors import message_for
from signing.sealed_box import SEAL_OVERHEAD, SealedBoxError, open_sealed, seal

__all__ = [
    "DATA_KEY_BYTES",
    "MAX_ESCROW_CHARS",
    "seal_escrow",
    "open_escrow",
    "seal_for_operator",
    "open_for_operator",
]

DATA_KEY_BYTES = 32
MAX_ESCROW_CHARS = 4 * ((DATA_KEY_BYTES + SEAL_OVERHEAD + 2) // 3)
"""Length of the base64 of an escrow (and of a re-issued key): 108 characters."""


def _escrow_context(device_id: str) -> bytes:
    return b"KK-DATA-KEY-ESCROW-V1\n" + device_id.encode("utf-8")


def _operator_context(device_id: str, operator_id: str) -> bytes:
    ids = f"{device_id}\n{operator_id}".encode()
    return b"KK-DATA-KEY-REISSUE-V1\n" + ids


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unopenable() -> SealedBoxError:
    return SealedBoxError(message_for("box.unopenable"))


def _unb64(text: str) -> bytes:
    if not isinstance(text, str) or len(text) > MAX_ESCROW_CHARS:
        raise _unopenable()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _unopenable() from None


def _checked(raw: bytes) -> bytes:
    if len(raw) != DATA_KEY_BYTES:
        raise _unopenable()
    return raw


def seal_escrow(server_key: X25519PublicKey, data_key: bytes, device_id: str) -> str:
    """The data key sealed for the server, bound to ``device_id`` (base64)."""
    return _b64(seal(server_key, _checked(data_key), context=_escrow_context(device_id)))


def open_escrow(server_key: X25519PrivateKey, escrow: str, device_id: str) -> bytes:
    """The data key in ``escrow`` if it was sealed for this server by ``device_id``;
    :class:`~signing.sealed_box.SealedBoxError` otherwise (another device's escrow, another
    server's, or altered bytes)."""
    return _checked(open_sealed(server_key, _unb64(escrow), context=_escrow_context(device_id)))


def seal_for_operator(
    ephemeral: X25519PublicKey, data_key: bytes, device_id: str, operator_id: str
) -> str:
    """The recovered data key sealed for the requester's ephemeral key (base64)."""
    context = _operator_context(device_id, operator_id)
    return _b64(seal(ephemeral, _checked(data_key), context=context))


def open_for_operator(
    ephemeral: X25519PrivateKey, sealed: str, device_id: str, operator_id: str
) -> bytes:
    """The data key :func:`seal_for_operator` sealed; :class:`SealedBoxError` otherwise."""
    context = _operator_context(device_id, operator_id)
    return _checked(open_sealed(ephemeral, _unb64(sealed), context=context))
