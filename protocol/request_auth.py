"""What a device signs to authenticate one HTTP request (no secrets on the wire).

Every sync request carries these headers::

    X-KK-Device:     <device id>
    X-KK-Timestamp:  <UTC, protocol.events.format_timestamp form>
    X-KK-Nonce:      <16-64 chars [A-Za-z0-9_-], fresh per request>
    X-KK-Signature:  <base64 Ed25519 signature over request_signing_bytes(...)>

The signed bytes bind method, path with query, the SHA-256 of the exact body bytes sent
(after compression), timestamp, nonce and device, so a captured request cannot be replayed
(the server remembers nonces for the whole accepted clock window) nor altered. A counter's
clock may be wrong; the server's refusal ``request.clock_skew`` carries the server time so
the client can sign with a corrected clock.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = [
    "HEADER_DEVICE",
    "HEADER_TIMESTAMP",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "CLOCK_WINDOW",
    "NONCE_PATTERN",
    "request_signing_bytes",
]

HEADER_DEVICE = "X-KK-Device"
HEADER_TIMESTAMP = "X-KK-Timestamp"
HEADER_NONCE = "X-KK-Nonce"
HEADER_SIGNATURE = "X-KK-Signature"
CLOCK_WINDOW = timedelta(minutes=5)
"""A request's timestamp must be within this of the server's clock."""
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

_DOMAIN = "KK-REQUEST-V1"  # keeps a request signature from ever being valid as anything else


def request_signing_bytes(
    *, method: str, path: str, body_sha256: str, timestamp: str, nonce: str, device_id: str
) -> bytes:
    """The exact bytes signed for a request: newline-joined fields, UTF-8.

    ``path`` is the request target as sent (path plus ``?query`` if any); ``body_sha256`` is
    the lower-case hex SHA-256 of the body bytes (of the empty string for no body).
    """
    fields = (_DOMAIN, method.upper(), path, body_sha256, timestamp, nonce, device_id)
    if any("\n" in f for f in fields):
        raise ValueError("request fields must not contain newlines")
    return "\n".join(fields).encode("utf-8")
