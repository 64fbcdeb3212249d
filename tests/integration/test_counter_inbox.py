"""The kecamatan's WhatsApp inbox at the counter, at 80x24, with the fake Cloud API and a
real server: the applicant sends a PDF to the office number, the server stores it and tells
the counter, the operator sees it in the inbox (F6), attaches it to the sender's
application (suggested by the server) after a confirmation, and the server records the
attachment when the ``inbox.attached`` event arrives. The server refuses an attachment the
counter should not make (another kecamatan's item, an application past the counter, an item
already attached elsewhere) with stable codes.
"""

# The fixtures are shared with other modules; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import uuid

import pytest

from field_client.errors import InboxRefused
from field_client.screens import InboxScreen
from field_client.screens.dialogs import ConfirmDialog
from field_client.screens.inbox import PickApplicationDialog
from protocol.application import Application
from protocol.events import EventKind
from protocol.workflow import Reasons
from sync_server.storage import inbox as inbox_store
from tests.factories import application_dict
from tests.integration.conftest import LAIS, OPERATOR_PASSWORD, add_operator
from tests.integration.test_counter_application_view import config, record  # noqa: F401
from tests.integration.test_message_resend import unchecked_event
from tests.integration.test_pull import open_terminal, server_app
from tests.integration.test_whatsapp_cloud_api import APPLICANT, incomplete_application
from tests.integration.test_whatsapp_inbound import server_config, settled  # noqa: F401
from tests.integration.test_whatsapp_webhook import fake, server  # noqa: F401
from tests.support.counter_ui import SIZE, app_for, log_in, text, until
from tests.support.scan_samples import pdf_scan

WITHDRAWN = Reasons(text="Pemohon membatalkan permohonan")


def inbox_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#inbox")
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def item_of(server, item_id: int) -> inbox_store.InboxItem:
    with server.db.read() as conn:
        item = inbox_store.get(conn, item_id)
    assert item is not None
    return item


async def test_a_document_sent_by_whatsapp_is_attached_at_the_counter(server, client, config, fake):
    operator_id = add_operator(server, "budi", full_name="Budi Santoso")
    app_id = await record(config, operator_id, submit=False)
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        await until(pilot, lambda: server_app(server, app_id)["state"] == "draft")
        fake.send_inbound_media(APPLICANT, pdf_scan("Buku Nikah"), "application/pdf")
        [item] = settled(server, 1)
        assert (item.status, item.application_id) == ("stored", app_id)

        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, InboxScreen))
        app.action_sync_now()
        await until(pilot, lambda: len(inbox_rows(app)) == 1)
        name = app.store.get_application(app_id).application.applicant.nama
        [row] = inbox_rows(app)
        assert row[1:3] == ["+" + APPLICANT, "PDF"] and row[4] == name

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PickApplicationDialog))
        await pilot.press("enter")  # the sender's application is the one highlighted
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert f"ke permohonan {name}?" in text(app, "#question")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, InboxScreen))
        await until(pilot, lambda: inbox_rows(app)[0][4] == f"Dilampirkan: {name}")
        assert app.store.inbox_attachments() == {item.id: app_id}

        app.action_sync_now()
        await until(pilot, lambda: item_of(server, item.id).attached_to == app_id, timeout=30)
        assert item_of(server, item.id).attached_by == operator_id
        [entry] = [e for e in app.store.history(app_id) if e.event.kind == "inbox.attached"]
        assert entry.event.body == {"item_id": item.id}

        await pilot.press("enter")  # once is enough
        await pilot.pause()
        assert isinstance(app.screen, InboxScreen)
        with pytest.raises(InboxRefused) as refused:
            app.actions().attach_inbox_document(app_id, item.id, operator_id=operator_id)
        assert refused.value.code == "inbox.attached_here"


def unchecked(terminal, operator_id: str, app_id: str, item_id: int) -> None:
    """An ``inbox.attached`` past the counter's checks: only the server stands in the way."""
    unchecked_event(terminal, operator_id, app_id, EventKind.INBOX_ATTACHED, {"item_id": item_id})


def test_the_server_refuses_an_attachment_the_counter_may_not_make(
    server, client, terminal, operator_id, fake
):
    app_id = incomplete_application(terminal, client, operator_id)
    fake.send_inbound_media(APPLICANT, pdf_scan(), "application/pdf")
    [item] = settled(server, 1)
    terminal.pull(client)
    other = Application.from_dict(application_dict(id=str(uuid.uuid4())))
    terminal.counter.create_application(other, operator_id=operator_id)
    terminal.counter.withdraw(other.id, WITHDRAWN, operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied", "applied"]

    with pytest.raises(InboxRefused) as refused:  # not in this counter's inbox
        terminal.counter.attach_inbox_document(app_id, 999, operator_id=operator_id)
    assert refused.value.code == "inbox.not_found"

    terminal.counter.attach_inbox_document(app_id, item.id, operator_id=operator_id)
    unchecked(terminal, operator_id, other.id, item.id)  # withdrawn: past the counter
    unchecked(terminal, operator_id, app_id, 999)  # no such item
    results = terminal.push(client)
    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", None),
        ("refused", "scan.not_editable"),
        ("refused", "inbox.not_found"),
    ]
    assert item_of(server, item.id).attached_to == app_id

    third = Application.from_dict(application_dict(id=str(uuid.uuid4())))
    terminal.counter.create_application(third, operator_id=operator_id)
    unchecked(terminal, operator_id, third.id, item.id)  # already attached to app_id
    results = terminal.push(client)
    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", None),
        ("refused", "inbox.already_attached"),
    ]
    with server.db.write() as conn:
        conn.execute("UPDATE whatsapp_inbox SET kecamatan = ? WHERE id = ?", (LAIS, item.id))
    unchecked(terminal, operator_id, app_id, item.id)  # now another kecamatan's item
    [result] = terminal.push(client)
    assert (result["status"], result["code"]) == ("refused", "inbox.wrong_kecamatan")
    assert item_of(server, item.id).attached_to == app_id


def test_every_counter_of_the_kecamatan_sees_an_item_taken_elsewhere(
    server, client, terminal, operator_id, fake, tmp_path
):
    """Two counters of Sekayu both list the applicant's document; once one attaches it, the
    other shows it as taken and refuses to attach it again before recording anything."""
    app_id = incomplete_application(terminal, client, operator_id)
    neighbour = open_terminal(server, client, tmp_path / "neighbour.db")
    fake.send_inbound_media(APPLICANT, pdf_scan(), "application/pdf")
    [item] = settled(server, 1)
    terminal.pull(client)
    neighbour.pull(client)
    assert [d.item_id for d in neighbour.store.inbox_documents()] == [item.id]
    assert neighbour.store.inbox_attachments() == {}
    mine = Application.from_dict(application_dict(id=str(uuid.uuid4())))
    neighbour.counter.create_application(mine, operator_id=operator_id)

    terminal.counter.attach_inbox_document(app_id, item.id, operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied"]
    neighbour.pull(client)

    assert neighbour.store.inbox_attachments() == {item.id: app_id}
    pending = len(neighbour.store.pending_events())
    with pytest.raises(InboxRefused) as refused:
        neighbour.counter.attach_inbox_document(mine.id, item.id, operator_id=operator_id)
    assert refused.value.code == "inbox.already_attached"
    assert len(neighbour.store.pending_events()) == pending
    terminal.pull(client)  # the attaching counter is told too: nothing changes for it
    assert terminal.store.inbox_attachments() == {item.id: app_id}
    neighbour.store.close()


async def test_the_inbox_screen_shows_an_item_taken_at_another_counter(
    server, client, config, fake, tmp_path
):
    operator_id = add_operator(server, "budi", full_name="Budi Santoso")
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        other = open_terminal(server, client, tmp_path / "other.db")
        app_id = incomplete_application(other, client, operator_id)
        fake.send_inbound_media(APPLICANT, pdf_scan(), "application/pdf")
        [item] = settled(server, 1)
        other.pull(client)
        other.counter.attach_inbox_document(app_id, item.id, operator_id=operator_id)
        assert [r["status"] for r in other.push(client)] == ["applied"]

        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, InboxScreen))
        app.action_sync_now()
        await until(pilot, lambda: inbox_rows(app) and inbox_rows(app)[0][4] != "-")
        assert inbox_rows(app)[0][4] == "Dilampirkan di loket lain"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, InboxScreen)  # nothing to pick: it is taken
        other.store.close()
