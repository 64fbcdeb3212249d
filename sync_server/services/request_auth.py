"""The server's check of a signed request (format: :mod:`protocol.request_auth`).

Every ``/api/v1/sync/*`` request must carry ``X-KK-Device``, ``X-KK-Timestamp``,
``X-KK-Nonce`` and ``X-KK-Signature``. The checks run in this order, and the first failure
answers:

1. the four headers are present and well formed: else 401 ``request.unsigned`` (with
   ``header``);
2. the device is enrolled: else 401 ``device.unknown``;
3. the body is read, at most ``max_body_bytes`` as sent (413 ``request.too_large``);
4. the Ed25519 signature over :func:`protocol.request_auth.request_signing_bytes` (method,
   path with query as sent, SHA-256 of the exact body bytes received, timestamp, nonce,
   device) verifies with the device's enrolled key: else 401 ``request.bad_signature``;
5. the device is not revoked: else 403 ``device.revoked`` (after the signature, so only the
   device itself learns it);
6. the timestamp is within :data:`~protocol.request_auth.CLOCK_WINDOW` (5 minutes) of the
   server clock: else 401 ``request.clock_skew`` with ``server_time`` so the counter can
   correct its clock and sign again;
7. the nonce was never accepted from this device: else 401 ``request.replayed``. Accepted
   nonces are stored in SQLite (``request_nonces``) until their request leaves the clock
   window (timestamp, or server time if later, plus the window), so a restart does not
   reopen replays; expired nonces are purged on the way.

Only a request that passes all seven is handled; its nonce is then spent whatever the
handler answers, so a client signs every attempt afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocol.errors import SignatureInvalid
from protocol.events import parse_timestamp
from protocol.request_auth import (
    CLOCK_WINDOW,
    HEADER_DEVICE,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    NONCE_PATTERN,
)
from signing.requests import verify_request
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.storage import devices as store
from sync_server.storage.db import Database
from sync_server.storage.devices import Device

__all__ = ["RequestCredentials", "read_credentials", "lookup_device", "check_signed_request"]

_DEVICE_ID_LIMIT = 64
_MAX_SIGNATURE_CHARS = 100


@dataclass(frozen=True, slots=True)
class RequestCredentials:
    """The four authentication headers of one request, well formed but not yet verified."""

    device_id: str
    timestamp: str
    moment: datetime
    nonce: str
    signature: str


def read_credentials(headers: Any) -> RequestCredentials:
    """Step 1: the headers (any case-insensitive mapping). Raises ``request.unsigned``."""
    device_id = headers.get(HEADER_DEVICE) or ""
    if not (0 < len(device_id) <= _DEVICE_ID_LIMIT and device_id.isascii()):
        raise _unsigned(HEADER_DEVICE)
    if any(not (c.isalnum() or c in "_-") for c in device_id):
        raise _unsigned(HEADER_DEVICE)
    timestamp = headers.get(HEADER_TIMESTAMP) or ""
    moment = parse_timestamp(timestamp)
    if moment is None:
        raise _unsigned(HEADER_TIMESTAMP)
    nonce = headers.get(HEADER_NONCE) or ""
    if not NONCE_PATTERN.match(nonce):
        raise _unsigned(HEADER_NONCE)
    signature = headers.get(HEADER_SIGNATURE) or ""
    if not (0 < len(signature) <= _MAX_SIGNATURE_CHARS):
        raise _unsigned(HEADER_SIGNATURE)
    return RequestCredentials(device_id, timestamp, moment, nonce, signature)


def lookup_device(db: Database, device_id: str) -> Device:
    """Step 2. Raises ``device.unknown`` (401)."""
    with db.read() as conn:
        device = store.get_device(conn, device_id)
    if device is None:
        raise Refusal("device.unknown", status=401, device_id=device_id)
    return device


def check_signed_request(
    db: Database,
    device: Device,
    credentials: RequestCredentials,
    *,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
) -> None:
    """Steps 4 to 7; spends the nonce when all pass."""
    try:
        verify_request(
            device.verifying_key(),
            device_id=device.device_id,
            method=method,
            path=path,
            body=body,
            timestamp=credentials.timestamp,
            nonce=credentials.nonce,
            signature=credentials.signature,
        )
    except SignatureInvalid as exc:
        raise Refusal(exc.code, status=401, message=exc.message) from None
    if device.is_revoked:
        raise Refusal("device.revoked", status=403, device_id=device.device_id)
    if abs(now - credentials.moment) > CLOCK_WINDOW:
        server_time = stamp(now)
        raise Refusal(
            "request.clock_skew",
            status=401,
            extra={"server_time": server_time},
            server_time=server_time,
            window_minutes=int(CLOCK_WINDOW.total_seconds() // 60),
        )
    expires_at = stamp(max(credentials.moment, now) + CLOCK_WINDOW)
    with db.write() as conn:
        store.forget_expired_nonces(conn, now=stamp(now))
        fresh = store.remember_nonce(
            conn, device.device_id, credentials.nonce, expires_at=expires_at
        )
    if not fresh:
        raise Refusal("request.replayed", status=401)


def _unsigned(header: str) -> Refusal:
    return Refusal("request.unsigned", status=401, extra={"header": header}, header=header)
