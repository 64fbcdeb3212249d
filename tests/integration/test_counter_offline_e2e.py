"""End to end: the network goes away and comes back while the operator keeps working.

A real server behind the faulty-link proxy, the real app at 80x24 with its sync engine. The
operator logs in while the link is up, then the link is cut: a whole new application is
typed, saved and submitted, and a second one started, all offline, with the status line
saying what waits. The link comes back broken (every answer lost after the server applied
the push), then whole: the engine sends again, the server keeps each event once, and the
application reaches the verifier's queue.
"""

from __future__ import annotations

from textual.widgets import Input

from field_client.screens import (
    DashboardScreen,
    MemberFormScreen,
)
from field_client.store import Store
from field_client.sync import enroll_device
from tests.integration.conftest import OPERATOR_PASSWORD, add_operator, issue_code, table_count
from tests.integration.test_pull import server_app
from tests.support.counter_ui import (
    SIZE,
    app_for,
    choose,
    confirm_deliberately,
    counter_config,
    field,
    fill_head_of_family,
    fill_service_applicant_address,
    log_in,
    new_application,
    open_application,
    text,
    until,
)


def stored_events(server, device_id: str) -> int:
    with server.db.read() as conn:
        row = conn.execute("SELECT COUNT(*) FROM events WHERE device_id = ?", (device_id,))
        return row.fetchone()[0]


async def test_the_operator_works_through_a_cut_and_everything_arrives_once(server, link, tmp_path):
    config = counter_config(tmp_path / "counter")
    await enroll_device(config, server_url=link.url, code=issue_code(server))
    add_operator(server, "budi", full_name="Budi Santoso")
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        link.set_profile(offline=True)

        # A complete application, typed and submitted without network.
        form = await new_application(pilot)
        await fill_service_applicant_address(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, MemberFormScreen))
        await fill_head_of_family(pilot)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is form)
        for box in ("#doc-formulir_f102-f102", "#doc-bukti_perkawinan-buku_nikah"):
            form.query_one(box).focus()
            await pilot.press("space")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "tersimpan" in text(app, "#form-summary"))
        assert "0 galat · 0 peringatan · 0 persyaratan belum ada" in text(app, "#form-summary")
        first = form.draft.id
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))

        await open_application(pilot, first)
        await pilot.press("s")
        await confirm_deliberately(pilot)
        await until(pilot, lambda: app.store.application_state(first) == "submitted")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await until(pilot, lambda: "Tidak terhubung" in text(app, "#sync-status"))
        assert "2 catatan menunggu" in text(app, "#sync-status")
        assert text(app, "#count-centre") == "Di Dinas: 1"  # as far as the counter knows
        assert table_count(server, "applications") == 0

        # The link comes back broken: the server applies the push, the answer is lost.
        link.set_profile(offline=False, cut_after_request_probability=1.0)
        await pilot.press("f5")
        await until(pilot, lambda: table_count(server, "applications") == 1, timeout=30)
        assert "catatan menunggu" in text(app, "#sync-status")  # the counter does not know

        # Meanwhile the operator starts the next application.
        second_form = await new_application(pilot)
        await choose(pilot, field("service.service_type"), "A")
        await choose(pilot, field("service.sub_type"), "A.3")
        for path, value in (  # the typing itself was shown above: fill these at once
            ("applicant.nama", "Siti Nurhaliza"),
            ("applicant.nik", "1606016108970003"),
            ("applicant.whatsapp", "0812 3456 7890"),
            ("address.alamat", "Jl. Kolonel Wahid Udin 7"),
            ("address.rt", "2"),
            ("address.rw", "4"),
        ):
            second_form.query_one(field(path), Input).value = value
        await choose(pilot, field("address.desa_code"), "Kayu Ara")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "tersimpan" in text(app, "#form-summary"))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))

        # The link is whole again: everything arrives, each event once.
        link.set_profile(cut_after_request_probability=0.0)
        await pilot.press("f5")
        await until(
            pilot, lambda: "Semua catatan terkirim" in text(app, "#sync-status"), timeout=30
        )
        assert server_app(server, first)["state"] == "submitted"
        assert server_app(server, second_form.draft.id)["state"] == "draft"
        assert stored_events(server, app.device.device_id) == 3
        assert "Sinkron terakhir" in text(app, "#sync-status")

    with Store.open(config.db_path) as store:
        assert store.outbox_summary()["pending_events"] == 0
        assert store.outbox_summary()["refused_events"] == 0
