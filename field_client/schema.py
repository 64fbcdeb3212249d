"""The counter's SQLite schema (version 4) and how a database file is brought up to it.

Tables (all ``STRICT``, so SQLite refuses a value of the wrong type)::

    meta          key TEXT PK, value TEXT
                  "schema_version" = "2"; "server_acked_seq" = highest seq the server holds;
                  "pull_cursor" = cursor of the last server event applied (0 before any)
    device        single row (id = 1): device_id, kecamatan, server_url,
                  server_public_key (b64, pinned at enrollment), public_key (b64, this
                  device's own Ed25519 key, to catch a wrong key file), enrolled_at
    operators     id PK, username UNIQUE, full_name, kecamatan, password_hash (scrypt,
                  signing.passwords), active 0|1, updated_at; filled from the server's pull
    applications  id PK (UUID), state (a protocol.workflow.State), data (JSON of
                  Application.to_dict()), kk_number, applicant_name, search_text (case-folded
                  names, NIKs and KK numbers, one per line, for LIKE search), created_at,
                  updated_at, last_seq (seq of the application's latest outbox event; 0
                  for one received by transfer and not yet touched here), transferred_to
                  (NULL while this device holds it; the device it was moved to, after which
                  it is read-only here), transferred_at
    outbox        seq PK (1, 2, 3 ... per device), hash (of this event, UNIQUE), prev_hash,
                  kind, application_id -> applications.id, operator_id, created_at,
                  wire (canonical JSON of ChangeEvent.to_wire()), status
                  pending|applied|refused, result_code, result_message (the server's answer)
    decisions     id PK, cursor (of the server event that brought it), application_id,
                  action, from_state, to_state, role, actor_id, actor_name, reasons (JSON
                  {"items", "text"} or NULL), at: central decisions, for "returned by the
                  verifier because ..."
    kk_documents  application_id PK, kk_number, document (JSON blob reference), cursor,
                  at (server time): the signed KK the server made
    message_status  message_id PK, application_id, status, at, cursor, purpose, reason:
                  the WhatsApp messages to the applicant, latest status each (purpose and
                  reason: protocol.whatsapp, the server's Indonesian reason of a failure)
    scan_keyring  operator_id PK, wrapped_data_key (the device data key wrapped under a key
                  derived from that operator's password, signing.key_wrap), created_at
    scans         scan_id PK (SHA-256 of the encrypted blob in the scans/ folder), dedup_tag
                  UNIQUE (HMAC of the plaintext under the data key), wrapped_key (the scan
                  key under the data key), media_type, plain_bytes, original_bytes (before
                  recompression), blob_bytes, created_at, uploaded_at (NULL until the server
                  holds the whole blob)
    application_scans  (application_id, scan_id) PK, document (requirement document
                  code), attached_at: which scans an application carries
    whatsapp_inbox  item_id PK (the server's), scan_id, media_type, size, sender,
                  application_id (the sender's pending application, or NULL), received_at,
                  cursor: documents applicants sent by WhatsApp to this kecamatan;
                  attached_to, attached_at (version 6): the application the server says
                  the item went to, from whichever counter or staff member attached it

``device.server_box_key`` (version 3) is the server's X25519 public key that scan keys are
sealed for, learned signed by the pinned server key (NULL until then).
``kk_documents.downloaded_at`` (version 4): when the signed KK's PDF was downloaded whole
and verified (NULL: still to fetch; field_client/sync/downloads.py).

The last three take no foreign key to ``applications``: the server is the authority, and a
signed event about an application this file lacks (restored from an old backup) is kept
rather than refused, because refusing it would stop every later event from being applied.

Versions: 1 (the first field release) had no pull; 2 added the pull cursor, the transfer
columns and the decisions, kk_documents and message_status tables; 3 added the scan tables
and ``device.server_box_key``; 4 ``kk_documents.downloaded_at``; 5 added ``purpose`` and
``reason`` to message_status and the whatsapp_inbox table; 6 ``whatsapp_inbox.attached_to``
and ``attached_at``.
:func:`ensure_schema` migrates an older file in place
(``ALTER TABLE ... ADD COLUMN`` and ``CREATE TABLE`` only: no row is rewritten and the
outbox's triggers stay as they are).

Guards inside SQLite itself, so no code path (today's or a later one) can break the log:

* ``outbox_follows_chain``: an insert must carry seq = last seq + 1 and prev_hash = the last
  event's hash (the genesis hash for seq 1). A fork or a gap cannot be written.
* ``outbox_signed_columns_frozen``: the signed columns of a written event never change; only
  the sync status and the server's answer do.
* ``outbox_keep_unsynced``: a pending event and the chain head are never deleted. Synced
  events may be purged later (retention, design.md §4); the head stays so the chain goes on.

Timestamps are the protocol's form (``2026-11-25T08:49:33.120Z``), which sorts as text.
"""

from __future__ import annotations

from sqlite_utils import Database

from field_client.errors import StoreError
from protocol.events import GENESIS_HASH
from protocol.workflow import State

__all__ = ["SCHEMA_VERSION", "ensure_schema"]


_STATES = ", ".join(f"'{s.value}'" for s in State)

_SCHEMA_V1: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT
    """,
    """
    CREATE TABLE device (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        device_id TEXT NOT NULL,
        kecamatan TEXT NOT NULL,
        server_url TEXT NOT NULL,
        server_public_key TEXT NOT NULL,
        public_key TEXT NOT NULL,
        enrolled_at TEXT NOT NULL
    ) STRICT
    """,
    """
    CREATE TABLE operators (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        full_name TEXT NOT NULL,
        kecamatan TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        active INTEGER NOT NULL CHECK (active IN (0, 1)),
        updated_at TEXT NOT NULL
    ) STRICT
    """,
    f"""
    CREATE TABLE applications (
        id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ({_STATES})),
        data TEXT NOT NULL,
        kk_number TEXT NOT NULL,
        applicant_name TEXT NOT NULL,
        search_text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_seq INTEGER NOT NULL
    ) STRICT
    """,
    "CREATE INDEX applications_by_state ON applications (state, updated_at)",
    "CREATE INDEX applications_by_update ON applications (updated_at)",
    """
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY CHECK (seq >= 1),
        hash TEXT NOT NULL UNIQUE,
        prev_hash TEXT NOT NULL,
        kind TEXT NOT NULL,
        application_id TEXT NOT NULL REFERENCES applications (id),
        operator_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        wire TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'applied', 'refused')),
        result_code TEXT NOT NULL DEFAULT '',
        result_message TEXT NOT NULL DEFAULT ''
    ) STRICT
    """,
    "CREATE INDEX outbox_pending ON outbox (seq) WHERE status = 'pending'",
    "CREATE INDEX outbox_by_application ON outbox (application_id, seq)",
    f"""
    CREATE TRIGGER outbox_follows_chain BEFORE INSERT ON outbox
    WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM outbox), 0) + 1
      OR NEW.prev_hash IS NOT COALESCE(
            (SELECT hash FROM outbox ORDER BY seq DESC LIMIT 1), '{GENESIS_HASH}')
    BEGIN
        SELECT RAISE(ABORT, 'outbox: event does not follow the chain head');
    END
    """,
    """
    CREATE TRIGGER outbox_signed_columns_frozen
    BEFORE UPDATE OF seq, hash, prev_hash, kind, application_id, operator_id, created_at, wire
    ON outbox
    BEGIN
        SELECT RAISE(ABORT, 'outbox: signed columns never change');
    END
    """,
    """
    CREATE TRIGGER outbox_keep_unsynced BEFORE DELETE ON outbox
    WHEN OLD.status = 'pending' OR OLD.seq = (SELECT MAX(seq) FROM outbox)
    BEGIN
        SELECT RAISE(ABORT, 'outbox: pending events and the chain head are kept');
    END
    """,
)


_MIGRATION_V2: tuple[str, ...] = (
    "ALTER TABLE applications ADD COLUMN transferred_to TEXT",
    "ALTER TABLE applications ADD COLUMN transferred_at TEXT",
    """
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        cursor INTEGER NOT NULL,
        application_id TEXT NOT NULL,
        action TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        role TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        reasons TEXT,
        at TEXT NOT NULL
    ) STRICT
    """,
    "CREATE INDEX decisions_by_application ON decisions (application_id, at, id)",
    """
    CREATE TABLE kk_documents (
        application_id TEXT PRIMARY KEY,
        kk_number TEXT NOT NULL,
        document TEXT NOT NULL,
        cursor INTEGER NOT NULL,
        at TEXT NOT NULL
    ) STRICT
    """,
    """
    CREATE TABLE message_status (
        message_id TEXT PRIMARY KEY,
        application_id TEXT NOT NULL,
        status TEXT NOT NULL,
        at TEXT NOT NULL,
        cursor INTEGER NOT NULL
    ) STRICT
    """,
    "CREATE INDEX message_status_by_application ON message_status (application_id)",
    "INSERT INTO meta (key, value) VALUES ('pull_cursor', '0')",
)

_MIGRATION_SCANS: tuple[str, ...] = (
    "ALTER TABLE device ADD COLUMN server_box_key TEXT",
    """
    CREATE TABLE scan_keyring (
        operator_id TEXT PRIMARY KEY,
        wrapped_data_key TEXT NOT NULL,
        created_at TEXT NOT NULL
    ) STRICT
    """,
    """
    CREATE TABLE scans (
        scan_id TEXT PRIMARY KEY CHECK (length(scan_id) = 64),
        dedup_tag TEXT NOT NULL UNIQUE,
        wrapped_key TEXT NOT NULL,
        media_type TEXT NOT NULL
            CHECK (media_type IN ('image/jpeg', 'image/png', 'application/pdf')),
        plain_bytes INTEGER NOT NULL CHECK (plain_bytes > 0),
        original_bytes INTEGER NOT NULL CHECK (original_bytes > 0),
        blob_bytes INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        uploaded_at TEXT
    ) STRICT
    """,
    "CREATE INDEX scans_not_uploaded ON scans (created_at) WHERE uploaded_at IS NULL",
    """
    CREATE TABLE application_scans (
        application_id TEXT NOT NULL REFERENCES applications (id),
        scan_id TEXT NOT NULL REFERENCES scans (scan_id),
        document TEXT NOT NULL,
        attached_at TEXT NOT NULL,
        PRIMARY KEY (application_id, scan_id)
    ) STRICT
    """,
    "CREATE INDEX application_scans_by_scan ON application_scans (scan_id)",
)

_MIGRATION_DOWNLOADS: tuple[str, ...] = ("ALTER TABLE kk_documents ADD COLUMN downloaded_at TEXT",)
_MIGRATION_WHATSAPP: tuple[str, ...] = (
    "ALTER TABLE message_status ADD COLUMN purpose TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE message_status ADD COLUMN reason TEXT NOT NULL DEFAULT ''",
    """
    CREATE TABLE whatsapp_inbox (
        item_id INTEGER PRIMARY KEY,
        scan_id TEXT NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sender TEXT NOT NULL,
        application_id TEXT,
        received_at TEXT NOT NULL,
        cursor INTEGER NOT NULL
    ) STRICT
    """,
)

# Which application an inbox item went to, as the server said (``inbox.attached``): another
# counter of the kecamatan, or staff, may have taken it.
_MIGRATION_INBOX_ATTACHED: tuple[str, ...] = (
    "ALTER TABLE whatsapp_inbox ADD COLUMN attached_to TEXT",
    "ALTER TABLE whatsapp_inbox ADD COLUMN attached_at TEXT",
)

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    _SCHEMA_V1,
    _MIGRATION_V2,
    _MIGRATION_SCANS,
    _MIGRATION_DOWNLOADS,
    _MIGRATION_WHATSAPP,
    _MIGRATION_INBOX_ATTACHED,
)
"""``_MIGRATIONS[i]`` brings a file from version ``i`` to ``i + 1`` (0: an empty file)."""

SCHEMA_VERSION = len(_MIGRATIONS)


def ensure_schema(db: Database) -> None:
    """Create the schema in an empty file, migrate an older one, refuse a newer one.

    Runs in its own ``BEGIN IMMEDIATE`` transaction so two processes opening a file at the
    same moment cannot both create or migrate it, and a migration interrupted by a crash
    leaves the file at its old version, whole.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        if "meta" not in db.table_names():
            found = 0
        else:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            found = int(row[0]) if row else 0
            if found > SCHEMA_VERSION:
                raise StoreError.of("store.schema_too_new", found=found, known=SCHEMA_VERSION)
            if found < 1:
                # meta exists but names no version: not a file this application made.
                raise StoreError.of("store.schema_unknown", found=found)
        for statements in _MIGRATIONS[found:]:
            for statement in statements:
                db.execute(statement)
        if found < SCHEMA_VERSION:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [str(SCHEMA_VERSION)],
            )
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
