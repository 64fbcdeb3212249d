"""Re-issuing a counter's data key to one of its operators (docs/security.md, protocol §11.6).

A counter keeps its device data key sealed for the server's X25519 scan key and bound to its
device id (the *escrow*, :mod:`signing.key_escrow`). An operator who has no copy of the key
on that counter sends, in a device-signed request (``POST /api/v1/sync/scans/key/recover``),
the escrow, their username and password and an ephemeral X25519 public key. The server needs
no state of its own for this: it checks, in this order,

1. the device signature, clock, nonce, and that the device is not revoked (the signed-request
   dependency: 401 ``request.*`` / ``device.unknown``, 403 ``device.revoked``);
2. the body's shape (400 ``request.malformed_json`` / ``scan_key.bad_request``);
3. the password against the server's own hash, under the staff-login throttle of the
   (username, client address) pair (:func:`sync_server.services.staff_auth.verify_credentials`:
   429 ``auth.throttled``, 401 ``auth.invalid_credentials``). The hash a counter holds for
   offline login is not enough: the server wants the password itself, so a stolen disk
   (which holds the hash and the escrow) gets nothing;
4. after the right password only (so a guesser learns nothing more): an active operator
   account (403 ``scan_key.not_operator`` / ``auth.account_disabled``) of the device's
   kecamatan (403 ``scan_key.operator_elsewhere``);
5. that the escrow opens with the server's key and the signing device's id as context: an
   escrow copied from another counter, sealed for another server or altered does not
   (403 ``scan_key.escrow_foreign``).

Then it answers the data key sealed for the ephemeral key and bound to the device and the
operator, and appends ``scan_key.reissued`` to the access log (operator, device, address,
time) in the same transaction. A refusal after a right password is logged too
(``scan_key.refused``, with its code). Neither the key nor the password is ever logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from protocol.errors import ValidationError, define_messages
from protocol.workflow import Role
from signing.key_escrow import MAX_ESCROW_CHARS, open_escrow, seal_for_operator
from signing.sealed_box import SealedBoxError, load_box_public_b64
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import access_log, staff_auth
from sync_server.storage.accounts import User
from sync_server.storage.db import Database
from sync_server.storage.devices import Device

__all__ = ["REISSUED", "REFUSED", "RecoveryRequest", "parse_request", "reissue"]

log = logging.getLogger("sync_server.scans")

REISSUED = "scan_key.reissued"
"""Access-log action: the server re-issued a counter's data key to an operator."""
REFUSED = "scan_key.refused"
"""Access-log action: a recovery with the right password was refused (detail: the code)."""

define_messages(
    {
        "scan_key.bad_request": "Permintaan kunci berkas tidak sah: {detail}.",
        "scan_key.not_operator": "Hanya akun operator loket yang dapat mengambil kunci berkas "
        "loket.",
        "scan_key.operator_elsewhere": "Akun {username} adalah operator kecamatan lain; kunci "
        "berkas loket ini hanya diberikan kepada operator kecamatan perangkat ini.",
        "scan_key.escrow_foreign": "Salinan kunci berkas yang dikirim bukan milik perangkat "
        "{device_id} (atau rusak); kunci tidak diberikan. Hubungi admin Dinas.",
    }
)

_FIELDS = ("username", "password", "escrow", "ephemeral_key")


@dataclass(frozen=True, slots=True)
class RecoveryRequest:
    """The parsed body. ``password`` is never printed (``repr`` hides it)."""

    username: str
    password: str
    escrow: str
    ephemeral_key: str

    def __repr__(self) -> str:
        return f"RecoveryRequest(username={self.username!r}, password=<hidden>, ...)"


def parse_request(data: Any) -> RecoveryRequest:
    """The body's four strings; 400 ``scan_key.bad_request`` otherwise."""
    if not isinstance(data, dict) or set(data) != set(_FIELDS):
        raise _bad("harus berisi tepat " + ", ".join(_FIELDS))
    for name in _FIELDS:
        value = data[name]
        if not isinstance(value, str) or not value:
            raise _bad(f"{name} harus teks yang tidak kosong")
    if len(data["username"]) > staff_auth.MAX_USERNAME:
        raise _bad("username terlalu panjang")
    if len(data["escrow"]) > MAX_ESCROW_CHARS:
        raise _bad("escrow terlalu panjang")
    try:
        load_box_public_b64(data["ephemeral_key"])
    except ValidationError:
        raise _bad("ephemeral_key harus kunci publik X25519 (base64)") from None
    return RecoveryRequest(**{name: data[name] for name in _FIELDS})


def _bad(detail: str) -> Refusal:
    return Refusal("scan_key.bad_request", status=400, detail=detail)


def reissue(
    db: Database,
    box_key: X25519PrivateKey,
    device: Device,
    request: RecoveryRequest,
    *,
    client_ip: str,
    now: datetime,
) -> str:
    """The device's data key sealed for ``request.ephemeral_key`` (base64), after the checks
    of the module doc. Blocking (scrypt): run it in a thread. Raises :class:`Refusal`."""
    user = staff_auth.verify_credentials(
        db, username=request.username, password=request.password, client_ip=client_ip, now=now
    )
    refusal = _refusal_for(user, device)
    data_key: bytes | None = None
    if refusal is None:
        try:
            data_key = open_escrow(box_key, request.escrow, device.device_id)
        except SealedBoxError:
            refusal = Refusal("scan_key.escrow_foreign", status=403, device_id=device.device_id)
    with db.write() as conn:
        staff_auth.clear_failures(conn, request.username, client_ip)
        access_log.append_by(
            conn,
            user,
            at=stamp(now),
            client_ip=client_ip,
            action=REISSUED if refusal is None else REFUSED,
            application_id=None,
            detail=f"perangkat {device.device_id}"
            + ("" if refusal is None else f"; ditolak: {refusal.code}"),
        )
    if refusal is not None:
        log.warning(
            "scan key refused to %s on %s: %s", user.user_id, device.device_id, refusal.code
        )
        raise refusal
    assert data_key is not None
    log.info("scan key re-issued to %s on %s", user.user_id, device.device_id)
    return seal_for_operator(
        load_box_public_b64(request.ephemeral_key), data_key, device.device_id, user.user_id
    )


def _refusal_for(user: User, device: Device) -> Refusal | None:
    if user.role is not Role.OPERATOR:
        return Refusal("scan_key.not_operator", status=403)
    if not user.is_active:
        return Refusal("auth.account_disabled", status=403, username=user.username)
    if user.kecamatan != device.kecamatan:
        return Refusal("scan_key.operator_elsewhere", status=403, username=user.username)
    return None
