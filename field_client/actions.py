"""What an operator does at the counter, each action one SQLite transaction.

:class:`Counter` turns an operator's action into a workflow transition plus one signed event
of the device's change log (:mod:`protocol.events`). Every action, inside one
``BEGIN IMMEDIATE`` transaction of the :class:`~field_client.store.Store`:

1. checks the device is enrolled (with this key), the operator account is active and of
   this kecamatan, and a created or edited application's address is in this kecamatan
   (the server refuses both otherwise; catching them here tells the operator at once,
   not days later after a sync);
2. refuses an application the server moved to another device (``application.transferred_away``:
   it is read-only here), then reads its current state and judges the move with
   :func:`protocol.workflow.transition` as :attr:`Role.OPERATOR` (so data can only be edited
   in the states :func:`~protocol.workflow.counter_may_edit` allows, and reasons are
   checked);
3. for ``submit``/``resubmit``, requires :func:`protocol.validation.readiness` to be clean:
   no errors, no warning left without an override, no missing document;
4. builds and signs the event on the chain head read in the same transaction;
5. writes the state change and the outbox row, and commits.

Any failure raises the domain's typed error and writes nothing. The server is the authority
on transitions: it judges every event again when it arrives, and a refusal comes back on the
push answer (:meth:`Store.record_push_result`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from field_client import scans
from field_client.errors import (
    ApplicationExists,
    ApplicationNotFound,
    ApplicationOutsideKecamatan,
    ApplicationTransferred,
    DeviceKeyMismatch,
    DeviceNotEnrolled,
    InboxRefused,
    OperatorNotPermitted,
    ResendRefused,
    ScanError,
)
from field_client.recompress import recompress as recompress_photo
from field_client.scans import AttachedScan, DataKey
from field_client.store import Device, Store, Transaction
from protocol.application import Application
from protocol.errors import ValidationError
from protocol.events import EVENT_ACTIONS, ChangeEvent, EventKind, format_timestamp
from protocol.jurisdiction import address_refusal, office_date, operator_refusal
from protocol.validation import readiness
from protocol.whatsapp import RESENDABLE
from protocol.workflow import Action, Reasons, Role, State, counter_may_edit, transition
from signing.events import build_event
from signing.keys import public_key_b64

__all__ = ["Counter", "utc_now"]


def utc_now() -> datetime:
    """The device clock, timezone-aware in UTC."""
    return datetime.now(UTC)


class Counter:
    """The operator actions of one counter device.

    Args:
        store: the counter's open store.
        key: the device's Ed25519 private key (the one it enrolled with).
        now: the clock; returns an aware datetime. Injected so tests control time.
    """

    def __init__(
        self,
        store: Store,
        key: Ed25519PrivateKey,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._key = key
        self._public_key = public_key_b64(key)
        self._now = now

    # -- actions -----------------------------------------------------------------------

    def create_application(self, app: Application, *, operator_id: str) -> ChangeEvent:
        """Record a new application in ``draft``. Refuses an id already stored."""
        return _recorded(
            self._act(
                app.id,
                EventKind.APPLICATION_CREATED,
                operator_id=operator_id,
                body={"application": app.to_dict()},
                new_data=app,
            )
        )

    def edit_application(self, app: Application, *, operator_id: str) -> ChangeEvent | None:
        """Replace the application's data while the counter owns it.

        Returns ``None`` and writes nothing when the data is unchanged: saving the same form
        twice is not an event worth sending or auditing.
        """
        return self._act(
            app.id,
            EventKind.APPLICATION_EDITED,
            operator_id=operator_id,
            body={"application": app.to_dict()},
            new_data=app,
        )

    def mark_incomplete(
        self, application_id: str, reasons: Reasons, *, operator_id: str
    ) -> ChangeEvent:
        """``draft`` -> ``incomplete`` with the missing checklist items. The server sends the
        applicant the WhatsApp notice when the event arrives."""
        return _recorded(
            self._act(
                application_id,
                EventKind.MARKED_INCOMPLETE,
                operator_id=operator_id,
                body={"reasons": reasons.to_dict()},
                reasons=reasons,
            )
        )

    def submit(self, application_id: str, *, operator_id: str) -> ChangeEvent:
        """``draft``/``incomplete`` -> ``submitted``; the application must be ready."""
        return _recorded(self._act(application_id, EventKind.SUBMITTED, operator_id=operator_id))

    def resubmit(self, application_id: str, *, operator_id: str) -> ChangeEvent:
        """``returned``/``tte_rejected`` -> ``submitted``; the application must be ready."""
        return _recorded(self._act(application_id, EventKind.RESUBMITTED, operator_id=operator_id))

    def withdraw(self, application_id: str, reasons: Reasons, *, operator_id: str) -> ChangeEvent:
        """The applicant cancels while the counter owns the application."""
        return _recorded(
            self._act(
                application_id,
                EventKind.WITHDRAWN,
                operator_id=operator_id,
                body={"reasons": reasons.to_dict()},
                reasons=reasons,
            )
        )

    def issue(self, application_id: str, *, operator_id: str) -> ChangeEvent:
        """``signed`` -> ``issued``: ask the server to send the signed KK to the applicant."""
        return _recorded(self._act(application_id, EventKind.ISSUED, operator_id=operator_id))

    def archive(self, application_id: str, *, operator_id: str) -> ChangeEvent:
        """``issued`` -> ``archived``: step 6 of the SOP is done."""
        return _recorded(self._act(application_id, EventKind.ARCHIVED, operator_id=operator_id))

    def attach_scan(
        self,
        application_id: str,
        document: str,
        content: bytes,
        *,
        operator_id: str,
        key: DataKey,
        recompress: bool = True,
    ) -> AttachedScan:
        """Attach a scan of the requirement document ``document`` (JPEG, PNG or PDF).

        In one transaction: the usual device, operator and ownership checks; the file is
        encrypted and stored (:func:`field_client.scans.attach`: deduplicated, refused by
        content type and size), and a ``scan.attached`` event naming it by id is appended
        so the server knows which scans the application carries. Attaching the same file
        to the same application again writes nothing. ``key`` is the operator's unlocked
        data key (:meth:`Store.unlock_scans`). With ``recompress`` (the office setting
        ``CounterConfig.recompress_photos``) a camera photo is first made document-sized
        (:mod:`field_client.recompress`); :attr:`AttachedScan.saved_bytes` is the saving to
        show the operator. Recompression runs before the transaction (it takes a second or
        two for a 12 MP photo): call this off the UI thread.
        """
        original_bytes = len(content)
        if recompress:
            content = recompress_photo(content).content
        moment = self._now()
        with self._store.transaction() as tx:
            device, state = self._held_here(tx, application_id, operator_id)
            if not counter_may_edit(state):
                raise ScanError.of("scan.not_editable", state=state.label)
            at = format_timestamp(moment)
            attached = scans.attach(
                tx,
                self._store.scan_folder,
                key,
                application_id,
                document,
                content,
                at=at,
                original_bytes=original_bytes,
            )
            if attached.newly_linked:
                event = self._next_event(
                    tx,
                    device,
                    operator_id,
                    EventKind.SCAN_ATTACHED,
                    application_id,
                    attached.reference(document).to_body(),
                    moment,
                )
                tx.update_application(
                    application_id, state=state, at=event.created_at, last_seq=event.seq
                )
                tx.append_event(event)
        return attached

    def resend_message(
        self, application_id: str, message_id: str, *, operator_id: str
    ) -> ChangeEvent:
        """Ask the server to send a failed or "perlu dicek" WhatsApp message again, as a new
        message (``message.resend``). Refused here, as the server would refuse it, when the
        message is not one of the application's, is neither failed nor "perlu dicek", or was
        already asked for. No workflow move."""
        moment = self._now()
        with self._store.transaction() as tx:
            device, state = self._held_here(tx, application_id, operator_id)
            message = next(
                (m for m in tx.message_statuses(application_id) if m.message_id == message_id),
                None,
            )
            if message is None:
                raise ResendRefused.of("outbox.not_found", message_id=message_id)
            if message_id in tx.resend_requested(application_id):
                raise ResendRefused.of("outbox.already_resent", message_id=message_id)
            if message.status not in RESENDABLE:
                raise ResendRefused.of("outbox.not_resendable", status_label=message.label)
            return self._record_beside(
                tx,
                device,
                operator_id,
                EventKind.MESSAGE_RESEND,
                application_id,
                {"message_id": message_id},
                state,
                moment,
            )

    def attach_inbox_document(
        self, application_id: str, item_id: int, *, operator_id: str
    ) -> ChangeEvent:
        """Attach a document the applicant sent by WhatsApp (an item of this kecamatan's
        inbox, :meth:`Store.inbox_documents`) to the application (``inbox.attached``), while
        the counter may still change it. Refused here when the item is not in this
        counter's inbox or already went to another application. No workflow move."""
        moment = self._now()
        with self._store.transaction() as tx:
            device, state = self._held_here(tx, application_id, operator_id)
            if not counter_may_edit(state):
                raise ScanError.of("scan.not_editable", state=state.label)
            if item_id not in {d.item_id for d in tx.inbox_documents()}:
                raise InboxRefused.of("inbox.not_found", item_id=item_id)
            attached_to = tx.inbox_attachments().get(item_id)
            if attached_to == application_id:
                raise InboxRefused.of("inbox.attached_here", item_id=item_id)
            if attached_to is not None:
                raise InboxRefused.of("inbox.already_attached", item_id=item_id)
            return self._record_beside(
                tx,
                device,
                operator_id,
                EventKind.INBOX_ATTACHED,
                application_id,
                {"item_id": item_id},
                state,
                moment,
            )

    # -- changes that come from the server ---------------------------------------------

    def apply_server_state(self, application_id: str, state: State) -> None:
        """Mirror a state the centre decided (verified, returned, signed ...).

        Pulled events take this path inside :meth:`Store.apply_server_events`, through the
        same seam (:meth:`Transaction.set_server_state`) in the pull's own transaction; call
        this only with a state from a verified server event. No outbox event is written,
        because the change is the server's, not this device's; the server is the authority,
        so its state is taken as it is rather than judged here.
        """
        at = self._timestamp()
        with self._store.transaction() as tx:
            if not tx.set_server_state(application_id, State(state), at=at):
                raise ApplicationNotFound.of("application.unknown", application_id=application_id)

    # -- the one code path every action takes ------------------------------------------

    def _act(
        self,
        application_id: str,
        kind: EventKind,
        *,
        operator_id: str,
        body: Mapping[str, Any] | None = None,
        reasons: Reasons | None = None,
        new_data: Application | None = None,
    ) -> ChangeEvent | None:
        moment = self._now()
        if moment.tzinfo is None:
            raise ValueError("the clock must return timezone-aware datetimes")
        with self._store.transaction() as tx:
            device = self._enrolled_device(tx)
            self._check_operator(tx, operator_id, device)
            record = tx.application_record(application_id)
            state, stored = (None, None) if record is None else record
            if kind is EventKind.APPLICATION_CREATED and stored is not None:
                raise ApplicationExists.of("application.duplicate", application_id=application_id)
            if kind is not EventKind.APPLICATION_CREATED and stored is None:
                raise ApplicationNotFound.of("application.unknown", application_id=application_id)
            _refuse_if_transferred(tx, application_id)
            action = EVENT_ACTIONS[kind]
            new_state = transition(state, action, Role.OPERATOR, reasons)
            refusal = new_data and address_refusal(new_data, device.kecamatan)
            if refusal:
                raise ApplicationOutsideKecamatan.from_issue(refusal)
            if action in (Action.SUBMIT, Action.RESUBMIT):
                assert stored is not None  # checked above: only create has no stored row
                _require_ready(Application.from_dict(stored), today=office_date(moment))
            if kind is EventKind.APPLICATION_EDITED and new_data is not None:
                if new_data.to_dict() == stored:
                    return None
            event = self._next_event(
                tx, device, operator_id, kind, application_id, body or {}, moment
            )
            if kind is EventKind.APPLICATION_CREATED:
                assert new_data is not None
                tx.insert_application(
                    new_data, state=new_state, at=event.created_at, last_seq=event.seq
                )
            else:
                tx.update_application(
                    application_id,
                    state=new_state,
                    at=event.created_at,
                    last_seq=event.seq,
                    app=new_data,
                )
            tx.append_event(event)
        return event

    def _held_here(
        self, tx: Transaction, application_id: str, operator_id: str
    ) -> tuple[Device, State]:
        """The device and the application's state, for an action that moves no state: the
        device, the operator and the application must all be this counter's."""
        device = self._enrolled_device(tx)
        self._check_operator(tx, operator_id, device)
        state = tx.application_state(application_id)
        if state is None:
            raise ApplicationNotFound.of("application.unknown", application_id=application_id)
        _refuse_if_transferred(tx, application_id)
        return device, state

    def _record_beside(
        self,
        tx: Transaction,
        device: Device,
        operator_id: str,
        kind: EventKind,
        application_id: str,
        body: Mapping[str, Any],
        state: State,
        moment: datetime,
    ) -> ChangeEvent:
        """Append an event that moves no state (the application keeps ``state``)."""
        event = self._next_event(tx, device, operator_id, kind, application_id, body, moment)
        tx.update_application(application_id, state=state, at=event.created_at, last_seq=event.seq)
        tx.append_event(event)
        return event

    def _next_event(
        self,
        tx: Transaction,
        device: Device,
        operator_id: str,
        kind: EventKind,
        application_id: str,
        body: Mapping[str, Any],
        moment: datetime,
    ) -> ChangeEvent:
        """The signed event that follows the chain head read in this transaction."""
        head = tx.chain_head()
        return build_event(
            key=self._key,
            device_id=device.device_id,
            operator_id=operator_id,
            previous_seq=head.seq,
            previous_hash=head.hash,
            kind=kind,
            application_id=application_id,
            body=body,
            at=moment,
        )

    def _enrolled_device(self, tx: Transaction) -> Device:
        device = tx.device()
        if device is None:
            raise DeviceNotEnrolled.of("device.not_enrolled")
        if device.public_key != self._public_key:
            # Signing with another key would make every event fail at the server.
            raise DeviceKeyMismatch.of("device.key_mismatch", device_id=device.device_id)
        return device

    def _check_operator(self, tx: Transaction, operator_id: str, device: Device) -> None:
        operator = tx.operator(operator_id)
        # Accounts pulled to a counter are operator accounts only (the server sends no other).
        refusal = operator_refusal(
            operator_id=operator_id,
            role=Role.OPERATOR if operator else None,
            active=bool(operator and operator.active),
            operator_kecamatan=operator.kecamatan if operator else None,
            kecamatan=device.kecamatan,
        )
        if refusal:
            raise OperatorNotPermitted.from_issue(refusal)

    def _timestamp(self) -> str:
        return format_timestamp(self._now())


def _refuse_if_transferred(tx: Transaction, application_id: str) -> None:
    # The server gave it to another device; an event from here would be refused
    # (application.not_owner) days later, so refuse it now.
    moved_to = tx.transferred_to(application_id)
    if moved_to is not None:
        raise ApplicationTransferred.of(
            "application.transferred_away", application_id=application_id, device_id=moved_to
        )


def _recorded(event: ChangeEvent | None) -> ChangeEvent:
    # Only an unchanged edit writes nothing; every other action records an event or raises.
    assert event is not None
    return event


def _require_ready(app: Application, *, today: date) -> None:
    """Raise :class:`ValidationError` with every blocking issue and every missing document."""
    report, missing = readiness(app, today=today)
    if not report.ok or missing:
        raise ValidationError([*report.issues, *missing])
