"""Staff login at the centre: bearer tokens, sliding expiry, throttled failures.

* **Who**: verifikator, kabid, kepala_dinas and admin accounts. Operators log in offline at
  their counter (their hashes reach it through the feed) and are refused here with 403
  ``auth.operator_at_counter``, only after their password was right, so the answer reveals
  nothing to someone guessing.
* **Token**: ``secrets.token_urlsafe(32)`` (256 random bits), given to the client once; the
  database keeps only its SHA-256 (a stolen backup holds no usable token).
* **Expiry**: sliding, :data:`IDLE_MINUTES` (30) after the last authenticated request, and
  never beyond :data:`MAX_HOURS` (12) after login. The expiry is written at most once a
  minute per session (:data:`EXTEND_EVERY`), so reads stay reads.
* **Wrong password and unknown user** answer the same 401 ``auth.invalid_credentials``, and
  an unknown user costs the same scrypt work as a known one.
* **Throttle, never lockout**: each failure of one (username, client IP) blocks that pair for
  1, 2, 4 ... at most 60 seconds (429 ``auth.throttled`` with ``retry_after``); a success
  clears it, and failures are forgotten after :data:`FAILURE_MEMORY` of quiet. Another
  address is never affected, so nobody can lock the Kepala Dinas out from elsewhere.
* **Disabled accounts** cannot log in (403 ``auth.account_disabled``, again only after the
  right password); disabling one deletes its sessions (:func:`end_sessions_of`) and every
  request re-reads the account, so a live token stops working at once.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from protocol.errors import define_messages
from protocol.events import parse_timestamp
from protocol.workflow import Role
from signing.passwords import hash_password, verify_password
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.storage import accounts as account_store
from sync_server.storage import sessions as store
from sync_server.storage.accounts import User
from sync_server.storage.db import Connection, Database

__all__ = [
    "STAFF_ROLES",
    "IDLE_MINUTES",
    "MAX_HOURS",
    "LoginResult",
    "login",
    "verify_credentials",
    "clear_failures",
    "clear_failures_of",
    "logout",
    "authenticate",
    "end_sessions_of",
    "token_hash",
    "throttle_delay",
]

define_messages(
    {
        "auth.invalid_credentials": "Nama pengguna atau kata sandi salah.",
        "auth.operator_at_counter": "Akun operator masuk di aplikasi loket kecamatan, bukan "
        "di server pusat.",
        "auth.account_disabled": "Akun {username} sudah dinonaktifkan. Hubungi admin Dinas.",
        "auth.throttled": "Terlalu banyak percobaan masuk yang gagal untuk akun ini dari "
        "alamat ini. Coba lagi dalam {retry_after} detik.",
        "auth.token_missing": "Silakan masuk terlebih dahulu: permintaan ini memerlukan token "
        "staf (header Authorization: Bearer).",
        "auth.token_invalid": "Sesi tidak dikenal atau sudah keluar; silakan masuk kembali.",
        "auth.token_expired": "Sesi sudah berakhir; silakan masuk kembali.",
        "auth.forbidden_role": "Peran {role} tidak berwenang untuk tindakan ini (hanya: "
        "{allowed}).",
    }
)

STAFF_ROLES: frozenset[Role] = frozenset(
    {Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS, Role.ADMIN}
)
IDLE_MINUTES = 30
MAX_HOURS = 12
EXTEND_EVERY = timedelta(minutes=1)
MAX_DELAY_SECONDS = 60
FAILURE_MEMORY = timedelta(minutes=15)
MAX_USERNAME = 64
MAX_PASSWORD = 1024

_IDLE = timedelta(minutes=IDLE_MINUTES)
_MAX_AGE = timedelta(hours=MAX_HOURS)
# Verified against when the username is unknown, so both answers cost the same time.
_DUMMY_HASH = hash_password("tidak-ada-akun-ini")


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A successful login: the token (shown once) and its account."""

    token: str
    expires_at: str
    user: User


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def throttle_delay(failures: int) -> int:
    """Seconds one (username, IP) must wait after ``failures`` consecutive failures."""
    return min(2 ** max(failures - 1, 0), MAX_DELAY_SECONDS)


def _key(username: str) -> str:
    return username.strip().lower()[:MAX_USERNAME]


def _retry_after(blocked_until: str, now: datetime) -> int:
    return max(1, math.ceil((parse_timestamp(blocked_until) - now).total_seconds()))


def _throttled(retry_after: int) -> Refusal:
    return Refusal(
        "auth.throttled", status=429, extra={"retry_after": retry_after}, retry_after=retry_after
    )


def _check_throttle(db: Database, username: str, client_ip: str, now: datetime) -> None:
    with db.read() as conn:
        row = store.get_failures(conn, username, client_ip)
    if row is not None and parse_timestamp(row.blocked_until) > now:
        raise _throttled(_retry_after(row.blocked_until, now))


def _fail(db: Database, username: str, client_ip: str, now: datetime) -> Refusal:
    """Count one failure and return the refusal to raise (401, or 429 when it raced)."""
    with db.write() as conn:
        store.delete_stale_failures(conn, before=stamp(now - FAILURE_MEMORY))
        row = store.get_failures(conn, username, client_ip)
        if row is not None and parse_timestamp(row.blocked_until) > now:
            # Another attempt of the same pair failed while we hashed: do not count twice.
            return _throttled(_retry_after(row.blocked_until, now))
        failures = 1 if row is None else row.failures + 1
        until = now + timedelta(seconds=throttle_delay(failures))
        store.record_failure(
            conn, username, client_ip, failures=failures, at=stamp(now), blocked_until=stamp(until)
        )
    return Refusal("auth.invalid_credentials", status=401)


def verify_credentials(
    db: Database, *, username: str, password: str, client_ip: str, now: datetime
) -> User:
    """The account whose password this is, under the throttle (see the module doc).
    Blocking (scrypt). Staff login and an operator's scan-key recovery both use it, so
    both count against the same (username, address) pair.

    Raises :class:`Refusal`: 429 ``auth.throttled``, 401 ``auth.invalid_credentials``.
    The caller checks role and state, and clears the failures on success
    (:func:`clear_failures`).
    """
    key = _key(username)
    _check_throttle(db, key, client_ip, now)
    with db.read() as conn:
        user = account_store.user_by_username(conn, key)
    if len(password) > MAX_PASSWORD:
        password = ""  # never feed megabytes to scrypt; still costs the same work below
    matches = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not matches:
        raise _fail(db, key, client_ip, now)
    return user


def clear_failures(conn: Connection, username: str, client_ip: str) -> None:
    """Forget the failures of a pair after a success (inside the caller's write)."""
    store.clear_failures(conn, _key(username), client_ip)


def clear_failures_of(conn: Connection, username: str) -> int:
    """Lift the throttle of an account from every address (its password was reset), inside
    the caller's write; returns how many (username, address) pairs were blocked."""
    return store.clear_failures_of(conn, _key(username))


def login(
    db: Database, *, username: str, password: str, client_ip: str, now: datetime
) -> LoginResult:
    """Check a staff login and open a session. Blocking (scrypt): run in a thread.

    Raises :class:`Refusal`: 429 ``auth.throttled``, 401 ``auth.invalid_credentials``,
    403 ``auth.operator_at_counter`` or ``auth.account_disabled``.
    """
    user = verify_credentials(
        db, username=username, password=password, client_ip=client_ip, now=now
    )
    if user.role not in STAFF_ROLES:
        raise Refusal("auth.operator_at_counter", status=403)
    if not user.is_active:
        raise Refusal("auth.account_disabled", status=403, username=user.username)
    token = secrets.token_urlsafe(32)
    expires = now + _IDLE
    with db.write() as conn:
        clear_failures(conn, username, client_ip)
        store.delete_expired_sessions(conn, now=stamp(now))
        store.insert_session(
            conn,
            store.Session(
                token_hash=token_hash(token),
                user_id=user.user_id,
                created_at=stamp(now),
                expires_at=stamp(expires),
                client_ip=client_ip,
            ),
        )
    return LoginResult(token, stamp(expires), user)


@dataclass(frozen=True, slots=True)
class StaffSession:
    """An authenticated staff request: who, and until when the session lives."""

    user: User
    token_hash: str
    expires_at: str


def authenticate(db: Database, token: str, *, now: datetime) -> StaffSession:
    """The live session of a bearer token, its expiry slid forward. Blocking.

    Raises 401 ``auth.token_invalid`` / ``auth.token_expired`` / ``auth.account_disabled``.
    """
    digest = token_hash(token)
    with db.read() as conn:
        session = store.get_session(conn, digest)
        user = account_store.get_user(conn, session.user_id) if session else None
    if session is None or user is None:
        raise Refusal("auth.token_invalid", status=401)
    expires = parse_timestamp(session.expires_at)
    if expires <= now:
        with db.write() as conn:
            store.delete_session(conn, digest)
        raise Refusal("auth.token_expired", status=401)
    if not user.is_active or user.role not in STAFF_ROLES:
        with db.write() as conn:
            store.delete_sessions_of(conn, user.user_id)
        raise Refusal("auth.account_disabled", status=401, username=user.username)
    wanted = min(now + _IDLE, parse_timestamp(session.created_at) + _MAX_AGE)
    if wanted - expires >= EXTEND_EVERY:
        with db.write() as conn:
            store.extend_session(conn, digest, expires_at=stamp(wanted))
        expires = wanted
    return StaffSession(user, digest, stamp(expires))


def logout(db: Database, session: StaffSession) -> None:
    """End one session (the token stops working at once)."""
    with db.write() as conn:
        store.delete_session(conn, session.token_hash)


def end_sessions_of(conn: Connection, user_id: str) -> int:
    """End every session of an account, inside the caller's write transaction."""
    return store.delete_sessions_of(conn, user_id)
