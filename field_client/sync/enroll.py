"""Enrollment of a counter: the one step that needs the network (design.md §2).

:func:`enroll_device`:

1. refuses a device that is already enrolled (``device.already_enrolled``): a second
   enrollment would start a second change log under another id;
2. takes the device key from the data directory, or generates one and saves it 0600
   (:func:`signing.keys.save_private_key`, which never overwrites);
3. sends ``POST /api/v1/devices/enroll`` with the one-time code, the public key and a label;
4. pins the server's public key and records the device in the store
   (:meth:`~field_client.store.Store.record_enrollment`), only after a complete answer.

A failure raises :class:`~field_client.sync.errors.EnrollmentError` with a stable code and
records nothing, so trying again works: the key stays and is reused.

* no network / no answer: ``enroll.no_network``;
* the server's refusals, relayed with their code and Indonesian text:
  ``enroll.code_unknown``, ``enroll.code_expired``, ``enroll.code_used``,
  ``enroll.throttled`` (with ``retry_after``), ``key.invalid``, ``request.*``;
* something that is not the server answered: ``enroll.bad_response``; a malformed URL:
  ``enroll.bad_server_url``; a data directory that cannot be written:
  ``enroll.data_dir_unusable``.

A lost answer is the awkward case: the server enrolled the key, the counter never heard.
Trying again with the same code answers ``enroll.code_used``; with a new code the server
answers ``enroll.key_in_use`` (it checks the key before spending the code). Then the old key
is moved aside (kept, renamed ``device_key.pem.orphaned-<time>``, never deleted) and the
enrollment is retried once with a fresh key and the same code: the operator only needs
one new code, and the admin revokes the orphaned device id.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from field_client.config import CounterConfig
from field_client.errors import DeviceAlreadyEnrolled
from field_client.store import Device, Store
from field_client.sync.client import read_json, refusal_of, timeouts, utc_now
from field_client.sync.errors import EnrollmentError, LinkDown, ServerRefusal
from protocol.errors import SignatureInvalid, ValidationError, message_for
from protocol.events import format_timestamp, parse_timestamp
from signing.keys import (
    fingerprint,
    generate_key,
    load_private_key,
    load_public_key_b64,
    public_key_b64,
    save_private_key,
)
from signing.sealed_box import verify_scan_key_offer

__all__ = ["ENROLL_PATH", "Enrollment", "enroll_device"]

ENROLL_PATH = "/api/v1/devices/enroll"

log = logging.getLogger("field_client.sync")


@dataclass(frozen=True, slots=True)
class Enrollment:
    """What a successful enrollment recorded, for the operator and the admin to compare."""

    device: Device
    device_fingerprint: str
    """First 16 hex of the SHA-256 of this device's public key (the admin sees the same)."""
    server_fingerprint: str
    """The same for the pinned server key."""
    clock_offset_s: float
    """Server clock minus device clock at enrollment, in seconds (a warning if large)."""
    key_created: bool
    """Whether this enrollment generated the key (False: a key from an earlier try)."""


async def enroll_device(
    config: CounterConfig,
    *,
    server_url: str,
    code: str,
    label: str = "",
    clock: Callable[[], datetime] = utc_now,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Enrollment:
    """Enroll this counter with a one-time code (see the module docstring).

    Raises :class:`EnrollmentError`, ``DeviceAlreadyEnrolled``, or
    :class:`~signing.keys.KeyFileError` for a key file that cannot be used (e.g. readable by
    others); nothing is recorded in the store unless it succeeds.
    """
    base_url = _check_url(server_url)
    try:
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        store = Store.open(config.db_path)
    except (OSError, sqlite3.Error) as exc:
        raise EnrollmentError(
            message_for("enroll.data_dir_unusable", path=config.data_dir, reason=exc),
            code="enroll.data_dir_unusable",
        ) from exc
    try:
        existing = store.device()
        if existing is not None:
            raise DeviceAlreadyEnrolled.of("device.already_enrolled", device_id=existing.device_id)
        key, created = _device_key(config.key_path)
        async with httpx.AsyncClient(
            base_url=base_url,
            timeout=timeouts(
                connect=config.connect_timeout_s,
                read=config.read_timeout_s,
                write=config.write_timeout_s,
            ),
            transport=transport,
            trust_env=config.trust_env,
            follow_redirects=False,
            headers={"User-Agent": "kk-counter"},
        ) as http:
            try:
                answer = await _post(http, base_url, code, key, label)
            except EnrollmentError as exc:
                if exc.code != "enroll.key_in_use":
                    raise
                # Our key is enrolled already: an earlier answer was lost (module docstring).
                _retire_key(config.key_path, clock())
                key, created = _device_key(config.key_path)
                answer = await _post(http, base_url, code, key, label)
        received_at = clock()
        device = _device_from(answer, base_url, key)
        store.record_enrollment(device)
        if "scan_public_key" in answer:  # a server from before scans sends none
            store.set_server_box_key(answer["scan_public_key"])
    finally:
        store.close()
    server_time = parse_timestamp(answer["server_time"])
    offset = (server_time - received_at).total_seconds() if server_time else 0.0
    log.info("enrolled as %s (kecamatan %s)", device.device_id, device.kecamatan)
    return Enrollment(
        device=device,
        device_fingerprint=fingerprint(key),
        server_fingerprint=fingerprint(load_public_key_b64(device.server_public_key)),
        clock_offset_s=offset,
        key_created=created,
    )


def _check_url(server_url: str) -> str:
    parts = urlsplit(server_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise EnrollmentError(
            message_for("enroll.bad_server_url", url=server_url), code="enroll.bad_server_url"
        )
    return server_url.strip().rstrip("/")


def _device_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The key from an earlier attempt, or a new one saved 0600. Never overwrites."""
    if path.exists():
        return load_private_key(path), False
    save_private_key(generate_key(), path)
    # Read back what is on disk: the key we enroll is the key the engine will sign with.
    return load_private_key(path), True


def _retire_key(path: Path, now: datetime) -> None:
    stamp = now.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.orphaned-{stamp}")
    path.rename(target)
    log.warning("device key already enrolled by a lost answer; kept as %s", target)


async def _post(
    http: httpx.AsyncClient, base_url: str, code: str, key: Ed25519PrivateKey, label: str
) -> dict[str, Any]:
    body = {"code": code.strip(), "public_key": public_key_b64(key), "label": label.strip()}
    try:
        response = await http.post(ENROLL_PATH, json=body)
    except httpx.TransportError as exc:
        log.info("enrollment: no answer from %s: %s", base_url, type(exc).__name__)
        raise EnrollmentError(message_for("enroll.no_network"), code="enroll.no_network") from exc
    try:
        data = read_json(response)
        if response.status_code == 201:
            return _answer(data, response.status_code, base_url)
        raise refusal_of(response, data)
    except ServerRefusal as refusal:
        raise EnrollmentError(
            refusal.message,
            code=refusal.code,
            status=refusal.status,
            retry_after=refusal.retry_after,
        ) from None
    except LinkDown as down:
        if down.code == "sync.server_unavailable":  # a gateway answered for a dead server
            raise EnrollmentError(
                message_for("enroll.no_network"),
                code="enroll.no_network",
                status=response.status_code,
            ) from None
        raise _bad_response(base_url, response.status_code) from None


def _answer(data: Any, status: int, base_url: str) -> dict[str, Any]:
    fields = ("device_id", "kecamatan", "server_public_key", "server_time")
    if not isinstance(data, dict) or not all(isinstance(data.get(f), str) for f in fields):
        raise _bad_response(base_url, status)
    try:
        load_public_key_b64(data["server_public_key"])
    except ValidationError:
        raise _bad_response(base_url, status) from None
    if parse_timestamp(data["server_time"]) is None:
        raise _bad_response(base_url, status)
    if "scan_public_key" in data:
        try:
            verify_scan_key_offer(load_public_key_b64(data["server_public_key"]), data)
        except SignatureInvalid:
            raise _bad_response(base_url, status) from None
    return data


def _bad_response(base_url: str, status: int) -> EnrollmentError:
    return EnrollmentError(
        message_for("enroll.bad_response", url=base_url, status=status),
        code="enroll.bad_response",
        status=status,
    )


def _device_from(answer: dict[str, Any], base_url: str, key: Ed25519PrivateKey) -> Device:
    return Device(
        device_id=answer["device_id"],
        kecamatan=answer["kecamatan"],
        server_url=base_url,
        server_public_key=answer["server_public_key"],
        public_key=public_key_b64(key),
        enrolled_at=format_timestamp(parse_timestamp(answer["server_time"]) or utc_now()),
    )
