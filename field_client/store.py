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
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlite_utils import Database

from field_client.errors import DeviceAlreadyEnrolled, PushResultError, StoreError
from field_client.schema import ensure_schema
from protocol.application import Application
from protocol.canonical import canonical_json
from protocol.events import GENESIS_HASH, ChangeEvent
from protocol.workflow import State
from signing.passwords import verify_password

__all__ = [
    "BUSY_TIMEOUT_MS",
    "Store",
    "Transaction",
    "Device",
    "Operator",
    "StoredApplication",
    "ApplicationSummary",
    "OutboxEntry",
    "SyncStatus",
    "ChainHead",
    "search_text",
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
    """Seq of the latest outbox event about this application."""


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
            "SELECT state, data, created_at, updated_at, last_seq FROM applications WHERE id = ?",
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
        )

    def application_state(self, application_id: str) -> State | None:
        """Just the state (cheaper than :meth:`get_application`); ``None`` if not stored."""
        row = self._row("SELECT state FROM applications WHERE id = ?", [application_id])
        return None if row is None else State(row["state"])

    def application_record(self, application_id: str) -> tuple[State, dict[str, Any]] | None:
        """State and stored ``Application.to_dict()``, unparsed; ``None`` if not stored."""
        row = self._row("SELECT state, data FROM applications WHERE id = ?", [application_id])
        return None if row is None else (State(row["state"]), json.loads(row["data"]))


_OPERATOR_COLUMNS = "id, username, full_name, kecamatan, password_hash, active, updated_at"


def _operator(row: Mapping[str, Any]) -> Operator:
    return Operator(**{**row, "active": bool(row["active"])})


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

    # -- operators ---------------------------------------------------------------------

    def upsert_operators(self, operators: Iterable[Operator]) -> int:
        """Insert or replace operator accounts (from the server's pull) in one transaction;
        returns how many were written. Accounts are never deleted here: the server disables
        them (``active=False``) so old events keep a known author."""
        count = 0
        with self.transaction():
            for op in operators:
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
                count += 1
        return count

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
