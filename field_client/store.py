"""The counter's local store: one SQLite file holding applications and the signed outbox.

A kecamatan counter works without network, so this file is the counter's whole truth until
it syncs. It is opened in WAL mode with ``synchronous=FULL`` (kecamatan offices lose power:
a commit that returned is on disk), a busy timeout (the screens and the sync engine may
share the file) and foreign keys on. The schema, with the guards that keep the change log a
chain, is in :mod:`field_client.schema`.

Writes go through :meth:`Store.transaction`, one ``BEGIN IMMEDIATE ... COMMIT`` that yields
a :class:`Transaction`: only that object can change applications or append to the outbox,
so a state change and its event are always written together (or not at all, after a crash
or an error). Operator actions that use it live in :mod:`field_client.actions`.

The driver's implicit transactions are switched off (``isolation_level=None``): every
transaction here is explicit, so none can silently widen or commit early.

The server's side of the conversation arrives by pull: :meth:`Store.apply_server_events`
checks and applies a page of signed server events in one transaction and moves the pull
cursor (:meth:`Store.pull_cursor`) with them; what each kind does is in
:mod:`field_client.server_feed`.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlite_utils import Database

from field_client import scans as scan_files
from field_client.errors import (
    DeviceAlreadyEnrolled,
    DeviceNotEnrolled,
    PushResultError,
    ScanError,
    StoreError,
)
from field_client.scans import (
    SCAN_COLUMNS,
    AttachedScan,
    DataKey,
    DocumentFolder,
    ScanFolder,
    ScanInfo,
)
from field_client.schema import ensure_schema
from protocol.application import Application
from protocol.canonical import canonical_json
from protocol.events import GENESIS_HASH, ChangeEvent, format_timestamp, parse_timestamp
from protocol.server_events import ServerEvent
from protocol.whatsapp import DeliveryStatus
from protocol.workflow import Action, Reasons, Role, State
from signing.events import verify_server_event
from signing.keys import load_public_key_b64
from signing.passwords import verify_password
from signing.scan_cipher import encrypt_scan, open_scan
from signing.sealed_box import load_box_public_b64

__all__ = [
    "BUSY_TIMEOUT_MS",
    "Store",
    "Transaction",
    "Device",
    "Operator",
    "StoredApplication",
    "ApplicationSummary",
    "OutboxEntry",
    "Decision",
    "KKDocument",
    "MessageStatus",
    "InboxDocument",
    "SyncStatus",
    "ChainHead",
    "search_text",
    "DataKey",
    "AttachedScan",
    "ScanInfo",
]

BUSY_TIMEOUT_MS = 5000
"""How long a writer waits for another one. Transactions here last milliseconds; five
seconds only runs out when something is stuck, and then an error beats a frozen screen."""

# A well-formed scrypt hash of a random password nobody knows, with today's parameters:
# verifying against it costs as much as a real check, so "unknown user" and "wrong password"
# take the same time and a login screen does not reveal which usernames exist.
_DUMMY_PASSWORD_HASH = (
    "scrypt$15$8$1$Zm9yLXRpbWluZy1vbmx5AA==$bm8tb25lLWtub3dzLXRoaXMtcGFzc3dvcmQtLS0tLS0="
)


class SyncStatus(enum.StrEnum):
    """Where an outbox event stands with the server."""

    PENDING = "pending"
    """Written here, not yet answered by the server."""
    APPLIED = "applied"
    """The server applied it."""
    REFUSED = "refused"
    """The server kept it in the chain but refused its effect (code and message say why)."""


class ChainHead(NamedTuple):
    """The last event of the log: the next event has ``seq + 1`` and ``prev_hash = hash``."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class Device:
    """This counter's enrollment: who it is to the server and which server it trusts."""

    device_id: str
    kecamatan: str
    server_url: str
    server_public_key: str
    """The server's Ed25519 public key (base64), pinned at enrollment."""
    public_key: str
    """This device's own Ed25519 public key (base64)."""
    enrolled_at: str


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator account of this kecamatan, as pulled from the server."""

    id: str
    username: str
    full_name: str
    kecamatan: str
    password_hash: str = field(repr=False)
    active: bool
    updated_at: str


@dataclass(frozen=True, slots=True)
class StoredApplication:
    """An application as this counter holds it."""

    application: Application
    state: State
    created_at: str
    updated_at: str
    last_seq: int
    """Seq of the latest outbox event about this application (0: none yet, e.g. received
    by transfer)."""
    transferred_to: str | None = None
    """The device the server moved this application to; set, it is read-only here."""

    @property
    def read_only(self) -> bool:
        """True once the server moved the application to another device."""
        return self.transferred_to is not None


@dataclass(frozen=True, slots=True)
class ApplicationSummary:
    """One line of a list or a search result."""

    id: str
    state: State
    applicant_name: str
    kk_number: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outbox event with what the server answered about it."""

    event: ChangeEvent
    status: SyncStatus
    result_code: str
    result_message: str


@dataclass(frozen=True, slots=True)
class Decision:
    """A central decision about an application, as the server reported it on pull."""

    cursor: int
    """The server event that brought it (a transfer brings several at once)."""
    application_id: str
    action: Action
    from_state: State
    to_state: State
    role: Role
    actor_id: str
    actor_name: str
    reasons: Reasons | None
    at: str
    """Server time of the decision."""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, cursor: int, application_id: str) -> Decision:
        """From a decision body as the server sends it (``reasons`` an object or null); the
        feed and the stored rows both use this form."""
        reasons = data["reasons"]
        return cls(
            cursor=cursor,
            application_id=application_id,
            action=Action(data["action"]),
            from_state=State(data["from_state"]),
            to_state=State(data["to_state"]),
            role=Role(data["role"]),
            actor_id=data["actor_id"],
            actor_name=data["actor_name"],
            reasons=None
            if reasons is None
            else Reasons(items=tuple(reasons.get("items", ())), text=reasons.get("text", "")),
            at=data["at"],
        )


@dataclass(frozen=True, slots=True)
class KKDocument:
    """The signed KK the server made for an application."""

    application_id: str
    kk_number: str
    document: Mapping[str, Any]
    """The server's reference to the PDF blob (hash, size...), as sent."""
    cursor: int
    at: str
    downloaded_at: str | None = None
    """When this counter downloaded and verified the PDF (``None``: not yet here)."""


@dataclass(frozen=True, slots=True)
class MessageStatus:
    """The latest status of one WhatsApp message to the applicant."""

    message_id: str
    application_id: str
    status: str
    """``queued``, ``sent``, ``delivered``, ``read``, ``failed`` or ``unknown`` ("perlu
    dicek"), as the server reports it (:class:`protocol.whatsapp.DeliveryStatus`)."""
    at: str
    cursor: int
    purpose: str = ""
    """Why it was sent (:class:`protocol.whatsapp.MessagePurpose`)."""
    reason: str = ""
    """The server's Indonesian explanation of a failure or of "perlu dicek"."""

    @property
    def label(self) -> str:
        """The status in Bahasa Indonesia, as the operator reads it."""
        try:
            return DeliveryStatus(self.status).label
        except ValueError:  # a newer server's status: show it as sent
            return self.status


@dataclass(frozen=True, slots=True)
class InboxDocument:
    """A document an applicant sent to the office number by WhatsApp (the server keeps it
    encrypted as scan ``scan_id``)."""

    item_id: int
    scan_id: str
    media_type: str
    size: int
    sender: str
    """The sender's WhatsApp number (E.164)."""
    application_id: str | None
    """The sender's pending application, when the server found one."""
    received_at: str
    cursor: int


def search_text(app: Application) -> str:
    """What search matches: names, NIKs and KK numbers, case-folded, one per line.

    One value per line so that a query never matches across two fields.
    """
    values = [app.applicant.nama, app.applicant.nik, app.applicant.kk_number, app.kk_number]
    for member in app.members:
        values += [member.nama, member.nik]
    return "\n".join(_fold(v) for v in values if v)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _search_pattern(query: str) -> str:
    folded = _fold(query)
    # Numbers are often read out in groups ("1606 0114 ..."): drop the separators.
    compact = folded.replace(" ", "").replace(".", "").replace("-", "")
    if compact.isdigit():
        folded = compact
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Reads:
    """Queries shared by :class:`Store` (each its own snapshot) and :class:`Transaction`
    (inside the transaction's snapshot)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _row(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def device(self) -> Device | None:
        """The enrollment, or ``None`` while the device is not enrolled."""
        row = self._row(
            "SELECT device_id, kecamatan, server_url, server_public_key, public_key, enrolled_at"
            " FROM device WHERE id = 1"
        )
        return None if row is None else Device(**row)

    def operator(self, operator_id: str) -> Operator | None:
        """The operator account with this id, active or not."""
        row = self._row(f"SELECT {_OPERATOR_COLUMNS} FROM operators WHERE id = ?", [operator_id])
        return None if row is None else _operator(row)

    def chain_head(self) -> ChainHead:
        """The last (seq, hash) of the outbox; ``(0, GENESIS_HASH)`` before the first event."""
        row = self._row("SELECT seq, hash FROM outbox ORDER BY seq DESC LIMIT 1")
        return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(row["seq"], row["hash"])

    def get_application(self, application_id: str) -> StoredApplication | None:
        """The application with this id, or ``None``."""
        row = self._row(
            "SELECT state, data, created_at, updated_at, last_seq, transferred_to"
            " FROM applications WHERE id = ?",
            [application_id],
        )
        if row is None:
            return None
        return StoredApplication(
            application=Application.from_dict(json.loads(row["data"])),
            state=State(row["state"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            last_seq=row["last_seq"],
            transferred_to=row["transferred_to"],
        )

    def application_state(self, application_id: str) -> State | None:
        """Just the state (cheaper than :meth:`get_application`); ``None`` if not stored."""
        row = self._row("SELECT state FROM applications WHERE id = ?", [application_id])
        return None if row is None else State(row["state"])

    def application_record(self, application_id: str) -> tuple[State, dict[str, Any]] | None:
        """State and stored ``Application.to_dict()``, unparsed; ``None`` if not stored."""
        row = self._row("SELECT state, data FROM applications WHERE id = ?", [application_id])
        return None if row is None else (State(row["state"]), json.loads(row["data"]))

    def transferred_to(self, application_id: str) -> str | None:
        """The device the server moved this application to, or ``None`` (held here, or not
        stored)."""
        row = self._row("SELECT transferred_to FROM applications WHERE id = ?", [application_id])
        return None if row is None else row["transferred_to"]

    def decisions(self, application_id: str) -> list[Decision]:
        """Central decisions about one application, oldest first (the history a screen
        shows: "dikembalikan oleh Verifikator karena ...")."""
        rows = self._rows(
            "SELECT cursor, application_id, action, from_state, to_state, role, actor_id,"
            " actor_name, reasons, at FROM decisions WHERE application_id = ?"
            " ORDER BY at, id",
            [application_id],
        )
        return [_decision(r) for r in rows]

    def kk_document(self, application_id: str) -> KKDocument | None:
        """The signed KK the server reported for the application, or ``None``."""
        row = self._row(
            "SELECT application_id, kk_number, document, cursor, at, downloaded_at"
            " FROM kk_documents WHERE application_id = ?",
            [application_id],
        )
        if row is None:
            return None
        return KKDocument(**{**row, "document": json.loads(row["document"])})

    def inbox_documents(self) -> list[InboxDocument]:
        """Documents applicants sent by WhatsApp to this kecamatan, oldest first."""
        rows = self._rows(
            "SELECT item_id, scan_id, media_type, size, sender, application_id, received_at,"
            " cursor FROM whatsapp_inbox ORDER BY item_id"
        )
        return [InboxDocument(**r) for r in rows]

    def message_statuses(self, application_id: str) -> list[MessageStatus]:
        """The WhatsApp messages to the applicant with their latest status, oldest first."""
        rows = self._rows(
            "SELECT message_id, application_id, status, at, cursor, purpose, reason"
            " FROM message_status"
            " WHERE application_id = ? ORDER BY cursor",
            [application_id],
        )
        return [MessageStatus(**r) for r in rows]

    def resend_requested(self, application_id: str) -> set[str]:
        """Ids of the application's messages this counter asked the server to re-send
        (``message.resend`` events not refused): asking twice would make two new messages."""
        rows = self._rows(
            "SELECT json_extract(wire, '$.body.message_id') AS message_id FROM outbox"
            " WHERE kind = 'message.resend' AND application_id = ? AND status != 'refused'",
            [application_id],
        )
        return {str(r["message_id"]) for r in rows}

    def inbox_attachments(self) -> dict[int, str]:
        """Inbox items already attached, each with the application it went to: what this
        counter attached (``inbox.attached`` events not refused) and, above that, what the
        server reported (the item went elsewhere: another counter, staff)."""
        rows = self._rows(
            "SELECT json_extract(wire, '$.body.item_id') AS item_id, application_id FROM outbox"
            " WHERE kind = 'inbox.attached' AND status != 'refused' ORDER BY seq"
        )
        told = self._rows(
            "SELECT item_id, attached_to FROM whatsapp_inbox WHERE attached_to IS NOT NULL"
        )
        return {int(r["item_id"]): str(r["application_id"]) for r in rows} | {
            int(r["item_id"]): str(r["attached_to"]) for r in told
        }

    def pull_cursor(self) -> int:
        """Cursor of the last server event applied here (0 before the first): the next
        pull asks for events after it."""
        row = self._row("SELECT value FROM meta WHERE key = 'pull_cursor'")
        return 0 if row is None else int(row["value"])

    def last_sync_at(self) -> datetime | None:
        """When this counter last synced everything (:meth:`Store.record_last_sync`), so the
        status line can say it after a restart; ``None`` before the first success."""
        row = self._row("SELECT value FROM meta WHERE key = 'last_sync_at'")
        return None if row is None else parse_timestamp(row["value"])


_NOT_REFUSED = (
    "NOT (EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'scan.attached' AND o.status ="
    " 'refused' AND json_extract(o.wire, '$.body.scan.id') = s.scan_id) AND NOT EXISTS"
    " (SELECT 1 FROM outbox o WHERE o.kind = 'scan.attached' AND o.status != 'refused'"
    " AND json_extract(o.wire, '$.body.scan.id') = s.scan_id))"
)
"""A scan whose every ``scan.attached`` event the server refused will never be accepted:
it is not queued nor counted as waiting (the refusal shows on the application)."""

_OPERATOR_COLUMNS = "id, username, full_name, kecamatan, password_hash, active, updated_at"


def _operator(row: Mapping[str, Any]) -> Operator:
    return Operator(**{**row, "active": bool(row["active"])})


def _decision(row: Mapping[str, Any]) -> Decision:
    reasons = json.loads(row["reasons"]) if row["reasons"] else None
    return Decision.from_mapping(
        {**row, "reasons": reasons}, cursor=row["cursor"], application_id=row["application_id"]
    )


class Transaction(_Reads):
    """The writes of one ``BEGIN IMMEDIATE`` transaction; get one from
    :meth:`Store.transaction`. Reads through it see the transaction's own writes, and no
    other writer can slip in between a read and a write."""

    def insert_application(self, app: Application, *, state: State, at: str, last_seq: int) -> None:
        """Store a new application (the caller has checked that its id is free)."""
        self._db.execute(
            "INSERT INTO applications (id, state, data, kk_number, applicant_name, search_text,"
            " created_at, updated_at, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                app.id,
                State(state).value,
                _data_json(app),
                app.kk_number,
                app.applicant.nama,
                search_text(app),
                at,
                at,
                last_seq,
            ],
        )

    def update_application(
        self,
        application_id: str,
        *,
        state: State,
        at: str,
        last_seq: int | None,
        app: Application | None = None,
    ) -> None:
        """Change an application's state and, when ``app`` is given, its data.

        ``last_seq`` is the outbox event that caused the change, or ``None`` for a change
        that came from the server and so has no event of this device.
        """
        sets = ["state = ?", "updated_at = ?"]
        params: list[Any] = [State(state).value, at]
        if last_seq is not None:
            sets.append("last_seq = ?")
            params.append(last_seq)
        if app is not None:
            if app.id != application_id:
                raise ValueError("application id does not match the row being updated")
            sets += ["data = ?", "kk_number = ?", "applicant_name = ?", "search_text = ?"]
            params += [_data_json(app), app.kk_number, app.applicant.nama, search_text(app)]
        cursor = self._db.execute(
            f"UPDATE applications SET {', '.join(sets)} WHERE id = ?", [*params, application_id]
        )
        if cursor.rowcount != 1:
            raise LookupError(f"application {application_id} is not stored")

    def append_event(self, event: ChangeEvent) -> None:
        """Append a signed event; the schema refuses one that does not follow the head."""
        self._db.execute(
            "INSERT INTO outbox (seq, hash, prev_hash, kind, application_id, operator_id,"
            " created_at, wire) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                event.seq,
                event.hash(),
                event.prev_hash,
                event.kind.value,
                event.application_id,
                event.operator_id,
                event.created_at,
                canonical_json(event.to_wire()).decode("utf-8"),
            ],
        )

    # -- what the server's pull changes (field_client.server_feed) ----------------------

    def upsert_operator(self, op: Operator) -> None:
        """Insert or replace one operator account (never deleted: disabled instead)."""
        self._db.execute(
            f"INSERT INTO operators ({_OPERATOR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
            " full_name = excluded.full_name, kecamatan = excluded.kecamatan,"
            " password_hash = excluded.password_hash, active = excluded.active,"
            " updated_at = excluded.updated_at",
            [
                op.id,
                op.username,
                op.full_name,
                op.kecamatan,
                op.password_hash,
                int(op.active),
                op.updated_at,
            ],
        )

    def set_server_state(self, application_id: str, state: State, *, at: str) -> bool:
        """Take a state the centre decided, as it is; ``False`` when the application is not
        stored. No outbox event: the change is the server's, not this device's."""
        cursor = self._db.execute(
            "UPDATE applications SET state = ?, updated_at = ? WHERE id = ?",
            [State(state).value, at, application_id],
        )
        return cursor.rowcount == 1

    def add_decision(self, decision: Decision) -> None:
        """Record a central decision for the application's history."""
        self._db.execute(
            "INSERT INTO decisions (cursor, application_id, action, from_state, to_state, role,"
            " actor_id, actor_name, reasons, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                decision.cursor,
                decision.application_id,
                decision.action.value,
                decision.from_state.value,
                decision.to_state.value,
                decision.role.value,
                decision.actor_id,
                decision.actor_name,
                None
                if decision.reasons is None
                else json.dumps(decision.reasons.to_dict(), ensure_ascii=False),
                decision.at,
            ],
        )

    def take_over(self, app: Application, *, state: State, at: str) -> None:
        """Hold an application the server moved to this device: insert it, or (when it was
        moved away earlier and now comes back) replace its data and make it editable."""
        cursor = self._db.execute(
            "UPDATE applications SET state = ?, data = ?, kk_number = ?, applicant_name = ?,"
            " search_text = ?, updated_at = ?, transferred_to = NULL, transferred_at = NULL"
            " WHERE id = ?",
            [
                State(state).value,
                _data_json(app),
                app.kk_number,
                app.applicant.nama,
                search_text(app),
                at,
                app.id,
            ],
        )
        if cursor.rowcount == 0:
            self.insert_application(app, state=state, at=at, last_seq=0)

    def mark_transferred(self, application_id: str, to_device_id: str, *, at: str) -> bool:
        """Make an application read-only here: the server moved it to ``to_device_id``.
        ``False`` when it is not stored."""
        cursor = self._db.execute(
            "UPDATE applications SET transferred_to = ?, transferred_at = ?, updated_at = ?"
            " WHERE id = ?",
            [to_device_id, at, at, application_id],
        )
        return cursor.rowcount == 1

    def record_kk_document(self, document: KKDocument) -> None:
        """Keep the signed KK's number and reference, and let search find the number."""
        self._db.execute(
            "INSERT INTO kk_documents (application_id, kk_number, document, cursor, at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (application_id) DO UPDATE SET"
            " kk_number = excluded.kk_number, document = excluded.document,"
            " cursor = excluded.cursor, at = excluded.at,"
            # A KK signed again is another PDF: download it again.
            " downloaded_at = CASE WHEN kk_documents.document = excluded.document"
            " THEN kk_documents.downloaded_at END",
            [
                document.application_id,
                document.kk_number,
                json.dumps(dict(document.document), ensure_ascii=False, sort_keys=True),
                document.cursor,
                document.at,
            ],
        )
        # The family's new number is what the applicant quotes when calling back.
        self._db.execute(
            "UPDATE applications SET kk_number = ?, search_text = search_text || char(10) || ?"
            " WHERE id = ? AND kk_number != ?",
            [document.kk_number, document.kk_number, document.application_id, document.kk_number],
        )

    def record_inbox_attached(self, item_id: int, application_id: str, at: str) -> None:
        """The server says the inbox item went to ``application_id`` (an item this file
        never heard of, restored from an old backup, changes nothing)."""
        self._db.execute(
            "UPDATE whatsapp_inbox SET attached_to = ?, attached_at = ? WHERE item_id = ?",
            [application_id, at, item_id],
        )

    def record_inbox_document(self, item: InboxDocument) -> None:
        """Keep an inbox document the server announced (once per item)."""
        self._db.execute(
            "INSERT INTO whatsapp_inbox (item_id, scan_id, media_type, size, sender,"
            " application_id, received_at, cursor) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (item_id) DO NOTHING",
            [
                item.item_id,
                item.scan_id,
                item.media_type,
                item.size,
                item.sender,
                item.application_id,
                item.received_at,
                item.cursor,
            ],
        )

    def record_message_status(self, status: MessageStatus) -> None:
        """Keep the latest status of a WhatsApp message (a later server event wins)."""
        self._db.execute(
            "INSERT INTO message_status"
            " (message_id, application_id, status, at, cursor, purpose, reason)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO UPDATE SET"
            " application_id = excluded.application_id, status = excluded.status,"
            " at = excluded.at, cursor = excluded.cursor, purpose = excluded.purpose,"
            " reason = excluded.reason",
            [
                status.message_id,
                status.application_id,
                status.status,
                status.at,
                status.cursor,
                status.purpose,
                status.reason,
            ],
        )

    def set_pull_cursor(self, cursor: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('pull_cursor', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [str(cursor)],
        )


def _data_json(app: Application) -> str:
    return json.dumps(app.to_dict(), ensure_ascii=False, sort_keys=True)


class Store(_Reads):
    """The counter's SQLite file. Open with :meth:`open`; close with :meth:`close` (or use
    it as a context manager). One ``Store`` is one connection: use it from one thread."""

    def __init__(self, db: Database, path: Path) -> None:
        super().__init__(db)
        self.path = path

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating if needed) the store at ``path`` and bring its schema up to date."""
        path = Path(path)
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            db = Database(conn, execute_plugins=False)
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError.of("store.wal_unavailable", path=path, mode=mode)
            db.execute("PRAGMA synchronous = FULL")
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys = ON")
            ensure_schema(db)
        except BaseException:
            conn.close()
            raise
        return cls(db, path)

    @property
    def scan_folder(self) -> ScanFolder:
        """The encrypted blobs, in ``scans/`` beside the database file."""
        return ScanFolder(self.path.parent / "scans")

    def close(self) -> None:
        """Close the connection; an open transaction is rolled back by SQLite."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def db(self) -> Database:
        """The underlying sqlite-utils database, for read-only inspection (tests, tools)."""
        return self._db

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls everything back.

        IMMEDIATE takes the write lock at the start, so what the transaction reads (the
        chain head, an application's state) cannot change before it writes.
        """
        if self._db.conn.in_transaction:
            raise RuntimeError("transactions do not nest; finish the open one first")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield Transaction(self._db)
        except BaseException:
            if self._db.conn.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.conn.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # -- device ------------------------------------------------------------------------

    def record_enrollment(self, device: Device) -> None:
        """Store the enrollment the server answered. A device enrolls once: a second
        enrollment would start a second change log under another id."""
        with self.transaction() as tx:
            existing = tx.device()
            if existing is not None:
                raise DeviceAlreadyEnrolled.of(
                    "device.already_enrolled", device_id=existing.device_id
                )
            self._db.execute(
                "INSERT INTO device (id, device_id, kecamatan, server_url, server_public_key,"
                " public_key, enrolled_at) VALUES (1, ?, ?, ?, ?, ?, ?)",
                [
                    device.device_id,
                    device.kecamatan,
                    device.server_url,
                    device.server_public_key,
                    device.public_key,
                    device.enrolled_at,
                ],
            )

    def server_box_key(self) -> str | None:
        """The server's X25519 public key (base64) scans are sealed for, once learned."""
        row = self._row("SELECT server_box_key FROM device WHERE id = 1")
        return None if row is None else row["server_box_key"]

    def set_server_box_key(self, key_b64: str) -> None:
        """Record the server's scan key; the caller verified the server's signature on it
        with the pinned key (:func:`signing.sealed_box.scan_key_statement`)."""
        with self.transaction() as tx:
            if tx.device() is None:
                raise DeviceNotEnrolled.of("device.not_enrolled")
            self._db.execute("UPDATE device SET server_box_key = ? WHERE id = 1", [key_b64])

    # -- scans -------------------------------------------------------------------------

    def unlock_scans(
        self, operator_id: str, password: str, *, at: str, unlocked: DataKey | None = None
    ) -> DataKey:
        """The device data key for a logged-in operator (call it at login, keep the result
        for the session, drop it at logout); see :func:`field_client.scans.unlock`."""
        with self.transaction() as tx:
            return scan_files.unlock(tx, operator_id, password, at=at, unlocked=unlocked)

    def read_scan(self, key: DataKey, scan_id: str) -> bytes:
        """A scan's content, for a logged-in operator's preview."""
        return scan_files.read_plaintext(self, self.scan_folder, key, scan_id)

    def application_scans(self, application_id: str) -> list[ScanInfo]:
        """The scans attached to one application, in the order attached."""
        rows = self._rows(
            f"SELECT {SCAN_COLUMNS} FROM application_scans a JOIN scans s USING (scan_id)"
            " WHERE a.application_id = ? ORDER BY a.attached_at, s.scan_id",
            [application_id],
        )
        return [ScanInfo.from_row(r) for r in rows]

    def scans_to_upload(self) -> list[ScanInfo]:
        """Scans the server does not hold yet, each once, oldest application first (so an
        application becomes complete centrally as soon as possible), then in the order
        attached."""
        rows = self._rows(
            f"SELECT {SCAN_COLUMNS} FROM scans s JOIN application_scans a USING (scan_id)"
            " JOIN applications p ON p.id = a.application_id WHERE s.uploaded_at IS NULL"
            f" AND {_NOT_REFUSED} ORDER BY p.created_at, p.id, a.attached_at, s.scan_id"
        )
        seen: set[str] = set()
        out = []
        for row in rows:
            if row["scan_id"] not in seen:
                seen.add(row["scan_id"])
                out.append(ScanInfo.from_row(row))
        return out

    def mark_scans_uploaded(self, scan_ids: Iterable[str], *, at: str) -> None:
        """Record that the server holds these blobs whole (it said so)."""
        with self.transaction():
            for scan_id in scan_ids:
                self._db.execute(
                    "UPDATE scans SET uploaded_at = ? WHERE scan_id = ? AND uploaded_at IS NULL",
                    [at, scan_id],
                )

    # -- downloads ---------------------------------------------------------------------

    @property
    def document_folder(self) -> DocumentFolder:
        """Downloaded documents (signed KKs), in ``documents/`` beside the database file."""
        return DocumentFolder(self.path.parent / "documents")

    def device_box_public(self) -> str | None:
        """The counter's own X25519 public key downloads are sealed for (made at the first
        :meth:`unlock_scans`; ``None`` before)."""
        row = self._row("SELECT value FROM meta WHERE key = 'device_box_public'")
        return None if row is None else row["value"]

    def documents_to_download(self) -> list[KKDocument]:
        """Signed KKs reported by the server whose PDF is not here yet, oldest first."""
        rows = self._rows(
            "SELECT application_id, kk_number, document, cursor, at FROM kk_documents"
            " WHERE downloaded_at IS NULL ORDER BY cursor"
        )
        return [KKDocument(**{**r, "document": json.loads(r["document"])}) for r in rows]

    def store_downloaded_document(self, document: KKDocument, content: bytes, *, at: str) -> None:
        """Seal a downloaded PDF for this counter and record it. The caller checked it
        against the signed SHA-256 of the ``application.kk_ready`` event."""
        public = self.device_box_public()
        if public is None:
            raise ScanError.of("scan.locked")
        sealed = encrypt_scan(content, load_box_public_b64(public))
        self.document_folder.write(str(document.document["sha256"]), sealed.blob)
        with self.transaction():
            self._db.execute(
                "UPDATE kk_documents SET downloaded_at = ? WHERE application_id = ?"
                " AND document = ?",
                [
                    at,
                    document.application_id,
                    json.dumps(dict(document.document), ensure_ascii=False, sort_keys=True),
                ],
            )

    def read_kk_pdf(self, key: DataKey, application_id: str) -> bytes | None:
        """The signed KK PDF of an application for a logged-in operator (to print or show),
        or ``None`` while it is not downloaded."""
        row = self._row(
            "SELECT document FROM kk_documents WHERE application_id = ?"
            " AND downloaded_at IS NOT NULL",
            [application_id],
        )
        if row is None:
            return None
        sha256 = str(json.loads(row["document"])["sha256"])
        private = scan_files.device_box_private(self, key)
        return open_scan(self.document_folder.read(sha256), private)

    def scan_summary(self) -> dict[str, int]:
        """Scans still to send and their bytes on the wire, for the sync status."""
        row = self._row(
            "SELECT COUNT(*) AS pending_scans, COALESCE(SUM(blob_bytes), 0) AS pending_scan_bytes"
            f" FROM scans s WHERE uploaded_at IS NULL AND {_NOT_REFUSED}"
        )
        assert row is not None
        return dict(row)

    # -- operators ---------------------------------------------------------------------

    def upsert_operators(self, operators: Iterable[Operator]) -> int:
        """Insert or replace operator accounts (from the server's pull) in one transaction;
        returns how many were written. Accounts are never deleted here: the server disables
        them (``active=False``) so old events keep a known author."""
        count = 0
        with self.transaction() as tx:
            for op in operators:
                tx.upsert_operator(op)
                count += 1
        return count

    def active_operator_count(self) -> int:
        """Active operator accounts pulled to this counter (none: login must wait for a sync)."""
        row = self._row("SELECT COUNT(*) AS n FROM operators WHERE active = 1")
        return int(row["n"]) if row else 0

    def authenticate(self, username: str, password: str) -> Operator | None:
        """Offline login: the active operator with this username and password, else ``None``.

        Always runs one scrypt check, also for an unknown or disabled user, so the time a
        failed login takes does not tell which usernames exist.
        """
        row = self._row(
            f"SELECT {_OPERATOR_COLUMNS} FROM operators WHERE username = ?", [username.strip()]
        )
        if row is None:
            verify_password(password, _DUMMY_PASSWORD_HASH)
            return None
        operator = _operator(row)
        matches = verify_password(password, operator.password_hash)
        return operator if matches and operator.active else None

    # -- pull ----------------------------------------------------------------------------

    def apply_server_events(self, wire_events: Sequence[Any]) -> int:
        """Check and apply one page of pulled server events, all or nothing; returns how
        many were applied.

        In ONE transaction, each event in turn is parsed for this device and for a cursor
        above the previous one (:meth:`ServerEvent.from_wire`: ``server_event.*``, a
        :class:`~protocol.errors.ValidationError`), its signature verified against the
        server key pinned at enrollment (``signature.server_invalid``, a
        :class:`~protocol.errors.SignatureInvalid`), and applied
        (:func:`field_client.server_feed.apply_event`); then the pull cursor moves to the
        last one. Any failure raises and leaves everything, the cursor included, as it was.

        Because every cursor must exceed the stored one, a page cannot be applied twice: a
        page applied already raises ``server_event.cursor_not_increasing`` and changes
        nothing. After a lost answer the caller simply pulls again after
        :meth:`pull_cursor`.
        """
        from field_client import server_feed  # imported here: it imports this module

        if isinstance(wire_events, str | bytes) or not isinstance(wire_events, Sequence):
            raise TypeError("wire_events must be a list of wire server events")
        if not wire_events:
            return 0
        with self.transaction() as tx:
            device = tx.device()
            if device is None:
                raise DeviceNotEnrolled.of("device.not_enrolled")
            server_key = load_public_key_b64(device.server_public_key)
            cursor = tx.pull_cursor()
            for wire in wire_events:
                event = ServerEvent.from_wire(wire, audience=device.device_id, after_cursor=cursor)
                verify_server_event(event, server_key)
                server_feed.apply_event(tx, event)
                cursor = event.cursor
            tx.set_pull_cursor(cursor)
        return len(wire_events)

    # -- applications ------------------------------------------------------------------

    def search_applications(
        self, text: str = "", *, state: State | None = None, limit: int = 50
    ) -> list[ApplicationSummary]:
        """Applications whose names, NIKs or KK numbers contain ``text`` (case-insensitive),
        most recently changed first. Empty ``text`` lists all; ``state`` narrows."""
        where, params = ["1 = 1"], []
        if text.strip():
            where.append("search_text LIKE ? ESCAPE '\\'")
            params.append(_search_pattern(text))
        if state is not None:
            where.append("state = ?")
            params.append(State(state).value)
        rows = self._rows(
            "SELECT id, state, applicant_name, kk_number, updated_at FROM applications"
            f" WHERE {' AND '.join(where)} ORDER BY updated_at DESC, id LIMIT ?",
            [*params, limit],
        )
        return [ApplicationSummary(**{**r, "state": State(r["state"])}) for r in rows]

    def count_by_state(self) -> dict[State, int]:
        """How many applications are in each state (every state present, zero included)."""
        counts = dict.fromkeys(State, 0)
        for row in self._rows("SELECT state, COUNT(*) AS n FROM applications GROUP BY state"):
            counts[State(row["state"])] = row["n"]
        return counts

    # -- outbox ------------------------------------------------------------------------

    def pending_events(self, limit: int = 100) -> list[ChangeEvent]:
        """Events the server has not answered yet, oldest first: the next push batch."""
        rows = self._rows(
            "SELECT wire FROM outbox WHERE status = 'pending' ORDER BY seq LIMIT ?", [limit]
        )
        return [ChangeEvent.from_wire(json.loads(r["wire"])) for r in rows]

    def pending_wires(self, limit: int = 100) -> list[tuple[int, bytes]]:
        """``(seq, canonical wire bytes)`` of unanswered events, oldest first: what a push
        sends, exactly as signed and stored (nothing is parsed or encoded again)."""
        rows = self._rows(
            "SELECT seq, wire FROM outbox WHERE status = 'pending' ORDER BY seq LIMIT ?", [limit]
        )
        return [(r["seq"], r["wire"].encode("utf-8")) for r in rows]

    def wires_between(self, start: int, stop: int, limit: int) -> list[tuple[int, bytes]]:
        """``(seq, wire bytes)`` of events ``start``..``stop`` whatever their status (to resend
        after the server lost some, e.g. restored from a backup)."""
        rows = self._rows(
            "SELECT seq, wire FROM outbox WHERE seq BETWEEN ? AND ? ORDER BY seq LIMIT ?",
            [start, stop, limit],
        )
        return [(r["seq"], r["wire"].encode("utf-8")) for r in rows]

    def outbox_summary(self) -> dict[str, int]:
        """What the sync status shows: pending events and their bytes, refused events."""
        row = self._row(
            "SELECT COALESCE(SUM(status = 'pending'), 0) AS pending_events,"
            " COALESCE(SUM(CASE WHEN status = 'pending' THEN length(CAST(wire AS BLOB)) END), 0)"
            " AS pending_bytes, COALESCE(SUM(status = 'refused'), 0) AS refused_events"
            " FROM outbox"
        )
        assert row is not None  # an aggregate always returns one row
        return dict(row)

    def history(self, application_id: str) -> list[OutboxEntry]:
        """This device's events about one application, oldest first, with their status."""
        rows = self._rows(
            "SELECT wire, status, result_code, result_message FROM outbox"
            " WHERE application_id = ? ORDER BY seq",
            [application_id],
        )
        return [
            OutboxEntry(
                event=ChangeEvent.from_wire(json.loads(r["wire"])),
                status=SyncStatus(r["status"]),
                result_code=r["result_code"],
                result_message=r["result_message"],
            )
            for r in rows
        ]

    def outbox_counts(self) -> dict[SyncStatus, int]:
        """How many events are pending, applied and refused."""
        counts = dict.fromkeys(SyncStatus, 0)
        for row in self._rows("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status"):
            counts[SyncStatus(row["status"])] = row["n"]
        return counts

    def record_last_sync(self, moment: datetime) -> None:
        """Keep the end of the last fully successful sync round (a later one only)."""
        known = self.last_sync_at()
        if known is not None and known >= moment:
            return
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('last_sync_at', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [format_timestamp(moment)],
        )

    def server_acked_seq(self) -> int:
        """The highest seq the server said it holds (0 before the first push)."""
        row = self._row("SELECT value FROM meta WHERE key = 'server_acked_seq'")
        return 0 if row is None else int(row["value"])

    def record_push_result(self, acked_seq: int, results: Sequence[Mapping[str, Any]]) -> None:
        """Record the server's answer to a push, all or nothing.

        ``acked_seq`` is the highest seq the server holds; each result is ``{"seq",
        "status": "applied"|"refused", "code", "message"}`` for one event of the batch.
        Events without a result stay pending and are sent again, so an outcome is never
        guessed. Raises :class:`PushResultError` (and records nothing) when the answer names
        a seq this device never wrote, when it changes an outcome recorded before (the
        server's answers are idempotent, so a change means something is wrong), or when a
        result is malformed.
        """
        with self.transaction() as tx:
            head = tx.chain_head()
            if isinstance(acked_seq, bool) or not isinstance(acked_seq, int) or acked_seq < 0:
                raise PushResultError.of("outbox.bad_result", seq=acked_seq, detail="acked_seq")
            if acked_seq > head.seq:
                # The server holds events this device does not: e.g. the file was restored
                # from an old backup. Continuing would fork the chain.
                raise PushResultError.of("outbox.unknown_seq", seq=acked_seq)
            for result in results:
                self._record_one_result(result, acked_seq)
            if acked_seq > self.server_acked_seq():
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('server_acked_seq', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [str(acked_seq)],
                )

    def _record_one_result(self, result: Mapping[str, Any], acked_seq: int) -> None:
        seq = result.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise PushResultError.of("outbox.bad_result", seq=seq, detail="seq bukan bilangan")
        try:
            status = SyncStatus(result.get("status"))
        except ValueError:
            status = SyncStatus.PENDING
        code, message = result.get("code") or "", result.get("message") or ""
        if status is SyncStatus.PENDING or not (isinstance(code, str) and isinstance(message, str)):
            raise PushResultError.of(
                "outbox.bad_result", seq=seq, detail=f"status {result.get('status')!r}"
            )
        if status is SyncStatus.REFUSED and not code:
            raise PushResultError.of("outbox.bad_result", seq=seq, detail="penolakan tanpa kode")
        if seq > acked_seq:
            raise PushResultError.of(
                "outbox.bad_result", seq=seq, detail=f"melebihi acked_seq {acked_seq}"
            )
        row = self._row("SELECT status, result_code FROM outbox WHERE seq = ?", [seq])
        if row is None:
            raise PushResultError.of("outbox.unknown_seq", seq=seq)
        before = SyncStatus(row["status"])
        if before is SyncStatus.PENDING:
            self._db.execute(
                "UPDATE outbox SET status = ?, result_code = ?, result_message = ? WHERE seq = ?",
                [status.value, code, message, seq],
            )
        elif (before, row["result_code"]) != (status, code):
            raise PushResultError.of(
                "outbox.result_conflict",
                seq=seq,
                before=f"{before.value} {row['result_code']}".strip(),
                after=f"{status.value} {code}".strip(),
            )
