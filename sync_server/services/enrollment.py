"""Device enrollment: one-time codes, enrolled devices, revocation, and the failure throttle.

Flow (design.md §2):

1. An admin runs ``kk-server device enroll-code --kecamatan 160601``: the server makes a
   12-character code from Crockford's base32 alphabet (no I, L, O, U: nothing to misread),
   shown once as ``XXXX-XXXX-XXXX``, and stores only its SHA-256, the kecamatan, a label and
   the expiry (default 24 hours).
2. The counter generates its Ed25519 key pair and sends ``POST /api/v1/devices/enroll`` with
   the code (dashes, spaces and case do not matter; O reads as 0, I and L as 1) and its
   public key. The server answers with the device id, the kecamatan, its own public key (the
   counter pins it) and the server time.

A code is consumed by a compare-and-set inside one write transaction, so of two concurrent
enrollments with one code exactly one wins; the other gets ``enroll.code_used``. Unknown,
expired and used codes count as failures of the client IP; after
``enroll_max_failures`` within ``enroll_failure_window_seconds`` the IP gets
``enroll.throttled`` (429, with ``retry_after``) before the code is even looked at. With 60
bits per code, guessing was hopeless already; the throttle also keeps the log quiet.

A revoked device is refused on every signed request (``device.revoked``); its history stays.

A new device's pull feed starts, in the enrollment's transaction, with every operator account
of its kecamatan (:func:`sync_server.services.feed.seed_device`), so its first pull lets the
kecamatan's operators log in offline.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from protocol.errors import ValidationError
from signing.keys import load_public_key_b64, public_key_b64
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import feed
from sync_server.services.wilayah import muba_kecamatan_code
from sync_server.storage import devices as store
from sync_server.storage.db import Database
from sync_server.storage.devices import Device, EnrollCode

__all__ = [
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "IssuedCode",
    "EnrollmentThrottle",
    "new_code",
    "format_code",
    "normalize_code",
    "code_hash",
    "issue_code",
    "enroll",
    "list_devices",
    "revoke_device",
]

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: 32 symbols, so each of the 12 characters carries 5 bits."""
CODE_LENGTH = 12
MAX_LABEL = 100
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_THROTTLED_CODES = frozenset({"enroll.code_unknown", "enroll.code_expired", "enroll.code_used"})


@dataclass(frozen=True, slots=True)
class IssuedCode:
    code: str
    """Formatted ``XXXX-XXXX-XXXX``; shown once, never stored."""
    kecamatan: str
    label: str
    expires_at: datetime


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize_code(text: str) -> str | None:
    """The 12 canonical characters of a typed code, or ``None`` if it cannot be one."""
    compact = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(compact) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in compact):
        return None
    return compact


def code_hash(normalized: str) -> str:
    return hashlib.sha256(f"kk-enroll-code:{normalized}".encode("ascii")).hexdigest()


def issue_code(
    db: Database,
    *,
    kecamatan: str,
    ttl: timedelta,
    label: str = "",
    now: datetime,
) -> IssuedCode:
    """Create a one-time enrollment code for a device of ``kecamatan``."""
    kecamatan = muba_kecamatan_code(kecamatan)
    label = _label(label)
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    code = new_code()
    expires = now + ttl
    with db.write() as conn:
        store.insert_code(
            conn,
            EnrollCode(
                code_hash=code_hash(code),
                kecamatan=kecamatan,
                label=label,
                created_at=stamp(now),
                expires_at=stamp(expires),
                used_at=None,
                device_id=None,
            ),
        )
    return IssuedCode(format_code(code), kecamatan, label, expires)


class EnrollmentThrottle:
    """Failed enrollment attempts per client IP within a sliding window (in memory).

    Bounded: at most ``max_clients`` addresses are tracked; the least recently failing one
    is forgotten first. Uses a monotonic clock, so wall-clock changes cannot reset it.
    """

    def __init__(
        self,
        *,
        max_failures: int,
        window_seconds: float,
        max_clients: int = 10_000,
        code: str = "enroll.throttled",
    ) -> None:
        self.code = code
        """The refusal's code (the public KK verification reuses this throttle)."""
        self.max_failures = max_failures
        self.window = window_seconds
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, client_ip: str) -> None:
        """Raise ``enroll.throttled`` (429) while ``client_ip`` has too many recent failures."""
        now = time.monotonic()
        with self._lock:
            failures = self._recent(client_ip, now)
            if len(failures) >= self.max_failures:
                retry_after = max(1, int(failures[0] + self.window - now) + 1)
                raise Refusal(
                    self.code,
                    status=429,
                    extra={"retry_after": retry_after},
                    retry_after=retry_after,
                )

    def record_failure(self, client_ip: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._recent(client_ip, now)
            failures.append(now)
            self._failures[client_ip] = failures
            self._failures.move_to_end(client_ip)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)

    def _recent(self, client_ip: str, now: float) -> deque[float]:
        failures = self._failures.get(client_ip, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures


def enroll(
    db: Database,
    *,
    code: str,
    public_key: str,
    label: str,
    client_ip: str,
    now: datetime,
    throttle: EnrollmentThrottle | None = None,
) -> Device:
    """Enroll a device with a one-time code; returns the new device.

    Raises :class:`Refusal`: ``enroll.throttled`` (429), ``key.invalid`` (400),
    ``enroll.code_unknown`` (400), ``enroll.code_used`` (409), ``enroll.code_expired``
    (410), ``enroll.key_in_use`` (409). Nothing is stored unless it succeeds.
    """
    if throttle is not None:
        throttle.check(client_ip)
    try:
        key_b64 = public_key_b64(load_public_key_b64(public_key))
    except ValidationError:  # key.invalid: malformed, off the curve or of small order
        raise Refusal("key.invalid", status=400) from None
    label = _label(label)
    try:
        return _consume(db, code, key_b64, label, client_ip, now)
    except Refusal as refusal:
        if throttle is not None and refusal.code in _THROTTLED_CODES:
            throttle.record_failure(client_ip)
        raise


def _consume(
    db: Database, code: str, key_b64: str, label: str, client_ip: str, now: datetime
) -> Device:
    normalized = normalize_code(code)
    if normalized is None:
        raise Refusal("enroll.code_unknown", status=400)
    at = stamp(now)
    with db.write() as conn:
        found = store.get_code(conn, code_hash(normalized))
        if found is None:
            raise Refusal("enroll.code_unknown", status=400)
        if found.used_at is not None:
            raise Refusal("enroll.code_used", status=409)
        if found.expires_at <= at:
            raise Refusal("enroll.code_expired", status=410)
        if store.device_with_key(conn, key_b64) is not None:
            raise Refusal("enroll.key_in_use", status=409)
        device = Device(
            device_id=f"dev-{found.kecamatan}-{secrets.token_hex(5)}",
            kecamatan=found.kecamatan,
            label=label or found.label,
            public_key=key_b64,
            enrolled_at=at,
            enrolled_ip=client_ip,
            revoked_at=None,
        )
        if not store.consume_code(conn, found.code_hash, at=at, device_id=device.device_id):
            raise Refusal("enroll.code_used", status=409)
        store.insert_device(conn, device)
        feed.seed_device(conn, device, now=now)
    return device


def list_devices(db: Database) -> list[Device]:
    with db.read() as conn:
        return store.list_devices(conn)


def revoke_device(db: Database, device_id: str, *, now: datetime) -> tuple[Device, bool]:
    """Revoke a device; returns it and whether it was active until now."""
    with db.write() as conn:
        if store.get_device(conn, device_id) is None:
            raise Refusal("device.not_found", status=404, device_id=device_id)
        changed = store.revoke_device(conn, device_id, at=stamp(now))
        device = store.get_device(conn, device_id)
    assert device is not None
    return device, changed


def _label(label: str) -> str:
    label = " ".join(label.split())
    return label[:MAX_LABEL]
