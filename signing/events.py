"""Signing and verifying change-log events with Ed25519 (format: :mod:`protocol.events`)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.errors import SignatureInvalid, define_messages, message_for
from protocol.events import ChangeEvent, EventKind, format_timestamp
from protocol.server_events import ServerEvent

__all__ = ["sign_event", "verify_event", "verify_server_event", "build_event"]

define_messages(
    {
        "signature.invalid": "Tanda tangan catatan nomor {seq} dari perangkat {device} "
        "tidak cocok dengan kunci perangkat itu.",
        "signature.server_invalid": "Kiriman server posisi {cursor} tidak ditandatangani "
        "oleh server yang terdaftar; kiriman diabaikan.",
    }
)


_Signed = TypeVar("_Signed", ChangeEvent, ServerEvent)


def sign_event(event: _Signed, key: Ed25519PrivateKey) -> _Signed:
    """Return ``event`` (a counter's or the server's) with ``sig`` over its canonical bytes."""
    sig = key.sign(event.signed_bytes())
    return replace(event, sig=base64.b64encode(sig).decode("ascii"))


def verify_event(event: ChangeEvent, public_key: Ed25519PublicKey) -> None:
    """Raise :class:`SignatureInvalid` unless ``event.sig`` verifies under the device key."""
    if not _verifies(event.sig, event.signed_bytes(), public_key):
        raise SignatureInvalid(
            message_for("signature.invalid", seq=event.seq, device=event.device_id),
            code="signature.invalid",
        )


def verify_server_event(event: ServerEvent, server_key: Ed25519PublicKey) -> None:
    """Raise :class:`SignatureInvalid` unless ``event`` was signed by the pinned server key."""
    if not _verifies(event.sig, event.signed_bytes(), server_key):
        raise SignatureInvalid(
            message_for("signature.server_invalid", cursor=event.cursor),
            code="signature.server_invalid",
        )


def _verifies(sig: str, data: bytes, public_key: Ed25519PublicKey) -> bool:
    try:
        public_key.verify(base64.b64decode(sig, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def build_event(
    *,
    key: Ed25519PrivateKey,
    device_id: str,
    operator_id: str,
    previous_seq: int,
    previous_hash: str,
    kind: EventKind,
    application_id: str,
    body: Mapping[str, Any],
    at: datetime,
) -> ChangeEvent:
    """Make, check and sign the event that follows ``previous_seq`` in this device's log.

    ``previous_seq`` is 0 and ``previous_hash`` :data:`~protocol.events.GENESIS_HASH` for a
    device's first event; otherwise they are the last event's ``seq`` and :meth:`hash`.

    The body is checked against its kind before signing, so a device never signs an event
    the server would refuse as malformed.
    """
    event = ChangeEvent(
        device_id=device_id,
        operator_id=operator_id,
        seq=previous_seq + 1,
        prev_hash=previous_hash,
        created_at=format_timestamp(at),
        kind=kind,
        application_id=application_id,
        body=dict(body),
    )
    # Parse the signed result exactly as the server will, so nothing malformed is ever signed
    # into a device's log (ids, timestamps and body are all checked there).
    return ChangeEvent.from_wire(sign_event(event, key).to_wire())
