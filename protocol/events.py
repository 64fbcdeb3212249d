"""The signed change log a counter sends: one :class:`ChangeEvent` per operator action.

A counter never sends "current state"; it appends events, one per operator action of SOP
steps 1, 2 and 6, each signed by the device key and chained to the previous one::

    {"v": 1, "device_id": ..., "operator_id": ..., "seq": 7, "prev_hash": <hex sha256>,
     "created_at": "2026-11-25T08:49:33.120Z", "kind": "application.submitted",
     "application_id": <uuid>, "body": {...}, "sig": <base64 Ed25519>}

* ``seq`` grows by one per device, from 1; ``prev_hash`` is :meth:`ChangeEvent.hash` of the
  previous event (:data:`GENESIS_HASH` for seq 1), so the log is a hash chain and a fork or a
  gap is detectable.
* :meth:`ChangeEvent.signed_bytes` is the canonical JSON (:mod:`protocol.canonical`) of every
  field except ``sig``; ``sig`` is the Ed25519 signature over those bytes (:mod:`signing`).
* ``body`` depends on ``kind`` (:data:`EVENT_ACTIONS` maps each kind to its workflow action).

This module parses and checks the format and the chain; it never touches keys (that is
:mod:`signing.events`) nor storage.
"""

from __future__ import annotations

import enum
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from typing import Any

from protocol.application import Application
from protocol.canonical import canonical_json, sha256_hex
from protocol.errors import ChainError, Issue, ValidationError, define_messages, message_for
from protocol.scans import ScanReference, scan_from_body
from protocol.workflow import Action, Reasons

__all__ = [
    "EVENT_VERSION",
    "GENESIS_HASH",
    "MAX_EVENT_BYTES",
    "EventKind",
    "EVENT_ACTIONS",
    "ChangeEvent",
    "check_successor",
    "format_timestamp",
    "parse_timestamp",
    "is_uuid",
    "application_from_body",
    "reasons_from_body",
    "message_id_from_body",
    "inbox_item_from_body",
]

EVENT_VERSION = 1
GENESIS_HASH = "0" * 64
MAX_EVENT_BYTES = 256 * 1024
"""An event carries data, never scans (those travel as blobs), so 256 KiB is generous."""

define_messages(
    {
        "event.malformed": "Catatan perubahan rusak: {detail}.",
        "event.unsupported_version": "Versi format catatan perubahan {value} tidak didukung.",
        "event.unknown_kind": 'Jenis catatan perubahan "{value}" tidak dikenal.',
        "event.too_large": "Catatan perubahan terlalu besar ({size} byte, paling banyak {max}).",
        "event.application_mismatch": "Isi catatan menyebut permohonan lain dari "
        "permohonan yang dicatat.",
        "event.seq_gap": "Urutan catatan perangkat melompat: diharapkan nomor {expected}, "
        "diterima {got}.",
        "event.chain_broken": "Rantai catatan perangkat putus pada nomor {seq}.",
        "event.forked": "Riwayat perangkat bercabang pada nomor {seq}: catatan dengan nomor "
        "yang sama sudah diterima dengan isi berbeda.",
    }
)

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_B64_SIG = re.compile(r"^[A-Za-z0-9+/]{86}==$")  # 64 bytes of Ed25519 signature


class EventKind(enum.StrEnum):
    """Every counter action of SOP steps 1, 2 and 6."""

    APPLICATION_CREATED = "application.created"
    APPLICATION_EDITED = "application.edited"
    MARKED_INCOMPLETE = "application.marked_incomplete"
    SUBMITTED = "application.submitted"
    RESUBMITTED = "application.resubmitted"
    WITHDRAWN = "application.withdrawn"
    ISSUED = "application.issued"
    ARCHIVED = "application.archived"
    SCAN_ATTACHED = "scan.attached"
    """A document scan was attached (body ``{"scan": ...}``, :mod:`protocol.scans`): no
    workflow move; it tells the server which scans to expect for the application."""
    MESSAGE_RESEND = "message.resend"
    """The operator asks the server to send a failed or "perlu dicek" WhatsApp message of
    the application again, as a new message (body ``{"message_id": ...}``): no workflow
    move; the operator is the event's ``operator_id``."""
    INBOX_ATTACHED = "inbox.attached"
    """The operator attaches a document the applicant sent by WhatsApp (an item of the
    kecamatan's inbox, body ``{"item_id": <int>}``) to the application: no workflow move."""


EVENT_ACTIONS: Mapping[EventKind, Action] = {
    EventKind.APPLICATION_CREATED: Action.CREATE,
    EventKind.APPLICATION_EDITED: Action.EDIT,
    EventKind.MARKED_INCOMPLETE: Action.MARK_INCOMPLETE,
    EventKind.SUBMITTED: Action.SUBMIT,
    EventKind.RESUBMITTED: Action.RESUBMIT,
    EventKind.WITHDRAWN: Action.WITHDRAW,
    EventKind.ISSUED: Action.ISSUE,
    EventKind.ARCHIVED: Action.ARCHIVE,
}
"""The workflow action each event asks for; the server judges it with
:func:`protocol.workflow.transition`. ``scan.attached``, ``message.resend`` and
``inbox.attached`` ask for none."""

_CARRIES_APPLICATION = {EventKind.APPLICATION_CREATED, EventKind.APPLICATION_EDITED}
_CARRIES_REASONS = {EventKind.MARKED_INCOMPLETE, EventKind.WITHDRAWN}


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One signed entry of a device's change log. Build with :meth:`from_wire` or
    :func:`signing.events.sign_event`; both guarantee a well-formed value."""

    device_id: str
    operator_id: str
    seq: int
    prev_hash: str
    created_at: str
    kind: EventKind
    application_id: str
    body: Mapping[str, Any] = dataclass_field(default_factory=dict)
    sig: str = ""
    v: int = EVENT_VERSION
    # Derived values (signed bytes, hash, parsed application) are computed once: the server
    # needs each several times per event on its hot path. Events are never mutated.
    _memo: dict[str, Any] = dataclass_field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def unsigned_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "device_id": self.device_id,
            "operator_id": self.operator_id,
            "seq": self.seq,
            "prev_hash": self.prev_hash,
            "created_at": self.created_at,
            "kind": self.kind.value,
            "application_id": self.application_id,
            "body": self.body,
        }

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent on the wire and stored: unsigned fields plus ``sig``."""
        return {**self.unsigned_dict(), "sig": self.sig}

    def signed_bytes(self) -> bytes:
        """The canonical bytes the device signs: every field except ``sig``."""
        if "bytes" not in self._memo:
            self._memo["bytes"] = canonical_json(self.unsigned_dict())
        return self._memo["bytes"]

    def wire_bytes(self) -> bytes:
        """Canonical JSON of :meth:`to_wire`, made from :meth:`signed_bytes` without encoding
        the body again: ``sig`` sorts between ``seq`` and ``v``, the last key."""
        if "wire" not in self._memo:
            tail = b',"v":' + str(self.v).encode() + b"}"
            signed = self.signed_bytes()
            assert signed.endswith(tail)
            sig = json.dumps(self.sig).encode()
            self._memo["wire"] = signed[: -len(tail)] + b',"sig":' + sig + tail
        return self._memo["wire"]

    def hash(self) -> str:
        """SHA-256 (hex) of :meth:`signed_bytes`: the next event's ``prev_hash``."""
        if "hash" not in self._memo:
            self._memo["hash"] = sha256_hex(self.signed_bytes())
        return self._memo["hash"]

    def application(self) -> Application:
        """The snapshot a created/edited event carries (:func:`application_from_body`)."""
        if "application" not in self._memo:
            self._memo["application"] = application_from_body(self.body)
        return self._memo["application"]

    @property
    def action(self) -> Action:
        """The workflow action asked for (``KeyError`` for ``scan.attached``: none)."""
        return EVENT_ACTIONS[self.kind]

    def scan(self) -> ScanReference:
        """The scan a ``scan.attached`` event names."""
        return scan_from_body(self.body)

    @classmethod
    def from_wire(cls, data: Any) -> ChangeEvent:
        """Parse and check one event from its wire form (signature not verified here).

        Raises :class:`ValidationError` with ``event.*`` codes, or the application's own codes
        (under ``body.application``) when a created/edited body is not an application.
        """
        if not isinstance(data, Mapping):
            raise _malformed("bukan objek JSON")
        unknown = set(data) - {*_FIELDS, "sig"}
        if unknown:
            raise _malformed(f"kolom tidak dikenal {sorted(unknown)}")
        if data.get("v") != EVENT_VERSION:
            raise ValidationError.single(
                "event.unsupported_version", field="v", value=data.get("v")
            )
        for name in ("device_id", "operator_id"):
            if not (isinstance(data.get(name), str) and _ID.match(data[name])):
                raise _malformed(f"{name} tidak sah", name)
        seq = data.get("seq")
        if not (isinstance(seq, int) and not isinstance(seq, bool) and 1 <= seq < 2**53):
            raise _malformed("seq harus bilangan bulat mulai 1", "seq")
        if not (isinstance(data.get("prev_hash"), str) and _HEX64.match(data["prev_hash"])):
            raise _malformed("prev_hash harus 64 digit heksadesimal", "prev_hash")
        created_at = data.get("created_at")
        if not isinstance(created_at, str) or parse_timestamp(created_at) is None:
            raise _malformed(
                "created_at harus waktu UTC seperti 2026-01-31T08:00:00.000Z", "created_at"
            )
        try:
            kind = EventKind(data.get("kind"))
        except ValueError:
            raise ValidationError.single(
                "event.unknown_kind", field="kind", value=data.get("kind")
            ) from None
        app_id = data.get("application_id")
        if not (isinstance(app_id, str) and is_uuid(app_id)):
            raise _malformed("application_id harus UUID", "application_id")
        body = data.get("body")
        if not isinstance(body, Mapping):
            raise _malformed("body harus objek", "body")
        sig = data.get("sig", "")
        if not (isinstance(sig, str) and _B64_SIG.match(sig)):
            raise _malformed("sig harus tanda tangan Ed25519 base64", "sig")
        event = cls(
            device_id=data["device_id"],
            operator_id=data["operator_id"],
            seq=seq,
            prev_hash=data["prev_hash"],
            created_at=created_at,
            kind=kind,
            application_id=app_id,
            body=dict(body),
            sig=sig,
        )
        size = len(event.signed_bytes())  # also checks the body is canonical-safe
        if size > MAX_EVENT_BYTES:
            raise ValidationError.single("event.too_large", size=size, max=MAX_EVENT_BYTES)
        event.check_body()
        return event

    def check_body(self) -> None:
        """Raise :class:`ValidationError` unless ``body`` fits ``kind``."""
        self.signed_bytes()  # refuses a body with no canonical form (floats, odd keys...)
        if self.kind in _CARRIES_APPLICATION:
            app = self.application()
            if app.id != self.application_id:
                raise ValidationError.single("event.application_mismatch", field="body")
        elif self.kind in _CARRIES_REASONS:
            reasons_from_body(self.body)
        elif self.kind is EventKind.SCAN_ATTACHED:
            scan_from_body(self.body)
        elif self.kind is EventKind.MESSAGE_RESEND:
            message_id_from_body(self.body)
        elif self.kind is EventKind.INBOX_ATTACHED:
            inbox_item_from_body(self.body)
        elif self.body:
            raise _malformed(f"{self.kind.value} tidak membawa isi", "body")


_FIELDS = (
    "v",
    "device_id",
    "operator_id",
    "seq",
    "prev_hash",
    "created_at",
    "kind",
    "application_id",
    "body",
)


def application_from_body(body: Mapping[str, Any]) -> Application:
    """The application snapshot a created/edited event carries under ``body.application``."""
    raw = body.get("application")
    if set(body) != {"application"} or not isinstance(raw, Mapping):
        raise _malformed('isi harus berupa {"application": {...}}', "body")
    try:
        return Application.from_dict(raw)
    except ValidationError as exc:
        raise ValidationError(_reanchor(exc.issues, "body.application")) from None


def message_id_from_body(body: Mapping[str, Any]) -> str:
    """The outbox id of the message a ``message.resend`` event names."""
    message_id = body.get("message_id")
    if set(body) != {"message_id"} or not (isinstance(message_id, str) and _ID.match(message_id)):
        raise _malformed('isi harus berupa {"message_id": "<id pesan>"}', "body")
    return message_id


def inbox_item_from_body(body: Mapping[str, Any]) -> int:
    """The inbox item an ``inbox.attached`` event names."""
    item_id = body.get("item_id")
    if (
        set(body) != {"item_id"}
        or not isinstance(item_id, int)
        or isinstance(item_id, bool)
        or not 1 <= item_id < 2**53
    ):
        raise _malformed('isi harus berupa {"item_id": <nomor dokumen kotak masuk>}', "body")
    return item_id


def reasons_from_body(body: Mapping[str, Any]) -> Reasons:
    """The reasons a marked-incomplete or withdrawn event carries under ``body.reasons``."""
    reasons = body.get("reasons")
    if set(body) != {"reasons"} or not isinstance(reasons, Mapping):
        raise _malformed('isi harus berupa {"reasons": {"items": [...], "text": ...}}', "body")
    items = reasons.get("items", [])
    text = reasons.get("text", "")
    if (
        set(reasons) - {"items", "text"}
        or not isinstance(items, list)
        or not all(isinstance(i, str) for i in items)
        or not isinstance(text, str)
    ):
        raise _malformed("alasan harus berisi items (daftar kode) dan text", "body.reasons")
    return Reasons(items=tuple(items), text=text)


def check_successor(previous_seq: int, previous_hash: str, event: ChangeEvent) -> None:
    """Raise :class:`ChainError` unless ``event`` directly follows the log's head.

    The head is given by its ``seq`` and :meth:`ChangeEvent.hash`; for a device's first event
    they are ``0`` and :data:`GENESIS_HASH`.
    """
    if event.seq != previous_seq + 1:
        raise ChainError(
            message_for("event.seq_gap", expected=previous_seq + 1, got=event.seq),
            code="event.seq_gap",
        )
    if event.prev_hash != previous_hash:
        raise ChainError(
            message_for("event.chain_broken", seq=event.seq), code="event.chain_broken"
        )


def format_timestamp(moment: datetime) -> str:
    """UTC with milliseconds and ``Z``: the only timestamp form in the protocol."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime | None:
    """Parse :func:`format_timestamp` output; ``None`` when ``text`` is not in that form."""
    if not _TIMESTAMP.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def is_uuid(text: str) -> bool:
    """True for a UUID in its canonical lower-case text form (the only form ids take)."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _malformed(detail: str, field: str = "") -> ValidationError:
    return ValidationError.single("event.malformed", field=field, detail=detail)


def _reanchor(issues: tuple[Issue, ...], prefix: str) -> list[Issue]:
    return [
        Issue(i.code, i.message, f"{prefix}.{i.field}" if i.field else prefix, i.severity, i.params)
        for i in issues
    ]
