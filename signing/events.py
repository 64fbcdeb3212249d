"""Signing and verifying change-log events with Ed25519 (format: :mod:`protocol.events`)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from protocol.errors import SignatureInvalid, define_messages, message_for
from protocol.events import ChangeEvent, EventKind, format_timestamp

__all__ = ["sign_event", "verify_event", "build_event"]

define_messages(
    {
        "signature.invalid": "Tanda tangan catatan nomor {seq} dari perangkat {device} "
        "tidak cocok dengan kunci perangkat itu.",
    }
)


def sign_event(event: ChangeEvent, key: Ed25519PrivateKey) -> ChangeEvent:
    """Return ``event`` with ``sig`` set to the signature over its canonical bytes."""
    sig = key.sign(event.signed_bytes())
    return replace(event, sig=base64.b64encode(sig).decode("ascii"))


def verify_event(event: ChangeEvent, public_key: Ed25519PublicKey) -> None:
    """Raise :class:`SignatureInvalid` unless ``event.sig`` verifies under ``public_key``."""
    try:
        public_key.verify(base64.b64decode(event.sig, validate=True), event.signed_bytes())
    except (InvalidSignature, ValueError):
        raise SignatureInvalid(
            message_for("signature.invalid", seq=event.seq, device=event.device_id),
            code="signature.invalid",
        ) from None


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
    event.check_body()
    return sign_event(event, key)
