"""``message.resend``: a counter asks the server to re-send a failed or "perlu dicek"
WhatsApp message, over the real push API.

The server queues a NEW message (same purpose and text, its own id) and never retries the
old one; it refuses, with stable codes the operator sees after the pull, a message that is
not re-sendable (a "perlu dicek" the webhook settled meanwhile), one of another
application, and a second request for the same message. The counter refuses the same
cases before recording anything.
"""

from __future__ import annotations

import uuid

import pytest

from field_client.errors import ResendRefused
from protocol.application import Application
from protocol.events import EventKind
from protocol.whatsapp import DeliveryStatus, MessagePurpose
from signing.events import build_event
from sync_server.clock import utc_now
from sync_server.errors import Refusal
from sync_server.services.whatsapp import outbox
from sync_server.storage import changelog as log_store
from sync_server.storage import db as server_db
from sync_server.storage import outbox as outbox_store
from tests.factories import application_dict
from tests.integration.test_pull import Terminal, submitted_application


def queue(server, app_id: str, purpose: MessagePurpose) -> str:
    """A message the server's outbox queued for the application (transport off)."""
    with server.db.write() as conn:
        record = log_store.get_application(conn, app_id)
        return outbox.enqueue(conn, record, purpose, now=utc_now()).id


def fail(server, message_id: str) -> None:
    with server.db.write() as conn:
        outbox.record_failed(
            conn, message_id, code="131026", reason="Nomor tidak dapat menerima.", now=utc_now()
        )


def rows_of(server, app_id: str) -> list[outbox_store.OutboxRow]:
    with server.db.read() as conn:
        return outbox_store.of_application(conn, app_id)


def unchecked_event(
    terminal: Terminal, operator_id: str, app_id: str, kind: EventKind, body: dict
) -> None:
    """An event recorded without the counter's own checks (an older counter, or a store
    restored from a backup): only the server's judgement stands in its way."""
    with terminal.store.transaction() as tx:
        head = tx.chain_head()
        tx.append_event(
            build_event(
                key=terminal.device.key,
                device_id=terminal.device_id,
                operator_id=operator_id,
                previous_seq=head.seq,
                previous_hash=head.hash,
                kind=kind,
                application_id=app_id,
                body=body,
                at=utc_now(),
            )
        )


def unchecked_resend(terminal: Terminal, operator_id: str, app_id: str, message_id: str) -> None:
    """A ``message.resend`` past the counter's checks."""
    unchecked_event(
        terminal, operator_id, app_id, EventKind.MESSAGE_RESEND, {"message_id": message_id}
    )


def test_a_failed_message_is_resent_once_as_a_new_message(server, client, terminal, operator_id):
    app_id = submitted_application(terminal, client, operator_id)
    failed = queue(server, app_id, MessagePurpose.RETURNED)
    fail(server, failed)
    waiting = queue(server, app_id, MessagePurpose.INCOMPLETE)
    terminal.pull(client)

    with pytest.raises(ResendRefused) as refused:  # still queued: nothing to re-send
        terminal.counter.resend_message(app_id, waiting, operator_id=operator_id)
    assert refused.value.code == "outbox.not_resendable"
    assert "Dalam antrean" in refused.value.message
    with pytest.raises(ResendRefused) as refused:
        terminal.counter.resend_message(app_id, "0" * 32, operator_id=operator_id)
    assert refused.value.code == "outbox.not_found"
    assert terminal.store.pending_events() == []

    terminal.counter.resend_message(app_id, failed, operator_id=operator_id)
    with pytest.raises(ResendRefused) as refused:  # asked already: not a second new message
        terminal.counter.resend_message(app_id, failed, operator_id=operator_id)
    assert refused.value.code == "outbox.already_resent"
    [result] = terminal.push(client)
    assert result["status"] == "applied", result

    old, queued, new = rows_of(server, app_id)
    assert (old.id, old.status, old.attempts) == (failed, DeliveryStatus.FAILED, 0)
    assert queued.id == waiting
    assert new.id not in (failed, waiting) and new.status is DeliveryStatus.QUEUED
    assert (new.purpose, new.params, new.recipient) == (old.purpose, old.params, old.recipient)

    terminal.pull(client)
    statuses = {m.message_id: m.status for m in terminal.store.message_statuses(app_id)}
    assert statuses == {failed: "failed", waiting: "queued", new.id: "queued"}

    # A second request for the same message that slipped past the counter: refused.
    unchecked_resend(terminal, operator_id, app_id, failed)
    [result] = terminal.push(client)
    assert (result["status"], result["code"]) == ("refused", "outbox.already_resent")
    assert len(rows_of(server, app_id)) == 3


def test_a_message_is_resent_once_whichever_path_asks_first(server, client, terminal, operator_id):
    """The CLI (staff after a phone call) and a counter may both decide to re-send the same
    failed message; the applicant must get it once more, not twice."""
    app_id = submitted_application(terminal, client, operator_id)
    failed = queue(server, app_id, MessagePurpose.RETURNED)
    fail(server, failed)
    with server.db.write() as conn:
        first = outbox.resend(conn, failed, now=utc_now())
    with server.db.write() as conn, pytest.raises(Refusal) as refused:
        outbox.resend(conn, failed, now=utc_now())
    assert refused.value.code == "outbox.already_resent"

    unchecked_resend(terminal, operator_id, app_id, failed)  # the counter had not pulled yet
    [result] = terminal.push(client)
    assert (result["status"], result["code"]) == ("refused", "outbox.already_resent")
    assert [(r.id, r.resent_as) for r in rows_of(server, app_id)] == [
        (failed, first.id),
        (first.id, None),
    ]


def test_upgrading_keeps_messages_resent_before_the_upgrade_from_being_resent_again(
    server, client, terminal, operator_id
):
    app_id = submitted_application(terminal, client, operator_id)
    failed = queue(server, app_id, MessagePurpose.RETURNED)
    fail(server, failed)
    terminal.pull(client)
    terminal.counter.resend_message(app_id, failed, operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied"]
    # As a file from before ``resent_as``: only the applied event says it was re-sent.
    version = server_db._MIGRATIONS.index(server_db._SCHEMA_OUTBOX_RESENT)
    with server.db.write() as conn:
        conn.execute("ALTER TABLE whatsapp_outbox DROP COLUMN resent_as")
        conn.execute(f"PRAGMA user_version = {version}")

    server.db.migrate()

    assert [r.resent_as for r in rows_of(server, app_id)] == [failed, None]
    with server.db.write() as conn, pytest.raises(Refusal) as refused:
        outbox.resend(conn, failed, now=utc_now())
    assert refused.value.code == "outbox.already_resent"


def test_a_settled_or_foreign_message_is_refused_with_a_stable_code(
    server, client, terminal, operator_id
):
    app_id = submitted_application(terminal, client, operator_id)
    other = Application.from_dict(application_dict(id=str(uuid.uuid4())))
    terminal.counter.create_application(other, operator_id=operator_id)
    other_id = other.id
    assert [r["status"] for r in terminal.push(client)] == ["applied"]
    unknown = queue(server, app_id, MessagePurpose.RETURNED)
    with server.db.write() as conn:
        assert outbox.claim(conn, unknown, now=utc_now()) is not None
        outbox.record_unknown(conn, unknown, code="timeout", reason="Perlu dicek.", now=utc_now())
    terminal.pull(client)

    # The operator asks while it is "perlu dicek"; before the push, the webhook settles it.
    terminal.counter.resend_message(app_id, unknown, operator_id=operator_id)
    with server.db.write() as conn:
        outbox.apply_report(
            conn,
            outbox_id=unknown,
            provider_id="wamid.settled",
            status=DeliveryStatus.DELIVERED,
            code=None,
            reason="",
            now=utc_now(),
        )
    [result] = terminal.push(client)
    assert (result["status"], result["code"]) == ("refused", "outbox.not_resendable")
    assert "Sampai di ponsel pemohon" in result["message"]

    # A message of another application of this counter is not this application's.
    unchecked_resend(terminal, operator_id, other_id, unknown)
    [result] = terminal.push(client)
    assert (result["status"], result["code"]) == ("refused", "outbox.not_found")
    assert [r.id for r in rows_of(server, app_id)] == [unknown]
    assert rows_of(server, other_id) == []

    # The refusals reach the counter; the request no longer counts as made.
    terminal.pull(client)
    assert terminal.store.resend_requested(app_id) == set()
