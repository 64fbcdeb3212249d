"""Receiving a counter's change log: ``POST /api/v1/sync/push`` (design.md §2).

Body (after the signed-request check, :mod:`sync_server.services.request_auth`)::

    {"events": [<wire event>, ...]}      ascending seq, at most 500; may be empty

sent as JSON, optionally with ``Content-Encoding: gzip`` (counters always compress). The
raw body is at most 4 MiB (413 ``request.too_large``); decompressed it is at most 32 MiB,
enforced while decompressing, so a gzip bomb costs at most that much memory and time (413
``request.too_large``). Another encoding is 415 ``request.unsupported_encoding``; a broken
gzip stream 400 ``request.bad_gzip``; bad JSON 400 ``request.malformed_json``; another shape
400 ``push.malformed``; too many events 413 ``push.too_many_events``.

Batch checks. Any failure refuses the WHOLE batch, stores none of it, and answers with
problem+json ``{"code", "detail", "seq", "acked_seq", ...}``:

1. each event parses (:meth:`ChangeEvent.from_wire`): 400 with its ``event.*`` code (or the
   application's own codes for a created/edited body), ``seq`` (when readable), ``index``
   and ``issues``;
2. each event's ``device_id`` is the authenticated device: 403 ``event.wrong_device``;
3. seqs strictly ascend within the batch: 400 ``push.unordered``;
4. each signature verifies with the device's enrolled key: 400 ``signature.invalid``;
5. against the device's stored log: an event with ``seq`` at or below the stored maximum is
   a duplicate if its hash equals the stored event's (skipped: re-sending is idempotent),
   else a fork: 409 ``event.forked``, and the conflicting event is kept in ``forks`` for an
   admin; the first new event must follow the stored head and each next one its
   predecessor (:func:`protocol.events.check_successor`): 409 ``event.seq_gap`` with
   ``expected_seq``, or 409 ``event.chain_broken``.

Checks 5 and the application of the new events run in ONE write transaction: all of the
batch is stored or none of it.

Applying (the server is the authority, design.md §1). Every new event is stored and advances
the chain, but its outcome is ``applied`` or ``refused`` with a code and an Indonesian
message the operator sees on the next pull. Refusals, in the order checked:

* the operator: ``operator.not_registered`` (no such account), ``operator.wrong_role`` (not
  an operator account), ``operator.disabled``, ``operator.wrong_kecamatan`` (bound to
  another kecamatan than the device);
* ``application.created``: ``application.duplicate`` (the id exists), then
  ``application.wrong_kecamatan`` (the address is outside the device's kecamatan). Applied:
  the application is stored in ``draft``, owned by the device, with the snapshot;
* ``scan.attached``: :func:`sync_server.services.scans.register_attached`
  (``application.unknown``, ``application.not_owner``, ``scan.not_editable``,
  ``scan.too_large``, ``scan.application_too_large``, ``scan.size_conflict``,
  ``scan.not_yours`` for another device's scan id). Applied: the
  application expects the scan (docs/protocol.md §11); no state changes;
* ``message.resend``: ``application.unknown``, ``application.not_owner``, then
  ``outbox.not_found`` (no such message of this application), ``outbox.already_resent``
  (re-sent already, from any counter or the CLI), ``outbox.not_resendable`` (not failed nor "perlu
  dicek"). Applied: a NEW message with the same purpose and text is queued to the number
  the application holds now (:func:`sync_server.services.whatsapp.outbox.resend`); the old
  one is never retried; no state changes;
* ``inbox.attached``: ``application.unknown``, ``application.not_owner``,
  ``scan.not_editable`` (the counter may no longer change the application), then
  ``inbox.not_found`` (no such stored item), ``inbox.wrong_kecamatan`` (not this
  device's kecamatan's inbox), ``inbox.already_attached`` (attached to another
  application). Applied: the item is attached
  (:func:`sync_server.services.whatsapp.inbound.attach_in`); no state changes;
* any other kind: ``application.unknown``, ``application.not_owner`` (another device holds
  it), then :func:`protocol.workflow.transition` with ``Role.OPERATOR`` and the event's
  reasons (the workflow's code: ``workflow.illegal_transition``,
  ``workflow.reason_required``, ``workflow.unknown_reason_item``...). ``edited`` replaces the
  snapshot (its address must stay in the device's kecamatan:
  ``application.wrong_kecamatan``); ``submitted`` and ``resubmitted`` require
  :func:`protocol.validation.readiness` on the stored snapshot, as of the office's date, to
  report nothing: else ``application.not_ready`` with ``params.codes`` and
  ``params.issues``; ``archived`` builds the immutable archive package in the same
  transaction (:mod:`sync_server.services.archive`), else ``archive.incomplete`` and the
  application stays ``issued``. An applied submission runs the duplicate-NIK check
  (:mod:`sync_server.services.duplicates`), which flags but never refuses.

Each applied move appends to ``application_events``: actor, role, device, seq, action,
from/to state, reasons, device time and server time.

Answer (200)::

    {"acked_seq": <highest seq stored for this device, 0 if none>,
     "results": [{"seq", "status": "applied"|"refused", "code", "message", "params"}, ...]}

with one result per event of the request, in request order; a duplicate answers with its
stored outcome, so re-sending a batch returns exactly the first acknowledgement.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from protocol.application import Application
from protocol.canonical import canonical_json
from protocol.errors import (
    ChainError,
    Issue,
    KKError,
    SignatureInvalid,
    ValidationError,
    message_for,
)
from protocol.events import (
    EVENT_ACTIONS,
    GENESIS_HASH,
    ChangeEvent,
    EventKind,
    check_successor,
    inbox_item_from_body,
    message_id_from_body,
    reasons_from_body,
)
from protocol.jurisdiction import address_refusal, office_date, operator_refusal
from protocol.validation import readiness
from protocol.workflow import Reasons, Role, State, counter_may_edit, transition
from signing.events import verify_event
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import archive, duplicates, scans
from sync_server.services.scans import DEFAULT_SCAN_LIMITS, ScanLimits
from sync_server.services.whatsapp import inbound
from sync_server.services.whatsapp import outbox as whatsapp
from sync_server.storage import accounts as account_store
from sync_server.storage import audit
from sync_server.storage import changelog as log_store
from sync_server.storage.changelog import ApplicationRecord, StoredEvent, TrailEntry
from sync_server.storage.db import Database
from sync_server.storage.devices import Device

__all__ = [
    "PushLimits",
    "EventResult",
    "PushOutcome",
    "decode_body",
    "parse_batch",
    "check_batch",
    "store_batch",
    "receive_push",
]

log = logging.getLogger("sync_server.ingest")

APPLIED = "applied"
REFUSED = "refused"
_DECOMPRESS_CHUNK = 1024 * 1024
_WITH_REASONS = {EventKind.MARKED_INCOMPLETE, EventKind.WITHDRAWN}
_NEEDS_READINESS = {EventKind.SUBMITTED, EventKind.RESUBMITTED}


@dataclass(frozen=True, slots=True)
class PushLimits:
    max_decompressed_bytes: int = 32 * 1024 * 1024
    max_events: int = 500
    scans: ScanLimits = DEFAULT_SCAN_LIMITS
    """Limits a ``scan.attached`` event is judged against."""


@dataclass(frozen=True, slots=True)
class EventResult:
    """The outcome of one event, as the counter receives it."""

    seq: int
    status: str
    code: str | None = None
    message: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "params": dict(self.params),
        }

    @classmethod
    def of_stored(cls, stored: StoredEvent) -> EventResult:
        return cls(stored.seq, stored.status, stored.code, stored.message, stored.params_dict())


@dataclass(frozen=True, slots=True)
class PushOutcome:
    acked_seq: int
    results: tuple[EventResult, ...]


# -- body ---------------------------------------------------------------------------------


def decode_body(raw: bytes, content_encoding: str | None, *, max_decompressed: int) -> bytes:
    """The body's bytes before compression: identity, or gzip inflated with a hard limit."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        raise Refusal(
            "request.unsupported_encoding", status=415, encoding=(content_encoding or "")[:40]
        )
    return _gunzip(raw, max_decompressed)


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``raw``, never holding more than ``limit`` + 1 MiB."""
    out = bytearray()
    pending = raw
    try:
        while True:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            while True:
                room = limit + 1 - len(out)
                before = len(pending)
                piece = inflater.decompress(pending, min(room, _DECOMPRESS_CHUNK))
                out += piece
                if len(out) > limit:
                    raise _too_large(limit)
                pending = inflater.unconsumed_tail
                if inflater.eof or (not piece and (not pending or len(pending) == before)):
                    break
            if not inflater.eof:
                raise Refusal("request.bad_gzip", status=400)
            pending = inflater.unused_data
            if not pending:
                return bytes(out)
    except zlib.error:
        raise Refusal("request.bad_gzip", status=400) from None


def _too_large(limit: int) -> Refusal:
    return Refusal("request.too_large", status=413, extra={"max_bytes": limit}, max=limit)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_batch(data: bytes, *, max_events: int) -> list[Any]:
    """The wire events of a push body: ``{"events": [...]}``."""
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal("request.malformed_json", status=400) from None
    if (
        not isinstance(body, dict)
        or set(body) != {"events"}
        or not isinstance(body["events"], list)
    ):
        raise Refusal("push.malformed", status=400)
    events = body["events"]
    if len(events) > max_events:
        raise Refusal(
            "push.too_many_events",
            status=413,
            extra={"max_events": max_events},
            count=len(events),
            max=max_events,
        )
    return events


# -- batch checks that need no storage ----------------------------------------------------


def check_batch(device: Device, wire_events: Sequence[Any]) -> list[ChangeEvent]:
    """Checks 1-4: parse, owner device, order and signatures. Raises :class:`Refusal`."""
    key = device.verifying_key()
    events: list[ChangeEvent] = []
    for index, wire in enumerate(wire_events):
        try:
            event = ChangeEvent.from_wire(wire)
        except ValidationError as exc:
            seq = wire.get("seq") if isinstance(wire, dict) else None
            extra = {
                "seq": seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
                "index": index,
                "issues": [issue.to_dict() for issue in exc.issues],
            }
            raise Refusal(exc.code, status=400, message=exc.message, extra=extra) from None
        if event.device_id != device.device_id:
            raise Refusal(
                "event.wrong_device",
                status=403,
                extra={"seq": event.seq},
                seq=event.seq,
                event_device=event.device_id,
                device_id=device.device_id,
            )
        if events and event.seq <= events[-1].seq:
            raise Refusal(
                "push.unordered",
                status=400,
                extra={"seq": event.seq},
                seq=event.seq,
                previous=events[-1].seq,
            )
        try:
            verify_event(event, key)
        except SignatureInvalid as exc:
            raise Refusal(
                exc.code, status=400, message=exc.message, extra={"seq": event.seq}
            ) from None
        events.append(event)
    return events


# -- storing ------------------------------------------------------------------------------


class _Fork(Exception):
    """A received event conflicts with the stored one of the same seq."""

    def __init__(self, seq: int, stored_hash: str, received: ChangeEvent) -> None:
        super().__init__(seq)
        self.seq = seq
        self.stored_hash = stored_hash
        self.received = received


def store_batch(
    db: Database,
    device: Device,
    events: Sequence[ChangeEvent],
    *,
    now: datetime,
    scan_limits: ScanLimits = DEFAULT_SCAN_LIMITS,
) -> PushOutcome:
    """Check 5 and apply, in one transaction. Raises :class:`Refusal` for a refused batch."""
    try:
        with db.write() as conn:
            return _store(conn, device, events, now, scan_limits)
    except _Fork as fork:
        with db.write() as conn:
            audit.record_fork(
                conn,
                detected_at=stamp(now),
                device_id=device.device_id,
                seq=fork.seq,
                stored_hash=fork.stored_hash,
                received_hash=fork.received.hash(),
                received_event=canonical_json(fork.received.to_wire()).decode("utf-8"),
            )
            head = log_store.last_event(conn, device.device_id)
        raise Refusal(
            "event.forked",
            status=409,
            extra={"seq": fork.seq, "acked_seq": head.seq if head else 0},
            seq=fork.seq,
        ) from None


def _store(
    conn: Any,
    device: Device,
    events: Sequence[ChangeEvent],
    now: datetime,
    scan_limits: ScanLimits,
) -> PushOutcome:
    head = log_store.last_event(conn, device.device_id)
    acked = head.seq if head else 0
    old = [e for e in events if e.seq <= acked]
    new = [e for e in events if e.seq > acked]
    stored = (
        log_store.events_between(conn, device.device_id, old[0].seq, old[-1].seq) if old else {}
    )
    for event in old:
        if stored[event.seq].hash != event.hash():
            raise _Fork(event.seq, stored[event.seq].hash, event)

    previous_seq, previous_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    for event in new:
        try:
            check_successor(previous_seq, previous_hash, event)
        except ChainError as exc:
            extra: dict[str, Any] = {"seq": event.seq, "acked_seq": acked}
            if exc.code == "event.seq_gap":
                extra["expected_seq"] = previous_seq + 1
            raise Refusal(exc.code, status=409, message=exc.message, extra=extra) from None
        previous_seq, previous_hash = event.seq, event.hash()

    judge = _Judge(conn, device, now, scan_limits)
    outcomes: dict[int, EventResult] = {}
    for event in new:
        result = judge.apply(event)
        log_store.insert_event(conn, _stored(event, result, now))
        outcomes[event.seq] = result
    results = tuple(
        EventResult.of_stored(stored[e.seq]) if e.seq <= acked else outcomes[e.seq] for e in events
    )
    acked_seq = new[-1].seq if new else acked
    refused = sum(1 for e in new if outcomes[e.seq].status == REFUSED)
    log.info(
        "push device=%s events=%d new=%d refused=%d acked_seq=%d",
        device.device_id,
        len(events),
        len(new),
        refused,
        acked_seq,
    )
    return PushOutcome(acked_seq, results)


def _stored(event: ChangeEvent, result: EventResult, now: datetime) -> StoredEvent:
    return StoredEvent(
        device_id=event.device_id,
        seq=event.seq,
        hash=event.hash(),
        prev_hash=event.prev_hash,
        kind=event.kind.value,
        application_id=event.application_id,
        operator_id=event.operator_id,
        device_time=event.created_at,
        received_at=stamp(now),
        wire=event.wire_bytes().decode("utf-8"),
        status=result.status,
        code=result.code,
        message=result.message,
        params=json.dumps(dict(result.params), ensure_ascii=False, sort_keys=True),
    )


class _Refused(Exception):
    def __init__(self, code: str, message: str, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message
        self.params = dict(params or {})

    @classmethod
    def of(cls, code: str, **params: Any) -> _Refused:
        return cls(code, message_for(code, **params), params)


def _refuse_if(found: Issue | None) -> None:
    if found is not None:
        raise _Refused(found.code, found.message, found.params)


class _Judge:
    """Applies new events of one device, in order, inside the push's transaction."""

    def __init__(self, conn: Any, device: Device, now: datetime, scan_limits: ScanLimits) -> None:
        self.conn = conn
        self.device = device
        self.now = now
        self.scan_limits = scan_limits
        self.today = office_date(now)
        self._operators: dict[str, Issue | None] = {}

    def apply(self, event: ChangeEvent) -> EventResult:
        try:
            self._check_operator(event.operator_id)
            if event.kind is EventKind.APPLICATION_CREATED:
                self._create(event)
            elif event.kind is EventKind.SCAN_ATTACHED:
                _refuse_if(
                    scans.register_attached(
                        self.conn, self.device, event, now=self.now, limits=self.scan_limits
                    )
                )
            elif event.kind is EventKind.MESSAGE_RESEND:
                self._owned(event)
                self._resend(event)
            elif event.kind is EventKind.INBOX_ATTACHED:
                self._attach_inbox(event, self._owned(event))
            else:
                self._move(event)
        except _Refused as refused:
            log.info(
                "event refused device=%s seq=%d code=%s",
                self.device.device_id,
                event.seq,
                refused.code,
            )
            return EventResult(event.seq, REFUSED, refused.code, refused.message, refused.params)
        return EventResult(event.seq, APPLIED)

    def _check_operator(self, operator_id: str) -> None:
        # Accounts cannot change inside this write transaction, and a batch is one
        # operator's work far more often than not: judge each account once per batch.
        if operator_id not in self._operators:
            user = account_store.get_user(self.conn, operator_id)
            self._operators[operator_id] = operator_refusal(
                operator_id=operator_id,
                role=user.role if user else None,
                active=bool(user and user.is_active),
                operator_kecamatan=user.kecamatan if user else None,
                kecamatan=self.device.kecamatan,
            )
        _refuse_if(self._operators[operator_id])

    def _check_address(self, app: Application) -> None:
        _refuse_if(address_refusal(app, self.device.kecamatan))

    def _create(self, event: ChangeEvent) -> None:
        if log_store.get_application(self.conn, event.application_id) is not None:
            raise _Refused.of("application.duplicate", application_id=event.application_id)
        app = event.application()
        self._check_address(app)
        to_state = self._transition(None, event, None)
        at = stamp(self.now)
        snapshot = _snapshot(event)
        log_store.insert_application(
            self.conn,
            log_store.ApplicationRecord(
                application_id=event.application_id,
                owner_device_id=self.device.device_id,
                kecamatan=self.device.kecamatan,
                state=to_state.value,
                snapshot=snapshot,
                created_at=at,
                updated_at=at,
            ),
        )
        duplicates.index_members(self.conn, event.application_id, snapshot)
        self._trail(event, None, to_state, None)

    def _owned(self, event: ChangeEvent) -> ApplicationRecord:
        """The application the event names, held by this device (else refused)."""
        record = log_store.get_application(self.conn, event.application_id)
        if record is None:
            raise _Refused.of("application.unknown", application_id=event.application_id)
        if record.owner_device_id != self.device.device_id:
            raise _Refused.of("application.not_owner", application_id=event.application_id)
        return record

    def _resend(self, event: ChangeEvent) -> None:
        """A failed or "perlu dicek" message of the application, sent again as a new one
        through the outbox (:func:`sync_server.services.whatsapp.outbox.resend`)."""
        try:
            row = whatsapp.resend_for_application(
                self.conn,
                message_id_from_body(event.body),
                event.application_id,
                now=self.now,
            )
        except Refusal as exc:
            raise _Refused(exc.code, exc.message, exc.params) from None
        log.info(
            "whatsapp resend requested device=%s seq=%d operator=%s new=%s",
            self.device.device_id,
            event.seq,
            event.operator_id,
            row.id,
        )

    def _attach_inbox(self, event: ChangeEvent, record: ApplicationRecord) -> None:
        """A document the applicant sent by WhatsApp, attached to the application through
        :func:`sync_server.services.whatsapp.inbound.attach_in` (this kecamatan's item,
        while the counter may still change the application)."""
        state = State(record.state)
        if not counter_may_edit(state):
            raise _Refused.of("scan.not_editable", state=state.label)
        try:
            inbound.attach_in(
                self.conn,
                inbox_item_from_body(event.body),
                event.application_id,
                actor_id=event.operator_id,
                now=self.now,
                kecamatan=self.device.kecamatan,
            )
        except Refusal as exc:
            raise _Refused(exc.code, exc.message, exc.params) from None

    def _move(self, event: ChangeEvent) -> None:
        record = self._owned(event)
        reasons = reasons_from_body(event.body) if event.kind in _WITH_REASONS else None
        from_state = State(record.state)
        to_state = self._transition(from_state, event, reasons)
        snapshot = record.snapshot
        if event.kind is EventKind.APPLICATION_EDITED:
            self._check_address(event.application())
            snapshot = _snapshot(event)
            duplicates.index_members(self.conn, event.application_id, snapshot)
        if event.kind in _NEEDS_READINESS:
            self._check_ready(snapshot)
            duplicates.flag_on_submission(
                self.conn, event.application_id, snapshot, at=stamp(self.now)
            )
        archiving = to_state is State.ARCHIVED
        if archiving:  # the package may still refuse the move: undo it then
            self.conn.execute("SAVEPOINT archive_move")
        log_store.update_application(
            self.conn,
            event.application_id,
            state=to_state.value,
            snapshot=snapshot,
            at=stamp(self.now),
        )
        self._trail(event, from_state, to_state, reasons)
        if archiving:
            self._archive(event)
        whatsapp.on_move(self.conn, record, EVENT_ACTIONS[event.kind], reasons, now=self.now)

    def _archive(self, event: ChangeEvent) -> None:
        """The immutable archive package, in this transaction (design.md §1)."""
        try:
            archive.build_package(
                self.conn, event.application_id, now=self.now, archive_event=event.to_wire()
            )
        except KKError as exc:  # archive.incomplete, or the Biodata cannot be rendered
            self.conn.execute("ROLLBACK TO archive_move")
            self.conn.execute("RELEASE archive_move")
            params = exc.params if isinstance(exc, Refusal) else {}
            raise _Refused(exc.code, exc.message, params) from None
        self.conn.execute("RELEASE archive_move")

    def _transition(
        self, state: State | None, event: ChangeEvent, reasons: Reasons | None
    ) -> State:
        try:
            return transition(state, EVENT_ACTIONS[event.kind], Role.OPERATOR, reasons)
        except KKError as exc:  # WorkflowError, or ValidationError for unknown reason items
            params: dict[str, Any] = {}
            if isinstance(exc, ValidationError):
                params["issues"] = [issue.to_dict() for issue in exc.issues]
            raise _Refused(exc.code, exc.message, params) from None

    def _check_ready(self, snapshot: str) -> None:
        try:
            report, missing = readiness(
                Application.from_dict(json.loads(snapshot)), today=self.today
            )
            found = [*report.issues, *missing]
        except ValidationError as exc:  # a snapshot that today's model no longer reads
            found = list(exc.issues)
        if found:
            codes = sorted({issue.code for issue in found})
            raise _Refused(
                "application.not_ready",
                message_for("application.not_ready", count=len(found), codes=", ".join(codes)),
                {
                    "count": len(found),
                    "codes": codes,
                    "issues": [issue.to_dict() for issue in found],
                },
            )

    def _trail(
        self, event: ChangeEvent, from_state: State | None, to_state: State, reasons: Reasons | None
    ) -> None:
        log_store.append_trail(
            self.conn,
            TrailEntry(
                application_id=event.application_id,
                device_id=event.device_id,
                seq=event.seq,
                actor_id=event.operator_id,
                role=Role.OPERATOR.value,
                action=EVENT_ACTIONS[event.kind].value,
                from_state=from_state.value if from_state else None,
                to_state=to_state.value,
                reasons=json.dumps(reasons.to_dict(), ensure_ascii=False) if reasons else None,
                device_time=event.created_at,
                server_time=stamp(self.now),
            ),
        )


def _snapshot(event: ChangeEvent) -> str:
    """The application exactly as the device signed it, in canonical JSON."""
    # Part of the signed bytes, so already checked to have a canonical form.
    return canonical_json(event.body["application"], checked=True).decode("utf-8")


def receive_push(
    db: Database,
    device: Device,
    raw_body: bytes,
    content_encoding: str | None,
    *,
    limits: PushLimits,
    now: datetime,
) -> PushOutcome:
    """The whole push after authentication: decode, check, store. Blocking: run in a thread."""
    data = decode_body(raw_body, content_encoding, max_decompressed=limits.max_decompressed_bytes)
    wire_events = parse_batch(data, max_events=limits.max_events)
    events = check_batch(device, wire_events)
    return store_batch(db, device, events, now=now, scan_limits=limits.scans)
