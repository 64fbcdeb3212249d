"""The applicant's WhatsApp messages and the signed KK on the application screen, at 80x24
against a real server.

The centre signs the KK (TTE with the demo PKI); the counter pulls it, downloads and checks
the PDF, and shows its number, when it was signed, that it is here, and its size; the
operator saves a copy to a folder and gets the exact signed file. Issuing and archiving
queue messages on the server; as the server's outbox records what happened to each (sent,
failed with a reason, outcome unknown), the counter shows it in words after its next pull.
"""

from __future__ import annotations

import hashlib

from textual.widgets import DataTable, Input

from field_client.screens.dialogs import ConfirmDialog, FolderDialog
from protocol.whatsapp import DeliveryStatus, MessagePurpose
from protocol.workflow import Role, State
from sync_server.clock import utc_now
from sync_server.services.whatsapp import outbox
from sync_server.storage import documents, kk_registry
from sync_server.storage import outbox as outbox_store
from tests.integration.conftest import OPERATOR_PASSWORD, TTE_PASSPHRASE, add_operator
from tests.integration.test_counter_application_view import (  # noqa: F401
    config,
    confirm,
    footer_keys,
    record,
)
from tests.integration.test_pull import server_app
from tests.integration.test_staff_decisions import (  # noqa: F401
    decide,
    server_config,
    staff,
    tokens,
)
from tests.support.counter_ui import SIZE, app_for, log_in, open_application, text, until


def rows(app, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def server_message(server, app_id: str, purpose: MessagePurpose) -> outbox_store.OutboxRow:
    with server.db.read() as conn:
        return next(r for r in outbox_store.of_application(conn, app_id) if r.purpose is purpose)


async def signed_at_counter(pilot, server, client, tokens, app_id: str) -> None:  # noqa: F811
    """The centre verifies, approves and signs over HTTP; the counter pulls it."""
    await until(pilot, lambda: server_app(server, app_id)["state"] == "submitted")
    for role, action, before in (
        (Role.VERIFIKATOR, "verify", "submitted"),
        (Role.KABID, "approve", "verified"),
        (Role.KEPALA_DINAS, "sign", "approved"),
    ):
        secret = {"passphrase": TTE_PASSPHRASE} if action == "sign" else {}
        response = decide(client, tokens[role], app_id, action, before, **secret)
        assert response.status_code == 200, response.text
    pilot.app.action_sync_now()
    await until(pilot, lambda: pilot.app.screen.stored.state is State.SIGNED)


async def test_kk_details_a_saved_copy_and_message_statuses_in_words(
    server,
    client,
    config,  # noqa: F811
    tokens,  # noqa: F811
    tmp_path,
):
    operator_id = add_operator(server, "budi", full_name="Budi Santoso")
    app_id = await record(config, operator_id, submit=True)
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        await open_application(pilot, app_id)
        assert "Belum ada pesan." in text(app, "#messages-note")
        await signed_at_counter(pilot, server, client, tokens, app_id)

        # The PDF arrives after the pull; the details say so once it is checked and stored.
        await until(pilot, lambda: "PDF sudah diunduh" in text(app, "#view-kk"), timeout=30)
        with server.db.read() as conn:
            signed = kk_registry.document_of_application(conn, app_id)
        assert signed is not None
        kk = text(app, "#view-kk")
        kk_number = app.store.kk_document(app_id).kk_number
        assert f"No. KK {kk_number}" in kk and "ditandatangani" in kk and " KB" in kk
        await pilot.pause()
        assert "save_kk" in footer_keys(app)

        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, FolderDialog))
        folder = app.screen.query_one("#folder", Input)
        folder.value = str(tmp_path / "cetak")
        await pilot.press("enter")
        await until(pilot, lambda: (tmp_path / "cetak" / f"KK-{kk_number}.pdf").exists())
        copy = (tmp_path / "cetak" / f"KK-{kk_number}.pdf").read_bytes()
        assert copy == documents.get(server.config.documents_dir, signed.sha256)
        assert hashlib.sha256(copy).hexdigest() == signed.sha256
        assert list((tmp_path / "cetak").iterdir()) == [tmp_path / "cetak" / f"KK-{kk_number}.pdf"]

        # Issue: the KK message is queued on the server, then the outbox sends it.
        await pilot.press("t")
        await confirm(pilot)
        await until(pilot, lambda: server_app(server, app_id)["state"] == "issued")
        app.action_sync_now()
        await until(pilot, lambda: rows(app, "#messages") != [])
        assert rows(app, "#messages")[0][:2] == ["Pengiriman KK (PDF)", "Dalam antrean"]

        issued = server_message(server, app_id, MessagePurpose.KK_ISSUED)
        with server.db.write() as conn:
            assert outbox.claim(conn, issued.id, now=utc_now()) is not None
            outbox.record_accepted(conn, issued.id, "wamid.1", now=utc_now())
        app.action_sync_now()
        await until(pilot, lambda: rows(app, "#messages")[0][1] == "Terkirim")

        with server.db.write() as conn:
            outbox.record_failed(
                conn,
                issued.id,
                code="131026",
                reason="Nomor tidak terdaftar di WhatsApp.",
                now=utc_now(),
            )
        app.action_sync_now()
        await until(pilot, lambda: rows(app, "#messages")[0][1].startswith("Gagal"))
        assert "Gagal: Nomor tidak terdaftar di WhatsApp." in text(app, "#messages-note")

        # Archive: the "KK diterima" message; its send dies mid-call: perlu dicek.
        await pilot.press("r")
        await confirm(pilot)
        await until(pilot, lambda: server_app(server, app_id)["state"] == "archived")
        received = None
        while received is None:
            await pilot.pause(0.05)
            try:
                received = server_message(server, app_id, MessagePurpose.KK_RECEIVED)
            except StopIteration:
                pass
        with server.db.write() as conn:
            assert outbox.claim(conn, received.id, now=utc_now()) is not None
            outbox.record_unknown(
                conn, received.id, code="timeout", reason="Hasil tidak diketahui.", now=utc_now()
            )
        app.action_sync_now()
        await until(pilot, lambda: len(rows(app, "#messages")) == 2)
        await until(pilot, lambda: rows(app, "#messages")[1][1].startswith("Perlu dicek"))
        assert rows(app, "#messages")[1][0] == "Konfirmasi KK diterima"
        assert "Perlu dicek: Hasil tidak diketahui." in text(app, "#messages-note")
        assert app.store.message_statuses(app_id)[1].status == DeliveryStatus.UNKNOWN
        await pilot.pause()
        assert "resend" in footer_keys(app)

        # "Perlu dicek": the confirmation warns the applicant may already have it; no.
        table = app.screen.query_one("#messages", DataTable)
        table.focus()
        table.move_cursor(row=1)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "mungkin sudah sampai ke pemohon" in text(app, "#question")
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        assert app.store.resend_requested(app_id) == set()

        # The failed KK message: re-sent as a NEW message; the old one stays failed.
        table.move_cursor(row=0)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        question = text(app, "#question")
        assert '"Pengiriman KK (PDF)"' in question and "pesan baru" in question
        assert "mungkin sudah sampai" not in question
        await confirm(pilot)
        assert app.store.resend_requested(app_id) == {issued.id}
        app.action_sync_now()
        await until(pilot, lambda: len(rows(app, "#messages")) == 3)
        shown = [r[:2] for r in rows(app, "#messages")]
        assert shown[0] == ["Pengiriman KK (PDF)", "Gagal, dikirim ulang"]
        assert shown[1][1].startswith("Perlu dicek: Hasil")
        assert shown[2] == ["Pengiriman KK (PDF)", "Dalam antrean"]
        with server.db.read() as conn:
            on_server = outbox_store.of_application(conn, app_id)
        kk_messages = [r for r in on_server if r.purpose is MessagePurpose.KK_ISSUED]
        assert [r.status for r in kk_messages] == [DeliveryStatus.FAILED, DeliveryStatus.QUEUED]
        assert kk_messages[1].id != issued.id and kk_messages[1].params == issued.params
        [entry] = [e for e in app.store.history(app_id) if e.event.kind == "message.resend"]
        assert entry.event.body == {"message_id": issued.id}
        assert entry.event.operator_id == operator_id and entry.status.value == "applied"
        # Only the "perlu dicek" one is left to re-send.
        await pilot.pause()
        assert "resend" in footer_keys(app)
