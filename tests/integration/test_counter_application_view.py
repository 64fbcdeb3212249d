"""An application's life at the counter, driven with Pilot at 80x24 against a real server.

The verifier returns it with reasons over the real HTTP API; the counter's pull brings the
decision in and the operator reads the reasons plainly, corrects, resubmits. The centre
verifies, approves and signs; the operator issues and archives it. The timeline shows every
step with who and how long against the SOP target. Submitting an application that is not
ready is refused with the reasons, before anything is recorded.
"""

from __future__ import annotations

import uuid

import pytest
from textual.widgets import DataTable, Input

from field_client.actions import Counter
from field_client.screens import ApplicationFormScreen, DashboardScreen
from field_client.screens.dialogs import ConfirmDialog
from field_client.store import Store
from field_client.sync import SyncEngine, enroll_device
from field_client.widgets.form.field_row import control_id
from protocol.application import Application
from protocol.events import EventKind
from protocol.workflow import Role, State
from signing.keys import load_private_key
from tests.factories import application_dict
from tests.integration.conftest import (
    OPERATOR_PASSWORD,
    TTE_PASSPHRASE,
    add_operator,
    issue_code,
)
from tests.integration.test_pull import server_app
from tests.integration.test_staff_decisions import (  # noqa: F401
    decide,
    server_config,
    staff,
    tokens,
)
from tests.support.counter_ui import (
    SIZE,
    app_for,
    confirm_deliberately,
    counter_config,
    log_in,
    open_application,
    text,
    until,
)


@pytest.fixture
async def config(server, tmp_path):
    config = counter_config(tmp_path / "counter")
    await enroll_device(config, server_url=server.base_url, code=issue_code(server))
    return config


async def record(config, operator_id: str, *, submit: bool, **changes) -> str:
    """An application recorded at this counter before the app starts (as `kk-counter
    application import` would), after a sync brought the operator's account."""
    async with SyncEngine(config) as engine:
        await engine.run_once()
    app = Application.from_dict(application_dict(id=str(uuid.uuid4()), **changes))
    with Store.open(config.db_path) as store:
        counter = Counter(store, load_private_key(config.key_path))
        counter.create_application(app, operator_id=operator_id)
        if submit:
            counter.submit(app.id, operator_id=operator_id)
    return app.id


def footer_keys(app) -> set[str]:
    """The actions the footer offers now (check_action hides the others)."""
    return {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}


confirm = confirm_deliberately


async def test_returned_then_resubmitted_signed_issued_archived_with_its_timeline(
    server,
    client,
    config,
    tokens,  # noqa: F811
):
    operator_id = add_operator(server, "budi", full_name="Budi Santoso")
    app_id = await record(config, operator_id, submit=True)
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        await until(pilot, lambda: server_app(server, app_id)["state"] == "submitted")

        reasons = {"items": ["kk_lama"], "text": "Foto KK lama buram, mohon pindai ulang"}
        returned = decide(client, tokens[Role.VERIFIKATOR], app_id, "return", "submitted", reasons)
        assert returned.status_code == 200, returned.text
        await pilot.press("f5")
        await until(pilot, lambda: text(app, "#count-returned") == "Dikembalikan: 1")

        await open_application(pilot, app_id)
        view = app.screen
        notice = text(app, "#view-notice")
        assert "Dikembalikan oleh Verifikator/Sub Koord (Sri Wahyuni, S.Sos)" in notice
        assert "  KK lama; " in notice and "Foto KK lama buram, mohon pindai ulang" in notice
        assert {"edit", "submit", "withdraw"} <= footer_keys(app)
        assert "issue" not in footer_keys(app)

        # Correct the WhatsApp number, save, back to the application, resubmit.
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ApplicationFormScreen))
        whatsapp = app.screen.query_one(f"#{control_id('applicant.whatsapp')}", Input)
        whatsapp.focus()
        whatsapp.value = ""
        await pilot.press(*"0813 1111 2222")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "tersimpan" in text(app, "#form-summary"))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is view)
        assert "0813 1111 2222" in text(app, "#view-summary")
        await pilot.press("s")
        await confirm(pilot)
        assert app.store.get_application(app_id).state is State.SUBMITTED
        await until(pilot, lambda: server_app(server, app_id)["state"] == "submitted")

        for role, action, before in (
            (Role.VERIFIKATOR, "verify", "submitted"),
            (Role.KABID, "approve", "verified"),
            (Role.KEPALA_DINAS, "sign", "approved"),
        ):
            secret = {"passphrase": TTE_PASSPHRASE} if action == "sign" else {}
            response = decide(client, tokens[role], app_id, action, before, **secret)
            assert response.status_code == 200, response.text
        app.action_sync_now()
        await until(pilot, lambda: view.stored.state is State.SIGNED)
        await until(pilot, lambda: "KK bertanda tangan" in text(app, "#view-kk"))
        await pilot.pause()
        assert "issue" in footer_keys(app) and "edit" not in footer_keys(app)

        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "0813 1111 2222" in text(app, "#question")  # where the KK goes
        await confirm(pilot)
        await until(pilot, lambda: view.stored.state is State.ISSUED)
        await pilot.press("r")
        await confirm(pilot)
        await until(pilot, lambda: view.stored.state is State.ARCHIVED)
        assert footer_keys(app) & {"edit", "submit", "issue", "archive", "withdraw"} == set()

        table = view.query_one("#timeline", DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        steps = [r[0] for r in rows]
        assert steps == [
            "2. Draf",
            "3. Diajukan ke verifikator",
            "2. Dikembalikan",
            "3. Diajukan ke verifikator",
            "4. Divalidasi Sub Koord",
            "5. Diverifikasi Kabid",
            "6. Sudah di-TTE",
            "7. Diterbitkan",
            "Diarsipkan",
        ]
        by = [r[1] for r in rows]
        assert by[0] == "Budi Santoso" and by[2].startswith("Sri Wahyuni")
        assert by[5] == "Hendra Gunawan" and by[6] == "Kepala Dinas"
        assert rows[1][4] == "5 mnt"  # the verifier's SOP target
        await until(pilot, lambda: server_app(server, app_id)["state"] == "archived")

    with Store.open(config.db_path) as store:
        kinds = [e.event.kind for e in store.history(app_id)]
    assert kinds == [
        EventKind.APPLICATION_CREATED,
        EventKind.SUBMITTED,
        EventKind.APPLICATION_EDITED,
        EventKind.RESUBMITTED,
        EventKind.ISSUED,
        EventKind.ARCHIVED,
    ]


async def test_an_incomplete_application_cannot_be_submitted_and_is_marked_incomplete(
    server, config
):
    operator_id = add_operator(server, "budi", full_name="Budi Santoso")
    app_id = await record(config, operator_id, submit=False, attached_documents=["f102"])
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        await open_application(pilot, app_id)
        assert "Persyaratan belum ada: Bukti status perkawinan." in text(app, "#view-notice")

        await pilot.press("s")  # refused at once, with the reason, nothing recorded
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmDialog)
        # What the toast shows (Textual keeps the notifications it displays here).
        shown = [(n.title, n.message) for n in app._notifications]
        assert any(
            title == "Belum bisa diajukan" and "dilampirkan: Buku Nikah" in message
            for title, message in shown
        )
        assert app.store.get_application(app_id).state is State.DRAFT

        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Bukti status perkawinan" in text(app, "#question")
        await confirm(pilot)
        await until(pilot, lambda: app.store.get_application(app_id).state is State.INCOMPLETE)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert text(app, "#count-incomplete") == "Belum lengkap: 1"
    with Store.open(config.db_path) as store:
        (_, marked) = store.history(app_id)
        assert marked.event.body["reasons"]["items"] == ["bukti_perkawinan"]


async def test_text_typed_by_mistake_on_the_application_screen_confirms_nothing(server, config):
    """The application screen's actions are single letters. A word typed there by mistake
    ("tulis ya") opens a confirmation with its "t", but no later letter answers it: the
    operator has to Tab to the yes button and press Enter; Enter alone goes back."""
    operator_id = add_operator(server, "budi", full_name="Budi Santoso")
    app_id = await record(config, operator_id, submit=False, attached_documents=["f102"])
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        await open_application(pilot, app_id)
        view = app.screen
        recorded = len(app.store.history(app_id))

        await pilot.press("l")  # mark incomplete: sends the applicant a WhatsApp notice
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        await pilot.press(*"ya yes y")
        await pilot.pause()
        assert app.screen is dialog
        assert "Tab ke [Tandai] lalu Enter" in text(app, "#how-to-confirm")
        assert "y" not in {b.binding.key for b in dialog.active_bindings.values()}
        await pilot.press("enter")  # on "Kembali"
        await until(pilot, lambda: app.screen is view)
        assert app.store.get_application(app_id).state is State.DRAFT
        assert len(app.store.history(app_id)) == recorded  # nothing recorded

        await pilot.press("l")
        await confirm(pilot)  # Tab, Enter
        await until(pilot, lambda: app.store.get_application(app_id).state is State.INCOMPLETE)
