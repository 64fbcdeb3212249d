"""New application at the counter (SOP steps 1-2), driven with Pilot at 80x24.

A real server enrolls the counter and serves the operator account; the operator then works
as at the counter: picks the service, types the applicant and address (a wrong NIK is
flagged while typing), adds the family's members in their own form (pick-lists for every
coded column, the NIK read and cross-checked), accepts a warning with a reason, ticks the
documents, and saves the draft. Assertions are on the screen and on the SQLite store.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, Select

from field_client.screens import DashboardScreen
from field_client.screens.application_form import ApplicationFormScreen
from field_client.screens.dialogs import ConfirmDialog, ReasonDialog
from field_client.screens.file_picker import FilePickerScreen
from field_client.screens.member_form import MemberFormScreen
from field_client.store import Store
from field_client.sync import enroll_device
from field_client.widgets.form import MemberTable
from protocol.events import EventKind
from protocol.workflow import State
from tests.integration.conftest import OPERATOR_PASSWORD, add_operator, issue_code
from tests.support.counter_ui import (
    SIZE,
    app_for,
    choose,
    counter_config,
    field,
    fill_head_of_family,
    fill_service_applicant_address,
    log_in,
    new_application,
    row_message,
    text,
    type_into,
    until,
)


@pytest.fixture
async def config(server, tmp_path):
    config = counter_config(tmp_path / "counter")
    await enroll_device(config, server_url=server.base_url, code=issue_code(server))
    add_operator(server, "budi", full_name="Budi Santoso")
    return config


async def test_a_new_application_is_typed_checked_and_saved_as_a_draft(config):
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        form = await new_application(pilot)

        await choose(pilot, field("service.service_type"), "A")
        await choose(pilot, field("service.sub_type"), "A.1")
        assert form.draft.service_type == "BARU" and form.draft.sub_type == 1

        # A NIK that is too short is flagged while typing, and clears once complete.
        await type_into(pilot, field("applicant.nama"), "Ahmad Fauzi")
        await type_into(pilot, field("applicant.nik"), "1606011403")
        await pilot.pause()
        assert "NIK harus 16 digit angka" in row_message(app, "applicant.nik")
        await pilot.press(*"950002")
        await pilot.pause()
        assert row_message(app, "applicant.nik") == ""
        await type_into(pilot, field("applicant.whatsapp"), "0812 7788 1234")
        await type_into(pilot, field("address.alamat"), "Jl. Merdeka No. 12")
        await type_into(pilot, field("address.rt"), "3")
        await type_into(pilot, field("address.rw"), "1")
        assert app.screen.query_one(field("address.kecamatan"), Select).value == "160601"
        await choose(pilot, field("address.desa_code"), "Kayu Ara")
        assert form.draft.text["address.desa_code"] == "1606011009"
        assert "Keluarga belum memiliki anggota" in text(app, "#members-message")

        # The head of the family. A birth date that disagrees with the NIK is a warning
        # the operator may accept with a reason (the paper is right, the NIK is old).
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, MemberFormScreen))
        await fill_head_of_family(pilot)
        assert "lahir 14-03-1995, laki-laki, terdaftar di Kec. Sekayu" in row_message(app, "nik")
        assert app.screen.query_one(field("tanggal_lahir"), Input).value == "14-03-1995"
        assert app.screen.query_one(field("jenis_kelamin"), Select).value == 1
        birth = app.screen.query_one(field("tanggal_lahir"), Input)
        birth.value = "15-03-1995"  # the paper says the 15th; the NIK says the 14th
        await pilot.pause()
        assert "tanggal lahir" in row_message(app, "nik").lower()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is form)
        table = form.query_one("#members", MemberTable)
        assert table.row_count == 1
        assert "AHMAD FAUZI" in str(table.get_row_at(0))

        # The warning waits in the problem list; Enter on it asks for the reason.
        await pilot.press("f6")
        problems = form.query_one("#problems")
        warning_index = next(
            i for i, (found, _) in enumerate(problems._items) if found.severity.value == "warning"
        )
        problems.highlighted = warning_index
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReasonDialog))
        await pilot.press(*"pendek", "enter")
        assert "minimal 10 karakter" in text(app, "#reason-message")
        await pilot.press(*" sekali? tidak: akta kelahiran menyebut tanggal 15", "enter")
        await until(pilot, lambda: app.screen is form)
        assert len(form.draft.overrides) == 1
        assert "dikecualikan" in str(problems.get_option_at_index(warning_index).prompt)

        # Documents: the F-1.02 and the buku nikah are here.
        form.query_one("#doc-formulir_f102-f102").focus()
        await pilot.press("space")
        form.query_one("#doc-bukti_perkawinan-buku_nikah").focus()
        await pilot.press("space")
        await pilot.pause()
        assert form.draft.attached_documents == {"f102", "buku_nikah"}
        assert "0 persyaratan belum ada" in text(app, "#form-summary")

        await pilot.press("ctrl+s")
        await until(pilot, lambda: "tersimpan" in text(app, "#form-summary"))
        application_id = form.draft.id

        await pilot.press("escape")  # nothing unsaved: straight back
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert text(app, "#count-draft") == "Draf: 1"

    with Store.open(config.db_path) as store:
        stored = store.get_application(application_id)
        assert stored is not None and stored.state is State.DRAFT
        saved = stored.application
        assert saved.applicant.nik == "1606011403950002"
        assert saved.address.rt == "003" and saved.address.desa_code == "1606011009"
        (head,) = saved.members
        assert head.nama == "AHMAD FAUZI" and head.agama == 1 and head.pekerjaan == 15
        assert head.status_perkawinan == 5 and head.tanggal_perkawinan.isoformat() == "2020-02-10"
        (override,) = saved.overrides
        assert override.field == "members[0].nik" and "akta kelahiran" in override.reason
        assert saved.attached_documents == {"f102", "buku_nikah"}
        kinds = [e.event.kind for e in store.history(application_id)]
        assert kinds == [EventKind.APPLICATION_CREATED]


async def test_unsaved_changes_and_removing_a_member_ask_first(config):
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        form = await new_application(pilot)
        await type_into(pilot, field("applicant.nama"), "Siti")

        # Saving without the service or the required fields says what is missing.
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Pilih jenis dan sub jenis" in row_message(app, "service.sub_type")
        await choose(pilot, field("service.service_type"), "A")
        await choose(pilot, field("service.sub_type"), "A.3")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "NIK pemohon wajib diisi" in row_message(app, "applicant.nik")

        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, MemberFormScreen))
        await type_into(pilot, field("nama"), "siti rahma")
        await pilot.press("escape")  # typed something: asks
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MemberFormScreen))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is form)
        assert len(form.draft.members) == 1

        table = form.query_one("#members", MemberTable)
        table.focus()
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        assert "Hapus SITI RAHMA" in text(app, "#question")
        await pilot.press("escape")  # the safe answer
        await until(pilot, lambda: app.screen is form)
        assert len(form.draft.members) == 1
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await until(pilot, lambda: app.screen is form)
        assert form.draft.members == []

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")  # leave without saving
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
    with Store.open(config.db_path) as store:
        assert store.search_applications() == []


async def test_the_command_palette_opens_a_new_application(config):
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"permohonan baru")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApplicationFormScreen))


KEYS = [
    *"aAbdeilnrsty09 -./",
    *("enter", "escape", "tab", "shift+tab", "up", "down", "left", "right", "space"),
    *("delete", "backspace", "pageup", "pagedown", "home", "end"),
    *("f1", "f2", "f3", "f4", "f5", "f6", "f9", "ctrl+s", "ctrl+p"),
]


@pytest.mark.parametrize("seed", [1])
async def test_no_key_sequence_crashes_the_app(config, seed):
    """An operator leaning on the keyboard (seeded, so a failure replays): whatever screen
    and dialog it reaches, the app keeps running and the store stays consistent."""
    import random

    rng = random.Random(seed)
    app = app_for(config)
    pressed: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        for _ in range(250):
            key = rng.choice(KEYS)
            pressed.append(key)
            await pilot.press(key)
            if app.screen.__class__.__name__ == "LoginScreen":  # f9 logged out: back in
                await log_in(pilot, "budi", OPERATOR_PASSWORD)
        assert app.is_running, pressed
    with Store.open(config.db_path) as store:
        counts = store.outbox_counts()
        assert sum(counts.values()) == store.chain_head().seq, pressed


def two_page_pdf(path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_blank_page(width=595, height=842)
    with path.open("wb") as out:
        writer.write(out)
    return path


async def test_a_scan_is_attached_from_a_file_and_previewed(config, server, tmp_path):
    scan = two_page_pdf(tmp_path / "formulir F-1.02.pdf")
    (tmp_path / "catatan.txt").write_text("bukan pindaian")
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        assert app.scan_key is not None  # opened with the operator's password
        await until(pilot, lambda: app.store.server_box_key() is not None)
        form = await new_application(pilot)
        await fill_service_applicant_address(pilot)

        form.query_one("#doc-formulir_f102-f102").focus()
        await pilot.press("f7")  # saves the draft first: a scan belongs to a stored one
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen))
        picker = app.screen
        path_input = picker.query_one("#path", Input)
        await pilot.press("ctrl+l")
        path_input.value = ""
        await pilot.press(*str(scan), "enter")
        await until(pilot, lambda: app.screen is form)
        await until(pilot, lambda: len(app.store.application_scans(form.draft.id)) == 1)

        (info,) = app.store.application_scans(form.draft.id)
        assert (info.document, info.media_type) == ("f102", "application/pdf")
        await until(pilot, lambda: "PDF" in text(app, "#scans-formulir_f102-f102"))
        assert "2 halaman, belum terkirim" in text(app, "#scans-formulir_f102-f102")
        assert "f102" in form.draft.attached_documents
        assert app.store.get_application(form.draft.id).application.attached_documents == {"f102"}

        # A file that is no scan is refused by its content, in words.
        form.query_one("#doc-formulir_f102-f102").focus()
        await pilot.press("f7")
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen))
        await pilot.press("ctrl+l")
        app.screen.query_one("#path", Input).value = ""
        await pilot.press(*str(tmp_path / "catatan.txt"), "enter")
        await until(pilot, lambda: app.screen is form)
        await pilot.pause()
        assert len(app.store.application_scans(form.draft.id)) == 1
        refused = [n for n in app._notifications if n.title == "Berkas tidak dilampirkan"]
        assert refused and "PDF" in refused[0].message  # the accepted types, in words

        # The sync engine sends it; the status line counted it meanwhile.
        await pilot.press("f5")
        await until(pilot, lambda: app.store.scan_summary()["pending_scans"] == 0, timeout=30)
    with server.db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM scans").fetchone()[0] == 1


async def test_a_camera_photo_is_attached_while_the_screen_keeps_answering(
    config, server, tmp_path
):
    """A 4 MB camera photo is recompressed and encrypted on a worker thread. Meanwhile the
    screen answers: a timer ticks, typing lands in the form, a second attach, saving and
    leaving are held back in words. The scan is stored and announced once."""
    import sqlite3

    from tests.support.scan_samples import document_photo

    photo = tmp_path / "IMG_20261120_100312.jpg"
    photo.write_bytes(document_photo(4000, 3000, seed=7))
    assert photo.stat().st_size > 3_000_000
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        await until(pilot, lambda: app.store.server_box_key() is not None)
        form = await new_application(pilot)
        await fill_service_applicant_address(pilot)
        form.query_one("#doc-formulir_f102-f102").focus()
        await pilot.press("f7")  # saves the draft first
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen))
        await until(pilot, lambda: app.store.outbox_summary()["pending_events"] == 0)

        # Another writer holds the store (as the sync engine may): the attach cannot finish
        # before the test lets go, however fast this machine is.
        blocker = sqlite3.connect(config.db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            ticks: list[float] = []
            app.set_interval(0.05, lambda: ticks.append(0))
            await pilot.press("ctrl+l")
            app.screen.query_one("#path", Input).value = str(photo)
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is form and form._attaching is not None)
            busy = form.query_one("#form-busy")
            assert busy.display and "Sedang memproses IMG_20261120_100312.jpg: diperkecil" in text(
                app, "#form-busy"
            )
            seen = len(ticks)
            await pilot.press("f7", "ctrl+s", "escape")
            assert app.screen is form  # no picker, not left
            held = [n for n in app._notifications if "masih diproses" in n.message]
            assert len(held) == 3
            await type_into(pilot, field("address.kode_pos"), "30711")
            assert form.query_one(field("address.kode_pos"), Input).value == "30711"
            await until(pilot, lambda: len(ticks) >= seen + 5)
            assert form._attaching is not None  # all of that while the photo was processed
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()

        await until(pilot, lambda: form._attaching is None, timeout=30)
        assert not busy.display
        (info,) = app.store.application_scans(form.draft.id)
        assert (info.document, info.media_type) == ("f102", "image/jpeg")
        assert info.plain_bytes < photo.stat().st_size // 5  # made document-sized
        stored = app.store.get_application(form.draft.id).application
        assert stored.attached_documents == {"f102"}
        assert stored.address.kode_pos == "30711"  # what was typed meanwhile is kept
        assert "1 halaman" in text(app, "#scans-formulir_f102-f102")
    with Store.open(config.db_path) as store:
        assert store.db.execute("SELECT COUNT(*) FROM scans").fetchone()[0] == 1
        attached = store.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE kind = ?", [EventKind.SCAN_ATTACHED.value]
        ).fetchone()[0]
        assert attached == 1


async def test_a_fresh_form_counts_what_is_left_to_fill_without_calling_it_errors(config):
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        form = await new_application(pilot)
        await pilot.pause()
        summary = text(app, "#form-summary")
        assert "galat" not in summary and "peringatan" not in summary
        assert "isian belum diisi" in summary
        left = int(summary.split(" isian belum diisi")[0].split()[-1])
        assert left > 0
        problems = form.query_one("#problems")
        assert problems._items == []  # no page of red either, and no "no problem" ...
        assert f"{left} isian belum diisi" in str(problems.get_option_at_index(0).prompt)

        # A field the operator got wrong shows as an error at once; the rest stays neutral.
        await type_into(pilot, field("applicant.nik"), "1606")
        await pilot.pause()
        summary = text(app, "#form-summary")
        assert summary.startswith("1 galat · ") and "isian belum diisi" in summary
        assert "NIK harus 16 digit angka" in row_message(app, "applicant.nik")
        assert row_message(app, "applicant.nama") == ""

        # Trying to save shows everything where it is.
        await pilot.press("ctrl+s")
        await pilot.pause()
        summary = text(app, "#form-summary")
        assert "isian belum diisi" not in summary and "belum disimpan" in summary
        assert int(summary.split(" galat")[0]) > 1
        assert len(summary) <= 78


async def test_enter_twice_on_a_pick_list_keeps_its_value(config):
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        form = await new_application(pilot)
        await choose(pilot, field("service.service_type"), "A")
        await choose(pilot, field("service.sub_type"), "A.1")
        await choose(pilot, field("address.desa_code"), "Kayu Ara")
        for path, value in (
            ("service.service_type", "BARU"),
            ("service.sub_type", 1),
            ("address.kecamatan", "160601"),
            ("address.desa_code", "1606011009"),
        ):
            select = form.query_one(field(path), Select)
            select.focus()
            await pilot.press("enter")  # opens the list on the current value ...
            await pilot.pause()
            assert select.expanded
            await pilot.press("enter")  # ... and Enter again keeps it
            await pilot.pause()
            assert not select.expanded and select.value == value
        assert form.draft.service_type == "BARU" and form.draft.sub_type == 1

        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, MemberFormScreen))
        await choose(pilot, field("agama"), "ISLAM")
        agama = app.screen.query_one(field("agama"), Select)
        agama.focus()
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert agama.value == 1

        # On a list with nothing chosen yet, the second Enter does not "choose" (pilih):
        # the list stays open on the first real entry.
        darah = app.screen.query_one(field("golongan_darah"), Select)
        darah.focus()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert darah.expanded and darah.is_blank()
        await pilot.press("escape")
        await pilot.pause()
        assert not darah.expanded and darah.is_blank()


async def test_rt_and_rw_are_written_with_three_digits_as_the_kk_prints_them(config):
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        form = await new_application(pilot)
        await fill_service_applicant_address(pilot)  # types RT "3", RW "1", then goes on
        assert form.query_one(field("address.rt"), Input).value == "003"
        assert form.query_one(field("address.rw"), Input).value == "001"

        # Saved while still in the field (nothing blurred): stored padded all the same.
        await type_into(pilot, field("address.rw"), "12", clear=True)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.store.get_application(form.draft.id) is not None)
        address = app.store.get_application(form.draft.id).application.address
        assert (address.rt, address.rw) == ("003", "012")
        assert form.query_one(field("address.rw"), Input).value == "012"

        # What is no number stays as typed, for the check to name.
        await type_into(pilot, field("address.rt"), "3a", clear=True)
        await pilot.press("tab")
        await pilot.pause()
        assert form.query_one(field("address.rt"), Input).value == "3a"
        assert "RT harus berupa angka 1-3 digit" in row_message(app, "address.rt")
