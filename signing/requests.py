"""Signing and verifying HTTP requests with the device key (format: :mod:`protocol.request_auth`).

A counter calls :func:`sign_request` for every ``/api/v1/sync/*`` request and sends the
returned headers with the exact body bytes it signed (gzip-compressed bytes when it sends
``Content-Encoding: gzip``). The server checks the signature with :func:`verify_request`
and the policy around it (enrolled device, clock window, unused nonce) in
:mod:`sync_server.services.request_auth`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.errors import SignatureInvalid, define_messages, message_for
from protocol.events import format_timestamp
from protocol.request_auth import (
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    NONCE_PATTERN,
    request_signing_bytes,
)

__all__ = ["new_nonce", "sign_request", "verify_request"]

define_messages(
    {
        "request.bad_signature": "Tanda tangan permintaan tidak cocok dengan kunci perangkat "
        "{device_id}.",
    }
)


def new_nonce() -> str:
    """A fresh random nonce: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


def sign_request(
    key: Ed25519PrivateKey,
    device_id: str,
    method: str,
    path: str,
    body: bytes,
    *,
    now: datetime,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four ``X-KK-*`` headers that authenticate one request.

    ``path`` is the request target exactly as sent (path, plus ``?query`` if any); ``body``
    the exact bytes sent (``b""`` for none); ``now`` the device's (corrected) clock.
    """
    nonce = new_nonce() if nonce is None else nonce
    if not NONCE_PATTERN.match(nonce):
        raise ValueError("nonce must be 16-64 characters of [A-Za-z0-9_-]")
    timestamp = format_timestamp(now)
    signed = request_signing_bytes(
        method=method,
        path=path,
        body_sha256=hashlib.sha256(body).hexdigest(),
        timestamp=timestamp,
        nonce=nonce,
        device_id=device_id,
    )
    return {
        HEADER_DEVICE: device_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(key.sign(signed)).decode("ascii"),
    }


def verify_request(
    public_key: Ed25519PublicKey,
    *,
    device_id: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: str,
    nonce: str,
    signature: str,
) -> None:
    """Raise :class:`SignatureInvalid` (``request.bad_signature``) unless ``signature`` is the
    device's signature over this method, path, body, timestamp and nonce."""
    try:
        signed = request_signing_bytes(
            method=method,
            path=path,
            body_sha256=hashlib.sha256(body).hexdigest(),
            timestamp=timestamp,
            nonce=nonce,
            device_id=device_id,
        )
        public_key.verify(base64.b64decode(signature, validate=True), signed)
    except (InvalidSignature, ValueError):
        raise SignatureInvalid(
            message_for("request.bad_signature", device_id=device_id),
            code="request.bad_signature",
        ) from None
