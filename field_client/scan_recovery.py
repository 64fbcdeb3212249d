"""Getting the counter's data key from the server for an operator who has no copy of it.

The data key is wrapped per operator password (:mod:`field_client.scans`); an operator whose
``scan_keyring`` row is missing (new on this counter) or wrapped under an old password
cannot open it alone. The counter keeps the key in escrow, sealed for the server and bound
to this device (:mod:`signing.key_escrow`). :func:`recover_scan_key` sends
that escrow, the operator's username and password and a fresh ephemeral X25519 public key
in one device-signed request (``POST /api/v1/sync/scans/key/recover``, docs/protocol.md);
the server checks the password against its own hash (the copy on this disk is not enough),
that the operator works in this device's kecamatan and that the escrow is this device's,
and answers the key sealed for the ephemeral key. The key must then open this counter's own
X25519 key (:func:`field_client.scans.adopt`) before it is wrapped for the operator.

It is blocking: the app's background recovery calls it on a worker thread right after the
login's offline password check (:func:`field_client.operator_login.fetch_scan_key`), with
the password that check had, so the password lives no longer than this call. Its request
runs on its own short-lived event loop in that thread with a bounded deadline
(:attr:`~field_client.config.CounterConfig.scan_key_recovery_deadline_s`): a dead link
holds that thread (and the password) at most that long, and never the login or the screen.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime

import httpx

from field_client.config import CounterConfig
from field_client.errors import DeviceKeyMismatch, DeviceNotEnrolled, ScanError
from field_client.scans import DataKey
from field_client.store import Operator, Store
from field_client.sync.client import SyncClient, client_for, utc_now
from field_client.sync.errors import LinkDown
from protocol.events import format_timestamp
from signing.key_escrow import open_for_operator
from signing.keys import load_private_key, public_key_b64
from signing.sealed_box import SealedBoxError, box_public_b64, generate_box_key

__all__ = ["RECOVER_PATH", "recover_scan_key"]

RECOVER_PATH = "/api/v1/sync/scans/key/recover"

log = logging.getLogger("field_client.scans")


def recover_scan_key(
    config: CounterConfig,
    store: Store,
    operator: Operator,
    password: str,
    *,
    clock: Callable[[], datetime] = utc_now,
    transport: httpx.AsyncBaseTransport | None = None,
) -> DataKey:
    """The data key re-issued by the server for ``operator``, wrapped for them in this
    counter's keyring. Blocking; call it from a worker thread, never the event loop.

    Raises :class:`~field_client.errors.ScanError` (``scan.no_escrow``,
    ``scan.recovered_key_wrong``), :class:`~field_client.sync.errors.LinkDown` (no usable
    answer: the caller keeps the scans locked and asks again later) or
    :class:`~field_client.sync.errors.ServerRefusal` (the server's code and Indonesian
    message: wrong password, throttled, operator of another kecamatan, revoked device...).
    """
    device = store.device()
    if device is None:
        raise DeviceNotEnrolled.of("device.not_enrolled")
    escrow = store.data_key_escrow()
    if escrow is None:
        raise ScanError.of("scan.no_escrow")
    key = load_private_key(config.key_path)
    if public_key_b64(key) != device.public_key:
        raise DeviceKeyMismatch.of("device.key_mismatch", device_id=device.device_id)
    ephemeral = generate_box_key()
    body = json.dumps(
        {
            "username": operator.username,
            "password": password,
            "escrow": escrow,
            "ephemeral_key": box_public_b64(ephemeral),
        }
    ).encode("utf-8")
    client = client_for(
        config,
        config.server_url or device.server_url,
        device.device_id,
        key,
        clock=clock,
        transport=transport,
        deadline_s=config.scan_key_recovery_deadline_s,
    )
    answer = asyncio.run(_ask(client, body))
    sealed = answer.get("sealed_key")
    if not isinstance(sealed, str):
        raise LinkDown.of("sync.bad_response", status=200)
    try:
        raw = open_for_operator(ephemeral, sealed, device.device_id, operator.id)
    except SealedBoxError:
        raise ScanError.of("scan.recovered_key_wrong") from None
    opened = store.adopt_scan_key(operator.id, password, raw, at=format_timestamp(clock()))
    log.info("scan key re-issued by the server for operator %s", operator.id)
    return opened


async def _ask(client: SyncClient, body: bytes) -> dict[str, object]:
    try:
        return await client.signed(
            "POST", RECOVER_PATH, body=body, headers={"Content-Type": "application/json"}
        )
    finally:
        await client.aclose()
