"""What the server sends back to counters on pull: signed :class:`ServerEvent` records.

The counter applies nothing it cannot verify against the server key it pinned at enrollment
(:mod:`signing.events`), so a compromised network path cannot forge a decision, an operator
account or a "KK ready" notice. Wire form::

    {"v": 1, "cursor": 42, "audience": "dev-7f3a...", "kind": "application.decided",
     "application_id": <uuid or null>, "body": {...}, "created_at": "...Z", "sig": <base64>}

* ``cursor`` is the server's feed position: strictly increasing within one device's feed;
  the counter asks for events after the last cursor it applied.
* ``audience`` names the one device the event is for (operator accounts go to every device
  of the kecamatan, as one event per device), so an event captured for one counter is
  refused by another.
* the signature covers every field except ``sig`` (canonical JSON, :mod:`protocol.canonical`).

Bodies, by kind (every listed field required; :meth:`ServerEvent.from_wire` checks types)::

    operator.upsert          {"operator_id", "username", "full_name", "kecamatan",
                              "password_hash" (scrypt, signing.passwords), "active": bool}
    application.decided      {"action", "from_state", "to_state", "role", "actor_id",
                              "actor_name", "reasons": {"items": [...], "text"} | null, "at"}
    application.transferred  {"from_device_id", "to_device_id", "state", "at"}; the event for
                              the receiving device (audience = to_device_id) also carries
                              "application" (Application.to_dict()) and "decisions" (the
                              bodies of earlier application.decided events), so it can take
                              the application over; the one for the old device only tells it
                              to stop editing
    application.kk_ready     {"kk_number": 16 digits, "document": {"sha256", "size",
                              "media_type", "verification_url", "signed_at"}}; the server
                              also sends "new_family" (bool)
    message.status           {"message_id", "status", "at"}; the server adds "purpose" and
                              "reason" (protocol.whatsapp)
    inbox.document           {"item_id", "scan_id", "media_type", "size", "sender",
                              "application_id" (the sender's pending application or null),
                              "received_at"}: a document an applicant sent by WhatsApp, now in
                              the kecamatan's inbox (application_id of the event: null)
    inbox.attached           {"item_id", "application_id", "at"}: the item was attached to
                              that application (by any counter of the kecamatan or by
                              staff), so every counter's inbox shows it as taken

Unknown extra body fields are accepted (a newer server may add some); unknown kinds are not,
because the counter cannot apply what it does not understand.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from protocol.canonical import canonical_json
from protocol.errors import ValidationError, define_messages
from protocol.events import is_uuid, parse_timestamp
from protocol.scans import MEDIA_TYPES, is_scan_id
from protocol.workflow import Action, Role, Side, State, owner

__all__ = ["ServerEventKind", "ServerEvent", "SERVER_EVENT_VERSION"]

SERVER_EVENT_VERSION = 1

define_messages(
    {
        "server_event.malformed": "Kiriman server rusak: {detail}.",
        "server_event.unknown_kind": 'Jenis kiriman server "{value}" tidak dikenal; '
        "perbarui aplikasi loket.",
        "server_event.wrong_audience": "Kiriman server ini ditujukan untuk perangkat lain.",
        "server_event.cursor_not_increasing": "Urutan kiriman server mundur (posisi {cursor} "
        "setelah {previous}).",
    }
)

_B64_SIG = re.compile(r"^[A-Za-z0-9+/]{86}==$")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KECAMATAN = re.compile(r"^\d{6}$")
_KK_NUMBER = re.compile(r"^\d{16}$")


class ServerEventKind(enum.StrEnum):
    """What the centre tells a counter."""

    OPERATOR_UPSERT = "operator.upsert"
    """An operator account of the device's kecamatan, created or changed (incl. disabled)."""
    APPLICATION_DECIDED = "application.decided"
    """A central step moved an application: verify, approve, return, sign, reject_tte."""
    APPLICATION_TRANSFERRED = "application.transferred"
    """Ownership of a counter-side application moved to another device of the kecamatan."""
    KK_READY = "application.kk_ready"
    """The signed KK PDF exists; body names its blob so the counter can download it."""
    MESSAGE_STATUS = "message.status"
    """A WhatsApp message to the applicant changed status (sent, delivered, read, failed)."""
    INBOX_DOCUMENT = "inbox.document"
    """An applicant sent a document by WhatsApp; it is in the kecamatan's inbox."""
    INBOX_ATTACHED = "inbox.attached"
    """An inbox item went to an application; other counters must not offer it again."""


_REQUIRED_BODY: Mapping[ServerEventKind, frozenset[str]] = {
    ServerEventKind.OPERATOR_UPSERT: frozenset(
        {"operator_id", "username", "full_name", "kecamatan", "password_hash", "active"}
    ),
    ServerEventKind.APPLICATION_DECIDED: frozenset(
        {"action", "from_state", "to_state", "role", "actor_id", "actor_name", "reasons", "at"}
    ),
    ServerEventKind.APPLICATION_TRANSFERRED: frozenset(
        {"from_device_id", "to_device_id", "state", "at"}
    ),
    ServerEventKind.KK_READY: frozenset({"kk_number", "document"}),
    ServerEventKind.MESSAGE_STATUS: frozenset({"message_id", "status", "at"}),
    ServerEventKind.INBOX_DOCUMENT: frozenset(
        {"item_id", "scan_id", "media_type", "size", "sender", "application_id", "received_at"}
    ),
    ServerEventKind.INBOX_ATTACHED: frozenset({"item_id", "application_id", "at"}),
}
_NEEDS_APPLICATION = {
    ServerEventKind.APPLICATION_DECIDED,
    ServerEventKind.APPLICATION_TRANSFERRED,
    ServerEventKind.KK_READY,
    ServerEventKind.MESSAGE_STATUS,
}


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One signed entry of a device's pull feed."""

    cursor: int
    audience: str
    kind: ServerEventKind
    application_id: str | None
    created_at: str
    body: Mapping[str, Any] = dataclass_field(default_factory=dict)
    sig: str = ""
    v: int = SERVER_EVENT_VERSION

    def unsigned_dict(self) -> dict[str, Any]:
        return {
            "v": self.v,
            "cursor": self.cursor,
            "audience": self.audience,
            "kind": self.kind.value,
            "application_id": self.application_id,
            "created_at": self.created_at,
            "body": self.body,
        }

    def to_wire(self) -> dict[str, Any]:
        return {**self.unsigned_dict(), "sig": self.sig}

    def signed_bytes(self) -> bytes:
        return canonical_json(self.unsigned_dict())

    @classmethod
    def from_wire(cls, data: Any, *, audience: str, after_cursor: int) -> ServerEvent:
        """Parse one pulled event meant for ``audience`` that must come after ``after_cursor``.

        The signature is checked separately (:func:`signing.events.verify_server_event`).
        """
        if not isinstance(data, Mapping) or set(data) != {*_FIELDS, "sig"}:
            raise _malformed("kolom tidak lengkap atau tidak dikenal")
        if data["v"] != SERVER_EVENT_VERSION:
            raise _malformed(f"versi {data['v']!r}")
        cursor = data["cursor"]
        if not isinstance(cursor, int) or isinstance(cursor, bool) or cursor < 1:
            raise _malformed("cursor harus bilangan bulat positif")
        if cursor <= after_cursor:
            raise ValidationError.single(
                "server_event.cursor_not_increasing", cursor=cursor, previous=after_cursor
            )
        if data["audience"] != audience:
            raise ValidationError.single("server_event.wrong_audience")
        try:
            kind = ServerEventKind(data["kind"])
        except ValueError:
            raise ValidationError.single("server_event.unknown_kind", value=data["kind"]) from None
        app_id = data["application_id"]
        if kind in _NEEDS_APPLICATION:
            if not (isinstance(app_id, str) and is_uuid(app_id)):
                raise _malformed("application_id harus UUID")
        elif app_id is not None:
            raise _malformed("application_id harus kosong")
        if not (isinstance(data["created_at"], str) and parse_timestamp(data["created_at"])):
            raise _malformed("created_at tidak sah")
        body = data["body"]
        if not isinstance(body, Mapping) or not _REQUIRED_BODY[kind] <= set(body):
            raise _malformed(f"isi {kind.value} tidak lengkap")
        _BODY_CHECKS[kind](body, audience)
        if not (isinstance(data["sig"], str) and _B64_SIG.match(data["sig"])):
            raise _malformed("tanda tangan tidak sah")
        return cls(
            cursor=cursor,
            audience=audience,
            kind=kind,
            application_id=app_id,
            created_at=data["created_at"],
            body=dict(body),
            sig=data["sig"],
        )


_FIELDS = ("v", "cursor", "audience", "kind", "application_id", "created_at", "body")


def _check_operator(body: Mapping[str, Any], audience: str) -> None:
    for name in ("operator_id", "username", "full_name", "password_hash"):
        if not (isinstance(body[name], str) and body[name]):
            raise _malformed(f"{name} akun operator kosong atau bukan teks")
    if not _ID.match(body["operator_id"]):
        raise _malformed("operator_id tidak sah")
    if not (isinstance(body["kecamatan"], str) and _KECAMATAN.match(body["kecamatan"])):
        raise _malformed("kode kecamatan akun operator tidak sah")
    if not isinstance(body["active"], bool):
        raise _malformed("status aktif akun operator harus benar/salah")


def _check_decision(body: Mapping[str, Any], audience: str = "") -> None:
    try:
        Action(body["action"])
        State(body["to_state"])
        State(body["from_state"])
        Role(body["role"])
    except ValueError as exc:
        raise _malformed(f"keputusan tidak dikenal ({exc})") from None
    for name in ("actor_id", "actor_name"):
        if not (isinstance(body[name], str) and body[name]):
            raise _malformed(f"{name} keputusan kosong atau bukan teks")
    _check_at(body)
    reasons = body["reasons"]
    if reasons is None:
        return
    if not isinstance(reasons, Mapping):
        raise _malformed("alasan harus objek")
    items, text = reasons.get("items", []), reasons.get("text", "")
    if not (
        isinstance(items, list) and all(isinstance(i, str) for i in items) and isinstance(text, str)
    ):
        raise _malformed("alasan harus berisi items (daftar kode) dan text")


def _check_transfer(body: Mapping[str, Any], audience: str) -> None:
    source, target = body["from_device_id"], body["to_device_id"]
    if not all(isinstance(d, str) and _ID.match(d) for d in (source, target)) or source == target:
        raise _malformed("perangkat asal dan tujuan pengalihan tidak sah")
    if audience not in (source, target):
        raise _malformed("pengalihan tidak menyangkut perangkat ini")
    try:
        state = State(body["state"])
    except ValueError:
        raise _malformed(f"status {body['state']!r} tidak dikenal") from None
    if owner(state) is not Side.COUNTER:
        raise _malformed(f"permohonan berstatus {state.value} tidak dapat dialihkan")
    _check_at(body)
    if audience == target:
        # The receiving device must be able to take the application over from this event.
        if not isinstance(body.get("application"), Mapping):
            raise _malformed("pengalihan ke perangkat ini tanpa data permohonan")
        decisions = body.get("decisions")
        if not isinstance(decisions, list) or not all(isinstance(d, Mapping) for d in decisions):
            raise _malformed("riwayat keputusan pengalihan harus daftar objek")
        for decision in decisions:
            missing = _REQUIRED_BODY[ServerEventKind.APPLICATION_DECIDED] - set(decision)
            if missing:
                raise _malformed(f"riwayat keputusan tanpa {', '.join(sorted(missing))}")
            _check_decision(decision)


def _check_kk_ready(body: Mapping[str, Any], audience: str) -> None:
    if not (isinstance(body["kk_number"], str) and _KK_NUMBER.match(body["kk_number"])):
        raise _malformed("nomor KK harus 16 digit")
    if not isinstance(body["document"], Mapping):
        raise _malformed("rujukan dokumen KK harus objek")


def _check_message_status(body: Mapping[str, Any], audience: str) -> None:
    for name in ("message_id", "status"):
        if not (isinstance(body[name], str) and 0 < len(body[name]) <= 64):
            raise _malformed(f"{name} pesan kosong atau bukan teks")
    _check_at(body)


def _check_at(body: Mapping[str, Any]) -> None:
    if not (isinstance(body["at"], str) and parse_timestamp(body["at"])):
        raise _malformed("waktu (at) tidak sah")


def _check_positive(body: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = body[name]
        if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
            raise _malformed(f"{name} dokumen kotak masuk harus bilangan bulat positif")


def _check_inbox_document(body: Mapping[str, Any], audience: str) -> None:
    _check_positive(body, "item_id", "size")
    if not is_scan_id(body["scan_id"]):
        raise _malformed("scan_id dokumen kotak masuk tidak sah")
    if body["media_type"] not in MEDIA_TYPES:
        raise _malformed("jenis dokumen kotak masuk tidak sah")
    if not (isinstance(body["sender"], str) and 0 < len(body["sender"]) <= 32):
        raise _malformed("pengirim dokumen kotak masuk tidak sah")
    app_id = body["application_id"]
    if app_id is not None and not (isinstance(app_id, str) and is_uuid(app_id)):
        raise _malformed("application_id dokumen kotak masuk harus UUID atau kosong")
    if not (isinstance(body["received_at"], str) and parse_timestamp(body["received_at"])):
        raise _malformed("waktu terima dokumen kotak masuk tidak sah")


def _check_inbox_attached(body: Mapping[str, Any], audience: str) -> None:
    _check_positive(body, "item_id")
    if not (isinstance(body["application_id"], str) and is_uuid(body["application_id"])):
        raise _malformed("application_id lampiran kotak masuk harus UUID")
    _check_at(body)


_BODY_CHECKS = {
    ServerEventKind.OPERATOR_UPSERT: _check_operator,
    ServerEventKind.APPLICATION_DECIDED: _check_decision,
    ServerEventKind.APPLICATION_TRANSFERRED: _check_transfer,
    ServerEventKind.KK_READY: _check_kk_ready,
    ServerEventKind.MESSAGE_STATUS: _check_message_status,
    ServerEventKind.INBOX_DOCUMENT: _check_inbox_document,
    ServerEventKind.INBOX_ATTACHED: _check_inbox_attached,
}


def _malformed(detail: str) -> ValidationError:
    return ValidationError.single("server_event.malformed", detail=detail)
