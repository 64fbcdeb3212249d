"""The counter app (Textual) driven with Pilot at 80x24, as an operator would use it.

Against a REAL server (uvicorn on loopback) through the faulty-link proxy, with real SQLite
files and keys: enrollment with a good code, each refused code and no network; offline
login with an account pulled by the sync engine, and a wrong password; the dashboard's
counts and search; the status line going from offline to online.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable

import pytest
from textual.widgets import Button, Input, Static

from field_client.app import CounterApp, make_counter_app
from field_client.config import CounterConfig
from field_client.screens import DashboardScreen, EnrollmentScreen, LoginScreen
from field_client.screens.login import NO_ACCOUNTS, WRONG_PASSWORD
from field_client.store import Store
from field_client.sync import SyncEngine, enroll_device
from field_client.widgets.dashboard import ApplicationTable
from protocol.application import Application
from tests.factories import application_dict, member_dict
from tests.integration.conftest import OPERATOR_PASSWORD, add_operator, issue_code, refused_code

SIZE = (80, 24)


@pytest.fixture
def config(tmp_path) -> CounterConfig:
    return CounterConfig(
        data_dir=tmp_path / "counter",
        connect_timeout_s=3,
        read_timeout_s=10,
        write_timeout_s=10,
        request_deadline_s=20,
        backoff_base_s=0.05,
        backoff_cap_s=0.2,
        poll_interval_s=60,
        trust_env=False,
    )


def app_for(config: CounterConfig) -> CounterApp:
    return make_counter_app(config, engine_factory=lambda c: SyncEngine(c, rng=random.Random(1)))


def text(app: CounterApp, selector: str) -> str:
    """What a Static shows, as plain text."""
    return str(app.screen.query_one(selector, Static).content)


async def until(pilot, predicate: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await pilot.pause(0.05)


async def type_into(pilot, selector: str, value: str) -> None:
    await pilot.click(selector)
    await pilot.press(*value)


# -- enrollment -------------------------------------------------------------------------------


async def test_first_start_enrolls_with_a_good_code_then_asks_for_login(server, link, config):
    code = issue_code(server)
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, EnrollmentScreen)
        assert "Hanya langkah ini yang memerlukan jaringan" in text(app, ".intro")

        await type_into(pilot, "#server-url", link.url)
        await pilot.press("enter")  # on to the code
        assert app.focused is app.screen.query_one("#code", Input)
        await pilot.press(*code, "enter")

        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert app.device is not None and app.device.kecamatan == "160601"
        assert "Kecamatan Sekayu (160601)" in text(app, "#device-info")
    with Store.open(config.db_path) as store:
        assert store.device() == app.device
    assert config.key_path.exists()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("unknown", "Kode pendaftaran perangkat tidak dikenal"),
        ("expired", "sudah kedaluwarsa; minta kode baru"),
        ("used", "sudah dipakai; satu kode hanya untuk satu perangkat. Minta kode baru"),
    ],
)
async def test_a_refused_code_is_explained_and_nothing_is_recorded(
    server, link, config, tmp_path, case, expected
):
    bad = await refused_code(server, link.url, tmp_path, case)

    app = app_for(config.model_copy(update={"server_url": link.url}))
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is app.screen.query_one("#code", Input)  # URL prefilled
        await pilot.press(*bad, "enter")
        await until(pilot, lambda: expected in text(app, "#enroll-message"))

        assert isinstance(app.screen, EnrollmentScreen)
        assert not app.screen.query_one("#enroll", Button).disabled  # ready to try again
        assert app.focused is app.screen.query_one("#code", Input)
    with Store.open(config.db_path) as store:
        assert store.device() is None


async def test_no_network_says_enrollment_needs_it_and_a_retry_works(server, link, config):
    code = issue_code(server)
    link.set_profile(offline=True)
    app = app_for(config.model_copy(update={"server_url": link.url}))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*code, "enter")
        await until(pilot, lambda: "memerlukan jaringan" in text(app, "#enroll-message"))
        shown = text(app, "#enroll-message")
        assert "Hanya pendaftaran yang memerlukan jaringan" in shown
        assert "bekerja tanpa jaringan" in shown
        assert isinstance(app.screen, EnrollmentScreen)

        link.set_profile(offline=False)
        await pilot.press("enter")  # same code, network back
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))


# -- login and the status line ----------------------------------------------------------------


async def test_offline_then_online_pulls_accounts_and_an_operator_logs_in(server, link, config):
    await enroll_device(config, server_url=link.url, code=issue_code(server))
    add_operator(server, "budi", full_name="Budi Santoso")
    link.set_profile(offline=True)
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, LoginScreen)
        # The engine retries quickly here: wait for a moment between two attempts.
        await until(pilot, lambda: "Tidak terhubung" in text(app, "#sync-status"))
        assert "Tidak ada jaringan ke server pusat" in text(app, "#sync-status")
        assert text(app, "#login-message") == NO_ACCOUNTS

        link.set_profile(offline=False)
        await pilot.press("f5")  # sync now, rather than wait for the backoff
        await until(pilot, lambda: "● Terhubung" in text(app, "#sync-status"))
        assert "Sinkron terakhir" in text(app, "#sync-status")
        await until(pilot, lambda: text(app, "#login-message") == "")  # accounts arrived

        await type_into(pilot, "#username", "budi")
        await pilot.press("enter", *"salah-sandi", "enter")
        await until(pilot, lambda: text(app, "#login-message") == WRONG_PASSWORD)
        assert isinstance(app.screen, LoginScreen)
        assert app.screen.query_one("#password", Input).value == ""

        await pilot.press(*OPERATOR_PASSWORD, "enter")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        assert app.operator is not None and app.operator.username == "budi"
        assert "Budi Santoso" in app.sub_title


# -- dashboard -------------------------------------------------------------------------------


def _family(name: str, nik: str, *, kk_number: str = "") -> Application:
    head = member_dict(0, nama=name.upper(), nik=nik)
    return Application.from_dict(
        application_dict(
            id=str(uuid.uuid4()),
            applicant={"nama": name, "nik": nik, "whatsapp": "0812-7788-1234", "kk_number": ""},
            kk_number=kk_number,
            members=[head],
        )
    )


async def test_dashboard_counts_states_and_searches_by_name_nik_and_kk(server, link, config):
    from field_client.actions import Counter
    from signing.keys import load_private_key

    await enroll_device(config, server_url=link.url, code=issue_code(server))
    operator_id = add_operator(server, "budi")
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.sync_status.last_success_at is not None)
        store = app.store
        assert store is not None
        link.set_profile(offline=True)  # the events below wait in the outbox
        counter = Counter(store, load_private_key(config.key_path))
        ready = Application.from_dict(application_dict(id=str(uuid.uuid4())))
        counter.create_application(ready, operator_id=operator_id)
        counter.submit(ready.id, operator_id=operator_id)
        siti = _family("Siti Rahmawati", "1606015506900001")
        joko = _family("Joko Susilo", "1606012001850003", kk_number="1606012345678901")
        for draft in (siti, joko):
            counter.create_application(draft, operator_id=operator_id)
        app.outbox_changed()  # what every operator action does
        await until(pilot, lambda: "Tidak terhubung" in text(app, "#sync-status"))
        assert "4 catatan menunggu (" in text(app, "#sync-status")

        await type_into(pilot, "#username", "budi")
        await pilot.press("enter", *OPERATOR_PASSWORD, "enter")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause()

        assert text(app, "#count-draft") == "Draf: 2"
        assert text(app, "#count-centre") == "Di Dinas: 1"
        assert text(app, "#count-signed") == "Siap terbit: 0"
        table = app.screen.query_one("#applications", ApplicationTable)
        assert table.row_count == 3
        assert text(app, "#list-note") == "3 permohonan"

        async def search(value: str) -> list[str]:
            await pilot.press("f3")
            app.screen.query_one("#search", Input).value = ""
            await pilot.press(*value)
            await pilot.pause()
            return [str(k.value) for k in table.rows]

        assert await search("siti") == [siti.id]
        assert await search("1606012001850003") == [joko.id]  # NIK
        assert await search("1606 0123 4567 8901") == [joko.id]  # KK number, read in groups
        assert await search("tidak ada") == []
        assert text(app, "#list-note") == "Tidak ada permohonan yang cocok dengan “tidak ada”."
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 3

        # Network back: a sync sends the waiting events and the line says so.
        link.set_profile(offline=False)
        await pilot.press("f5")
        await until(pilot, lambda: "Semua catatan terkirim" in text(app, "#sync-status"))
        await until(pilot, lambda: text(app, "#count-centre") == "Di Dinas: 1")


async def test_the_last_sync_time_survives_a_restart(server, link, config):
    await enroll_device(config, server_url=link.url, code=issue_code(server))
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.sync_status.last_success_at is not None)
        synced = app.sync_status.last_success_at
        assert "Sinkron terakhir" in text(app, "#sync-status")

    link.set_profile(offline=True)  # restarted in an office without network
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        assert app.sync_status.last_success_at is not None
        await until(pilot, lambda: "Tidak ada jaringan" in text(app, "#sync-status"))
        shown = text(app, "#sync-status")
        assert "Sinkron terakhir" in shown and "Belum pernah sinkron" not in shown
        assert app.sync_status.last_success_at == synced.replace(
            microsecond=synced.microsecond // 1000 * 1000
        )
