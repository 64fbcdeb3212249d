"""The server's SQLite database: schema, migrations and connection handling.

One file, ``server.db``, in WAL mode (readers never block the writer) with
``synchronous=FULL`` (a committed push survives a power cut: the counter may delete what the
server acknowledged) and a busy timeout (the CLI and the server write the same file).

Writes go through :meth:`Database.write`: a process-wide lock plus ``BEGIN IMMEDIATE``, so
one writer at a time within the server and against other processes, and a transaction that
either commits whole or leaves nothing. Every connection is opened for one unit of work and
closed after it; callers run that work in a worker thread, never on the event loop.

Times are stored as text in the protocol's UTC form (``2026-11-25T08:49:33.120Z``), which
sorts chronologically. Schema (version :data:`SCHEMA_VERSION`)::

    enroll_codes        one-time device enrollment codes (only the SHA-256 of each code)
    devices             enrolled counters: kecamatan, Ed25519 public key, revoked_at
    users               operator and staff accounts (scrypt hashes), disabled_at
    request_nonces      nonces of accepted signed requests until they leave the clock window
    events              every accepted change-log event per (device_id, seq) with its hash,
                        wire JSON and outcome (applied / refused + code, message, params)
    applications        current state, owner device and snapshot of each application
    application_events  audit trail of applied moves: who, device and server time, reasons;
                        device_id and seq are NULL for a central decision (no device made it)
    feed                the signed server events each device pulls: cursor (AUTOINCREMENT,
                        never reused), audience device, kind, application, wire JSON
    transfers           each move of an application from one counter device to another
    forks               conflicting events seen for an already-stored (device_id, seq)
    refusals            every refused request or batch (code, status, device, ip), for admins
    staff_sessions      staff login tokens (only the SHA-256 of each), user, expiry, client IP
    login_failures      failed staff logins per (username, client IP): count and blocked_until
    access_log          hash-chained audit of every staff read of personal data and every
                        central decision: seq, time, actor, role, client IP, action,
                        application, detail, prev_hash, hash
                        (:mod:`sync_server.services.access_log`)
    kk_numbers          every KK number ever allocated or taken over, never reused: source
                        (demo / siak / existing), kecamatan, first application
    kk_serials          the demo allocator's last serial per (kecamatan, day)
    kk_number_entries   the KK number SIAK issued for an application, entered by staff
    application_kk_numbers  the one KK number each application was given (at signing)
    kk_documents        every signed KK: unguessable verification token, number, SHA-256 of
                        the stored PDF, signer, signing time, superseded_at/by
    archives            the one immutable archive package per archived application
    scans               one row per scan blob a counter announced: uploader device, length,
                        bytes received so far, arriving / complete, and once complete the
                        type, plaintext length and SHA-256 (:mod:`sync_server.storage.scans`)
    application_scans   which scans each application carries (from ``scan.attached``
                        events: device, seq, operator, document code)
    whatsapp_outbox     every WhatsApp message to an applicant, persisted before sending:
                        purpose, recipient, status, attempts, next attempt, the Cloud API's
                        message id, last error code and reason
                        (:mod:`sync_server.services.whatsapp`)
    whatsapp_contacts   when each number last wrote to the office (the 24-hour window)
    admin_alerts        what an admin must act on (e.g. an expired WhatsApp token)
    whatsapp_inbox      documents applicants sent to the office number: sender, kecamatan
                        (NULL: the central inbox), pending/stored/refused, the encrypted
                        scan's id, type and size, the application it was attached to
    claims              who works on an application's current central step, and who
                        assigned it (:mod:`sync_server.services.claims`)
    application_niks    each application's members' NIKs (indexed by NIK) and names
    duplicate_flags     NIKs found at submission in another open application or in the
                        current issued KK of another family
                        (:mod:`sync_server.services.duplicates`)
    siak_entries        that an approved application was entered into SIAK: SIAK's
                        reference, who, when, from where (:mod:`sync_server.services.siak`)

Version 2 added ``feed`` and ``transfers`` and rebuilt ``application_events`` with nullable
``device_id``/``seq`` (SQLite cannot drop a NOT NULL in place); a version-1 file is migrated
in one transaction on open. Version 3 added ``staff_sessions``, ``login_failures`` and an
index of applications by state (the work queues). Version 4 added ``access_log``. Version 5
added the KK number registry, the signed KK documents and the archive packages; version 6
``scans`` and ``application_scans``.
Version 7 added ``whatsapp_outbox``, ``whatsapp_contacts`` and ``admin_alerts``; version 8
``whatsapp_inbox``; version 9 ``claims``, ``application_niks`` (filled from the stored
snapshots) and ``duplicate_flags``; version 10 ``siak_entries``; version 11
``whatsapp_outbox.resent_as``.

The server's signing key is not in the database, but the feed needs it inside the same
write transaction as the change it reports. So a :class:`Database` knows where its key is
(``key_path``, loaded on first use) or holds it (``server_key``, loaded once at start-up by
the server), and every connection it opens points back at it
(:attr:`Connection.database`), so a service handed only a connection can still sign.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signing.keys import load_private_key

__all__ = ["Database", "Connection", "UpgradeHook", "SCHEMA_VERSION"]

_SCHEMA_V1 = (
    """
    CREATE TABLE enroll_codes (
        code_hash   TEXT PRIMARY KEY,
        kecamatan   TEXT NOT NULL,
        label       TEXT NOT NULL DEFAULT '',
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        used_at     TEXT,
        device_id   TEXT
    )
    """,
    """
    CREATE TABLE devices (
        device_id    TEXT PRIMARY KEY,
        kecamatan    TEXT NOT NULL,
        label        TEXT NOT NULL DEFAULT '',
        public_key   TEXT NOT NULL UNIQUE,
        enrolled_at  TEXT NOT NULL,
        enrolled_ip  TEXT NOT NULL DEFAULT '',
        revoked_at   TEXT
    )
    """,
    """
    CREATE TABLE users (
        user_id        TEXT PRIMARY KEY,
        username       TEXT NOT NULL UNIQUE,
        full_name      TEXT NOT NULL,
        role           TEXT NOT NULL,
        kecamatan      TEXT,
        password_hash  TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        disabled_at    TEXT,
        CHECK ((role = 'operator') = (kecamatan IS NOT NULL))
    )
    """,
    """
    CREATE TABLE request_nonces (
        device_id   TEXT NOT NULL,
        nonce       TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        PRIMARY KEY (device_id, nonce)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX request_nonces_expiry ON request_nonces (expires_at)",
    """
    CREATE TABLE events (
        device_id       TEXT NOT NULL REFERENCES devices (device_id),
        seq             INTEGER NOT NULL CHECK (seq >= 1),
        hash            TEXT NOT NULL,
        prev_hash       TEXT NOT NULL,
        kind            TEXT NOT NULL,
        application_id  TEXT NOT NULL,
        operator_id     TEXT NOT NULL,
        device_time     TEXT NOT NULL,
        received_at     TEXT NOT NULL,
        wire            TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('applied', 'refused')),
        code            TEXT,
        message         TEXT,
        params          TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (device_id, seq)
    )
    """,
    "CREATE INDEX events_application ON events (application_id)",
    """
    CREATE TABLE applications (
        application_id   TEXT PRIMARY KEY,
        owner_device_id  TEXT NOT NULL REFERENCES devices (device_id),
        kecamatan        TEXT NOT NULL,
        state            TEXT NOT NULL,
        snapshot         TEXT NOT NULL,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE application_events (
        id              INTEGER PRIMARY KEY,
        application_id  TEXT NOT NULL REFERENCES applications (application_id),
        device_id       TEXT NOT NULL,
        seq             INTEGER NOT NULL,
        actor_id        TEXT NOT NULL,
        role            TEXT NOT NULL,
        action          TEXT NOT NULL,
        from_state      TEXT,
        to_state        TEXT NOT NULL,
        reasons         TEXT,
        device_time     TEXT NOT NULL,
        server_time     TEXT NOT NULL
    )
    """,
    "CREATE INDEX application_events_app ON application_events (application_id, id)",
    """
    CREATE TABLE forks (
        id              INTEGER PRIMARY KEY,
        detected_at     TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        seq             INTEGER NOT NULL,
        stored_hash     TEXT NOT NULL,
        received_hash   TEXT NOT NULL,
        received_event  TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE refusals (
        id          INTEGER PRIMARY KEY,
        at          TEXT NOT NULL,
        client_ip   TEXT NOT NULL,
        device_id   TEXT,
        method      TEXT NOT NULL,
        path        TEXT NOT NULL,
        status      INTEGER NOT NULL,
        code        TEXT NOT NULL,
        seq         INTEGER
    )
    """,
)

_TRAIL_COLUMNS = (
    "id, application_id, device_id, seq, actor_id, role, action, from_state, to_state, "
    "reasons, device_time, server_time"
)

_SCHEMA_V2 = (
    """
    CREATE TABLE feed (
        cursor          INTEGER PRIMARY KEY AUTOINCREMENT,
        audience        TEXT NOT NULL REFERENCES devices (device_id),
        kind            TEXT NOT NULL,
        application_id  TEXT,
        wire            TEXT NOT NULL,
        created_at      TEXT NOT NULL
    )
    """,
    "CREATE INDEX feed_by_audience ON feed (audience, cursor)",
    "CREATE INDEX feed_by_application ON feed (application_id, kind, cursor)",
    """
    CREATE TABLE transfers (
        id              INTEGER PRIMARY KEY,
        application_id  TEXT NOT NULL REFERENCES applications (application_id),
        from_device_id  TEXT NOT NULL REFERENCES devices (device_id),
        to_device_id    TEXT NOT NULL REFERENCES devices (device_id),
        state           TEXT NOT NULL,
        at              TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE application_events_v2 (
        id              INTEGER PRIMARY KEY,
        application_id  TEXT NOT NULL REFERENCES applications (application_id),
        device_id       TEXT,
        seq             INTEGER,
        actor_id        TEXT NOT NULL,
        role            TEXT NOT NULL,
        action          TEXT NOT NULL,
        from_state      TEXT,
        to_state        TEXT NOT NULL,
        reasons         TEXT,
        device_time     TEXT NOT NULL,
        server_time     TEXT NOT NULL,
        CHECK ((device_id IS NULL) = (seq IS NULL))
    )
    """,
    f"INSERT INTO application_events_v2 ({_TRAIL_COLUMNS}) "
    f"SELECT {_TRAIL_COLUMNS} FROM application_events",
    "DROP TABLE application_events",
    "ALTER TABLE application_events_v2 RENAME TO application_events",
    "CREATE INDEX application_events_app ON application_events (application_id, id)",
)

_SCHEMA_V3 = (
    """
    CREATE TABLE staff_sessions (
        token_hash    TEXT PRIMARY KEY,
        user_id       TEXT NOT NULL REFERENCES users (user_id),
        created_at    TEXT NOT NULL,
        expires_at    TEXT NOT NULL,
        client_ip     TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID
    """,
    "CREATE INDEX staff_sessions_user ON staff_sessions (user_id)",
    "CREATE INDEX staff_sessions_expiry ON staff_sessions (expires_at)",
    """
    CREATE TABLE login_failures (
        username       TEXT NOT NULL,
        client_ip      TEXT NOT NULL,
        failures       INTEGER NOT NULL CHECK (failures >= 1),
        last_failure   TEXT NOT NULL,
        blocked_until  TEXT NOT NULL,
        PRIMARY KEY (username, client_ip)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX applications_state ON applications (state)",
)

_SCHEMA_V4 = (
    """
    CREATE TABLE access_log (
        seq             INTEGER PRIMARY KEY CHECK (seq >= 1),
        at              TEXT NOT NULL,
        actor_id        TEXT NOT NULL,
        role            TEXT NOT NULL,
        client_ip       TEXT NOT NULL,
        action          TEXT NOT NULL,
        application_id  TEXT,
        detail          TEXT NOT NULL DEFAULT '',
        prev_hash       TEXT NOT NULL,
        hash            TEXT NOT NULL
    )
    """,
    "CREATE INDEX access_log_application ON access_log (application_id, seq)",
)

_SCHEMA_KK_DOCUMENTS = (
    """
    CREATE TABLE kk_numbers (
        kk_number             TEXT PRIMARY KEY CHECK (length(kk_number) = 16),
        kecamatan             TEXT NOT NULL,
        source                TEXT NOT NULL CHECK (source IN ('demo', 'siak', 'existing')),
        first_application_id  TEXT NOT NULL,
        registered_at         TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE kk_serials (
        kecamatan    TEXT NOT NULL,
        day          TEXT NOT NULL,
        last_serial  INTEGER NOT NULL CHECK (last_serial BETWEEN 1 AND 9999),
        PRIMARY KEY (kecamatan, day)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE kk_number_entries (
        application_id  TEXT PRIMARY KEY REFERENCES applications (application_id),
        kk_number       TEXT NOT NULL UNIQUE,
        entered_by      TEXT NOT NULL,
        entered_at      TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE application_kk_numbers (
        application_id  TEXT PRIMARY KEY REFERENCES applications (application_id),
        kk_number       TEXT NOT NULL REFERENCES kk_numbers (kk_number),
        new_family      INTEGER NOT NULL CHECK (new_family IN (0, 1)),
        assigned_at     TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE kk_documents (
        id              INTEGER PRIMARY KEY,
        token           TEXT NOT NULL UNIQUE,
        kk_number       TEXT NOT NULL REFERENCES kk_numbers (kk_number),
        application_id  TEXT NOT NULL UNIQUE REFERENCES applications (application_id),
        sha256          TEXT NOT NULL,
        size            INTEGER NOT NULL,
        signer          TEXT NOT NULL,
        signed_at       TEXT NOT NULL,
        issued_on       TEXT NOT NULL,
        superseded_at   TEXT,
        superseded_by   INTEGER REFERENCES kk_documents (id)
    )
    """,
    "CREATE INDEX kk_documents_number ON kk_documents (kk_number, id)",
    """
    CREATE TABLE archives (
        application_id   TEXT PRIMARY KEY REFERENCES applications (application_id),
        sha256           TEXT NOT NULL,
        size             INTEGER NOT NULL,
        manifest_sha256  TEXT NOT NULL,
        created_at       TEXT NOT NULL
    ) WITHOUT ROWID
    """,
)

_SCHEMA_SCANS = (
    """
    CREATE TABLE scans (
        scan_id         TEXT PRIMARY KEY,
        device_id       TEXT NOT NULL REFERENCES devices (device_id),
        blob_bytes      INTEGER NOT NULL CHECK (blob_bytes > 0),
        received_bytes  INTEGER NOT NULL DEFAULT 0,
        status          TEXT NOT NULL DEFAULT 'arriving'
                        CHECK (status IN ('arriving', 'complete')),
        media_type      TEXT,
        plain_bytes     INTEGER,
        plain_sha256    TEXT,
        created_at      TEXT NOT NULL,
        touched_at      TEXT NOT NULL,
        completed_at    TEXT,
        CHECK (received_bytes BETWEEN 0 AND blob_bytes)
    )
    """,
    "CREATE INDEX scans_arriving ON scans (touched_at) WHERE status = 'arriving'",
    "CREATE INDEX scans_by_content ON scans (plain_sha256)",
    """
    CREATE TABLE application_scans (
        application_id  TEXT NOT NULL REFERENCES applications (application_id),
        scan_id         TEXT NOT NULL REFERENCES scans (scan_id),
        document        TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        seq             INTEGER NOT NULL,
        operator_id     TEXT NOT NULL,
        attached_at     TEXT NOT NULL,
        PRIMARY KEY (application_id, scan_id)
    )
    """,
    "CREATE INDEX application_scans_by_scan ON application_scans (scan_id)",
)

_SCHEMA_WHATSAPP = (
    """
    CREATE TABLE whatsapp_outbox (
        id               TEXT PRIMARY KEY,
        application_id   TEXT NOT NULL REFERENCES applications (application_id),
        purpose          TEXT NOT NULL,
        recipient        TEXT NOT NULL,
        params           TEXT NOT NULL DEFAULT '{}',
        status           TEXT NOT NULL,
        use_template     INTEGER NOT NULL DEFAULT 0,
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT NOT NULL,
        provider_id      TEXT,
        media_id         TEXT,
        error_code       TEXT,
        reason           TEXT NOT NULL DEFAULT '',
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL
    )
    """,
    "CREATE INDEX whatsapp_outbox_due ON whatsapp_outbox (status, next_attempt_at)",
    "CREATE INDEX whatsapp_outbox_application ON whatsapp_outbox (application_id, created_at)",
    "CREATE INDEX whatsapp_outbox_provider ON whatsapp_outbox (provider_id)",
    """
    CREATE TABLE whatsapp_contacts (
        phone            TEXT PRIMARY KEY,
        last_inbound_at  TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE admin_alerts (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        source  TEXT NOT NULL,
        code    TEXT NOT NULL,
        detail  TEXT NOT NULL DEFAULT ''
    )
    """,
)

_SCHEMA_WHATSAPP_INBOX = (
    """
    CREATE TABLE whatsapp_inbox (
        id               INTEGER PRIMARY KEY,
        provider_id      TEXT NOT NULL UNIQUE,
        sender           TEXT NOT NULL,
        kind             TEXT NOT NULL,
        media_id         TEXT NOT NULL,
        declared_type    TEXT NOT NULL DEFAULT '',
        filename         TEXT NOT NULL DEFAULT '',
        kecamatan        TEXT,
        application_id   TEXT,
        status           TEXT NOT NULL CHECK (status IN ('pending', 'stored', 'refused')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT NOT NULL,
        scan_id          TEXT,
        media_type       TEXT,
        size             INTEGER,
        reason           TEXT NOT NULL DEFAULT '',
        received_at      TEXT NOT NULL,
        stored_at        TEXT,
        attached_to      TEXT,
        attached_by      TEXT,
        attached_at      TEXT
    )
    """,
    "CREATE INDEX whatsapp_inbox_due ON whatsapp_inbox (status, next_attempt_at)",
    "CREATE INDEX whatsapp_inbox_kecamatan ON whatsapp_inbox (kecamatan, id)",
)

# Claims (who works on an application's current step), the members' NIKs of every
# application (indexed: the duplicate check at submission looks them up) filled from the
# stored snapshots, and the duplicate flags raised at submission.
_SCHEMA_CLAIMS_DUPLICATES = (
    """
    CREATE TABLE claims (
        application_id  TEXT PRIMARY KEY REFERENCES applications (application_id),
        user_id         TEXT NOT NULL REFERENCES users (user_id),
        state           TEXT NOT NULL,
        claimed_at      TEXT NOT NULL,
        assigned_by     TEXT NOT NULL REFERENCES users (user_id)
    )
    """,
    """
    CREATE TABLE application_niks (
        application_id  TEXT NOT NULL REFERENCES applications (application_id),
        nik             TEXT NOT NULL,
        member_name     TEXT NOT NULL,
        PRIMARY KEY (application_id, nik)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX application_niks_nik ON application_niks (nik)",
    """
    INSERT OR IGNORE INTO application_niks (application_id, nik, member_name)
    SELECT a.application_id, json_extract(m.value, '$.nik'),
           coalesce(json_extract(m.value, '$.nama'), '')
      FROM applications a, json_each(a.snapshot, '$.members') m
     WHERE json_type(m.value, '$.nik') = 'text' AND json_extract(m.value, '$.nik') != ''
    """,
    """
    CREATE TABLE duplicate_flags (
        application_id        TEXT NOT NULL REFERENCES applications (application_id),
        nik                   TEXT NOT NULL,
        member_name           TEXT NOT NULL,
        other_application_id  TEXT NOT NULL REFERENCES applications (application_id),
        kind                  TEXT NOT NULL CHECK (kind IN ('open_application', 'issued_kk')),
        other_state           TEXT NOT NULL,
        other_kk_number       TEXT NOT NULL,
        other_member_name     TEXT NOT NULL,
        flagged_at            TEXT NOT NULL,
        PRIMARY KEY (application_id, nik, other_application_id)
    ) WITHOUT ROWID
    """,
)

# That an approved application was entered into SIAK: who, when, SIAK's reference.
_SCHEMA_SIAK = (
    """
    CREATE TABLE siak_entries (
        application_id  TEXT PRIMARY KEY REFERENCES applications (application_id),
        reference       TEXT NOT NULL,
        entered_by      TEXT NOT NULL REFERENCES users (user_id),
        entered_at      TEXT NOT NULL,
        client_ip       TEXT NOT NULL
    )
    """,
)

# Which new message re-sent a failed one: set once, in the transaction that queues the new
# message, so a second re-send of the same message (CLI, staff or another counter) is refused.
# Messages re-sent before the column existed point at themselves: which new row re-sent
# them was never recorded, but that they were re-sent was (the applied events).
_SCHEMA_OUTBOX_RESENT = (
    "ALTER TABLE whatsapp_outbox ADD COLUMN resent_as TEXT",
    """
    UPDATE whatsapp_outbox SET resent_as = id WHERE id IN (
        SELECT json_extract(wire, '$.body.message_id') FROM events
        WHERE kind = 'message.resend' AND status = 'applied'
    )
    """,
)

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    _SCHEMA_V1,
    _SCHEMA_V2,
    _SCHEMA_V3,
    _SCHEMA_V4,
    _SCHEMA_KK_DOCUMENTS,
    _SCHEMA_SCANS,
    _SCHEMA_WHATSAPP,
    _SCHEMA_WHATSAPP_INBOX,
    _SCHEMA_CLAIMS_DUPLICATES,
    _SCHEMA_SIAK,
    _SCHEMA_OUTBOX_RESENT,
)
"""Statements that bring the schema from version i to i + 1."""

SCHEMA_VERSION = len(_MIGRATIONS)


class Connection(sqlite3.Connection):
    """A connection opened by :class:`Database`, pointing back at it (for the server key)."""

    database: Database


UpgradeHook = Callable[[Connection, int, int], None]
"""Called as ``hook(conn, from_version, to_version)`` after an upgrade's statements ran."""


class Database:
    """The server database file; cheap to construct, opens connections on demand.

    Args:
        path: the ``server.db`` file.
        busy_timeout_ms: how long a connection waits for another writer.
        key_path: the server's key file, loaded on the first :meth:`server_key` call.
        server_key: the key itself, already loaded (the server's start-up does this once).
    """

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_ms: int = 5000,
        key_path: Path | None = None,
        server_key: Ed25519PrivateKey | None = None,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.key_path = key_path
        self._server_key = server_key
        self._write_lock = threading.Lock()
        self._key_lock = threading.Lock()
        self._writer: Connection | None = None

    def server_key(self) -> Ed25519PrivateKey:
        """The key that signs the feed; loaded from ``key_path`` once, then kept.

        Raises :class:`signing.keys.KeyFileError` for a missing or unsafe key file, and
        ``RuntimeError`` when this database was built without any key (a programming error).
        """
        with self._key_lock:
            if self._server_key is None:
                if self.key_path is None:
                    raise RuntimeError(f"no server key configured for {self.path}")
                self._server_key = load_private_key(self.key_path)
            return self._server_key

    def close(self) -> None:
        """Close the shared write connection (the app's lifespan calls this at shutdown)."""
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def connect(self, *, shared: bool = False) -> Connection:
        """A new connection in autocommit mode (transactions are explicit) with our pragmas.

        ``shared`` allows use from several threads (one at a time, under a lock).
        """
        conn = sqlite3.connect(
            self.path,
            isolation_level=None,
            timeout=self.busy_timeout_ms / 1000,
            factory=Connection,
            check_same_thread=not shared,
        )
        conn.database = self
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads; each statement sees a consistent snapshot."""
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._write_lock:
            # One connection serves every write of this process: opening and closing one
            # per push cost more than the push's own statements (and a last close may
            # checkpoint the WAL on the request path).
            if self._writer is None:
                self._writer = self.connect(shared=True)
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # ROLLBACK or COMMIT itself failed: start afresh
                    self._writer = None
                    conn.close()
                raise

    def migrate(self, *, on_upgrade: UpgradeHook | None = None) -> int:
        """Create or upgrade the schema (idempotent); returns the schema version.

        ``on_upgrade(conn, found, SCHEMA_VERSION)`` runs inside the migration's transaction
        when a file of an older version (``found`` >= 1) was upgraded: for data that SQL
        alone cannot produce (the signed feed, :mod:`sync_server.context`).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self.connect()
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"SQLite WAL mode unavailable for {self.path} ({mode})")
        finally:
            conn.close()
        with self.write() as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema {version}; this server knows up to {SCHEMA_VERSION}"
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    conn.execute(statement)
            if on_upgrade is not None and 1 <= version < SCHEMA_VERSION:
                on_upgrade(conn, version, SCHEMA_VERSION)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return SCHEMA_VERSION

    def schema_version(self) -> int:
        with self.read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
