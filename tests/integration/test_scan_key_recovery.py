"""A second operator of a counter gets the scan key from the server (escrow + password).

Real server (uvicorn on loopback) behind the faulty-link proxy, real counter stores enrolled
with real codes, operator accounts pulled by the real sync engine, real scrypt hashes. The
app's login completes on the offline check; the key comes in the background (Pilot tests at
the end, over a link that drops, stalls or is fine).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import httpx
import pytest

from field_client.app import (
    KEY_BEING_FETCHED,
    KEY_RECEIVED,
    LINK_BACK,
    CounterApp,
)
from field_client.config import CounterConfig
from field_client.operator_login import LoginOutcome, check_operator, fetch_scan_key
from field_client.scan_recovery import RECOVER_PATH, recover_scan_key
from field_client.screens import DashboardScreen, LoginScreen
from field_client.screens.application_form import ApplicationFormScreen
from field_client.screens.dialogs import PasswordDialog
from field_client.screens.file_picker import FilePickerScreen
from field_client.store import Operator, Store
from field_client.sync import SyncEngine, enroll_device
from field_client.sync.errors import ServerRefusal
from field_client.widgets.status import ScanKeyState
from protocol.errors import message_for
from protocol.workflow import Role
from signing.key_escrow import open_escrow
from signing.keys import load_private_key
from signing.requests import sign_request
from signing.sealed_box import SealedBoxError, box_public_b64, generate_box_key, load_box_key
from sync_server.clock import utc_now
from sync_server.services import accounts, enrollment
from sync_server.services.access_log import entries
from tests.factories import application_dict
from tests.integration.conftest import (
    LAIS,
    OPERATOR_PASSWORD,
    RunningServer,
    add_operator,
    issue_code,
)
from tests.integration.test_staff_web import web_login
from tests.integration.test_sync_engine import _application
from tests.support.counter_ui import (
    SIZE,
    app_for,
    counter_config,
    fill_service_applicant_address,
    log_in,
    new_application,
    text,
    type_into,
    until,
)
from tests.support.faulty_link import FaultyLink
from tests.support.http import problem
from tests.support.scan_samples import pdf_scan

SARI_PASSWORD = OPERATOR_PASSWORD  # add_operator gives every account this password


@dataclass
class Counter:
    """One enrolled counter and its data directory."""

    config: CounterConfig
    link: FaultyLink

    def store(self) -> Store:
        return Store.open(self.config.db_path)

    async def login(self, username: str, password: str = OPERATOR_PASSWORD) -> LoginOutcome:
        """What the app does for a login, on threads as there: the offline check, then
        (in the background there) the recovery when the server can mend a locked key."""
        outcome = await asyncio.to_thread(check_operator, self.config, username, password)
        if not outcome.recoverable:
            return outcome
        assert outcome.operator is not None and outcome.notice is None
        return await asyncio.to_thread(fetch_scan_key, self.config, outcome.operator, password)

    async def sync(self) -> None:
        async with SyncEngine(self.config, rng=random.Random(1)) as engine:
            status = await engine.run_once()
        assert status.last_error is None, status


async def new_counter(
    server: RunningServer, link: FaultyLink, directory: Path, **settings: object
) -> Counter:
    config = counter_config(directory, **{"scan_key_recovery_deadline_s": 10, **settings})
    await enroll_device(config, server_url=link.url, code=issue_code(server))
    counter = Counter(config, link)
    await counter.sync()  # pulls the kecamatan's operator accounts
    return counter


@pytest.fixture
async def counter(server, link, tmp_path) -> AsyncIterator[Counter]:
    """A Sekayu counter where budi attached a scan; sari (same kecamatan) never logged in."""
    add_operator(server, "budi")
    add_operator(server, "sari", full_name="Sari Dewi")
    counter = await new_counter(server, link, tmp_path / "counter")
    first = await counter.login("budi")
    assert first.scan_key is not None and first.notice is None  # the first makes the key
    with counter.store() as store:
        assert store.data_key_escrow() is not None  # ... and its escrow for the server
        from field_client.actions import Counter as Actions

        actions = Actions(store, load_private_key(counter.config.key_path))
        app = _application(application_dict())
        actions.create_application(app, operator_id=first.operator.id)
        actions.attach_scan(
            app.id,
            "akta_cerai",
            pdf_scan("AKTA CERAI"),
            operator_id=first.operator.id,
            key=first.scan_key,
            recompress=False,
        )
    yield counter


def scan_ids(counter: Counter) -> list[str]:
    with counter.store() as store:
        return [s.scan_id for s in store.application_scans(application_dict()["id"])]


def log_rows(server: RunningServer, action_prefix: str = "scan_key.") -> list:
    with server.db.read() as conn:
        return [r for r in entries(conn) if r.action.startswith(action_prefix)]


async def recover_as(counter: Counter, operator: Operator, password: str) -> None:
    def run() -> None:
        with counter.store() as store:
            recover_scan_key(counter.config, store, operator, password)

    await asyncio.to_thread(run)


def sari(counter: Counter) -> Operator:
    with counter.store() as store:
        [(operator_id,)] = store.db.execute("SELECT id FROM operators WHERE username = 'sari'")
        found = store.operator(operator_id)
    assert found is not None
    return found


# -- the path that matters ----------------------------------------------------------------


async def test_a_second_operator_on_a_fresh_run_gets_the_key_and_opens_the_first_ones_scan(
    server, counter, caplog
):
    caplog.set_level("DEBUG")
    [scan_id] = scan_ids(counter)
    outcome = await counter.login("sari")  # a fresh run: nobody opened the key before
    assert outcome.recovered and outcome.scan_key is not None and outcome.notice is None
    with counter.store() as store:
        assert store.read_scan(outcome.scan_key, scan_id) == pdf_scan("AKTA CERAI")
    # The server recorded who got the key, on which device; never the key or the password.
    [row] = log_rows(server)
    assert (row.action, row.actor_id, row.role) == (
        "scan_key.reissued",
        outcome.operator.id,
        "operator",
    )
    device_id = counter_device_id(counter)
    assert row.detail == f"perangkat {device_id}"
    logged = caplog.text + json.dumps([asdict(r) for r in log_rows(server)])
    raw = outcome.scan_key._key
    for secret in (SARI_PASSWORD, raw.hex(), base64.b64encode(raw).decode()):
        assert secret not in logged

    # The admin sees it on the audit page, in words.
    add_operator(server, "admin", None, role="admin", full_name="Admin Dinas")
    with httpx.Client(base_url=server.base_url, timeout=30) as admin:
        assert web_login(admin, Role.ADMIN).status_code == 303
        page = admin.get("/staf/admin/audit").text
    assert "Kunci pindaian loket diberikan ke operator" in page and device_id in page

    # From now on sari's own wrapped copy opens it, with no network at all.
    counter.link.set_profile(offline=True)
    again = await counter.login("sari")
    assert again.scan_key == outcome.scan_key and not again.recovered
    assert len(log_rows(server)) == 1


def counter_device_id(counter: Counter) -> str:
    with counter.store() as store:
        device = store.device()
    assert device is not None
    return device.device_id


# -- refusals -----------------------------------------------------------------------------


async def test_a_wrong_password_is_refused_then_throttled(server, counter):
    operator = sari(counter)  # the local check would stop a wrong password: ask directly
    with pytest.raises(ServerRefusal) as wrong:
        await recover_as(counter, operator, "bukan-sandi-sari")
    assert (wrong.value.status, wrong.value.code) == (401, "auth.invalid_credentials")
    with pytest.raises(ServerRefusal) as throttled:
        await recover_as(counter, operator, SARI_PASSWORD)  # even the right one, for now
    assert (throttled.value.status, throttled.value.code) == (429, "auth.throttled")
    assert throttled.value.extra["retry_after"] >= 1
    assert log_rows(server) == []
    with counter.store() as store:
        assert [r for r in keyring(store) if r == operator.id] == []


def keyring(store: Store) -> list[str]:
    return [r[0] for r in store.db.execute("SELECT operator_id FROM scan_keyring").fetchall()]


def reset_password(server: RunningServer, username: str, password: str) -> None:
    """What the admin does (``kk-server user set-password``): the real service."""
    done = accounts.set_password(
        server.db, username, password, actor=None, client_ip="cli", now=utc_now()
    )
    assert done.counters_told == 1  # this kecamatan's one counter gets the new hash


async def test_a_password_changed_centrally_keeps_the_scans_locked_and_says_why(server, counter):
    reset_password(server, "sari", "sandi-baru-sari-2")  # the counter has not pulled it yet
    outcome = await counter.login("sari")  # the old password still opens the login here
    assert outcome.operator is not None and outcome.scan_key is None
    assert outcome.notice == message_for("scan.password_outdated")


async def test_after_a_central_reset_and_a_pull_the_new_password_logs_in_and_gets_the_key(
    server, counter
):
    """budi's copy of the key is wrapped under his old password; once the counter pulled
    the reset, only the new password logs in, and the server re-issues the key for it."""
    [scan_id] = scan_ids(counter)
    reset_password(server, "budi", "sandi-baru-budi-2")
    await counter.sync()
    assert (await counter.login("budi")).operator is None  # the old one no longer works
    outcome = await counter.login("budi", "sandi-baru-budi-2")
    assert outcome.recovered and outcome.scan_key is not None and outcome.notice is None
    with counter.store() as store:
        assert store.read_scan(outcome.scan_key, scan_id) == pdf_scan("AKTA CERAI")
    assert [(r.action, r.actor_id) for r in log_rows(server)] == [
        ("scan_key.reissued", outcome.operator.id)
    ]
    [reset] = log_rows(server, "user.")
    assert (reset.action, reset.actor_id) == ("user.password_reset", "cli")
    assert reset.detail.startswith(f"akun budi ({outcome.operator.id})")
    # His copy is now wrapped under the new password: the next login needs no network.
    counter.link.set_profile(offline=True)
    again = await counter.login("budi", "sandi-baru-budi-2")
    assert again.scan_key == outcome.scan_key and not again.recovered


async def test_a_revoked_device_gets_no_key(server, counter):
    enrollment.revoke_device(server.db, counter_device_id(counter), now=utc_now())
    outcome = await counter.login("sari")
    assert outcome.operator is not None  # the login itself still works offline
    assert outcome.scan_key is None and not outcome.recovered
    assert outcome.notice == message_for("device.revoked", device_id=counter_device_id(counter))
    assert log_rows(server) == []


async def test_an_operator_of_another_kecamatan_is_refused(server, counter):
    andi_id = add_operator(server, "andi.lais", kecamatan=LAIS, full_name="Andi")
    # A tampered counter that would let andi in: the server still says no.
    andi = replace(sari(counter), id=andi_id, username="andi.lais", kecamatan=LAIS)
    with pytest.raises(ServerRefusal) as refused:
        await recover_as(counter, andi, OPERATOR_PASSWORD)
    assert (refused.value.status, refused.value.code) == (403, "scan_key.operator_elsewhere")
    [row] = log_rows(server)
    assert (row.action, row.actor_id) == ("scan_key.refused", andi_id)
    assert row.detail.endswith("ditolak: scan_key.operator_elsewhere")


async def test_an_escrow_copied_from_another_counter_is_refused(server, link, counter, tmp_path):
    other = await new_counter(server, link, tmp_path / "other-counter")
    assert (await other.login("budi")).scan_key is not None
    with other.store() as store:
        foreign = store.data_key_escrow()
    with counter.store() as store:
        store.db.execute("UPDATE meta SET value = ? WHERE key = 'data_key_escrow'", [foreign])
    outcome = await counter.login("sari")
    assert outcome.scan_key is None
    assert outcome.notice == message_for(
        "scan_key.escrow_foreign", device_id=counter_device_id(counter)
    )
    [row] = log_rows(server)
    assert row.action == "scan_key.refused" and row.detail.endswith("scan_key.escrow_foreign")


async def test_refusals_are_problem_json_with_stable_codes(server, counter):
    """The raw answers, as any client sees them."""
    with counter.store() as store:
        device = store.device()
        escrow = store.data_key_escrow()
    assert device is not None and escrow is not None
    key = load_private_key(counter.config.key_path)

    def post(body: dict) -> httpx.Response:
        raw = json.dumps(body).encode()
        headers = sign_request(key, device.device_id, "POST", RECOVER_PATH, raw, now=utc_now())
        headers["Content-Type"] = "application/json"
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            return http.post(RECOVER_PATH, content=raw, headers=headers)

    body = {
        "username": "sari",
        "password": SARI_PASSWORD,
        "escrow": escrow,
        "ephemeral_key": box_public_b64(generate_box_key()),
    }
    problem(post({**body, "ephemeral_key": "AAAA"}), 400, "scan_key.bad_request")
    problem(post({k: v for k, v in body.items() if k != "escrow"}), 400, "scan_key.bad_request")
    problem(post({**body, "escrow": escrow[:-8] + "AAAAAAA="}), 403, "scan_key.escrow_foreign")
    detail = problem(post({**body, "password": "salah-sandi-1"}), 401, "auth.invalid_credentials")
    assert detail["detail"] == "Nama pengguna atau kata sandi salah."
    assert post(body).status_code == 429
    assert SARI_PASSWORD not in json.dumps(detail)


# -- no network at login ------------------------------------------------------------------


async def test_offline_login_works_and_the_key_comes_once_the_link_is_back(server, counter):
    [scan_id] = scan_ids(counter)
    counter.link.set_profile(offline=True)
    # The login's own step asks nobody: the password is right, the key can be re-issued.
    connections = counter.link.stats.connections
    checked = await asyncio.to_thread(check_operator, counter.config, "sari", SARI_PASSWORD)
    assert checked.operator is not None and checked.recoverable
    assert checked.scan_key is None and checked.notice is None
    assert counter.link.stats.connections == connections
    offline = await counter.login("sari")
    assert offline.operator is not None and offline.operator.username == "sari"
    assert offline.scan_key is None
    assert offline.notice == message_for("scan.recovery_offline")
    assert "jaringan" in offline.notice and log_rows(server) == []

    counter.link.set_profile(offline=False)
    # What the password dialog runs when sari next attaches or opens a scan.
    back = await counter.login("sari")
    assert back.recovered and back.scan_key is not None
    with counter.store() as store:
        assert store.read_scan(back.scan_key, scan_id) == pdf_scan("AKTA CERAI")
    assert [r.action for r in log_rows(server)] == ["scan_key.reissued"]


# -- the escrow on disk -------------------------------------------------------------------


async def test_the_escrow_opens_only_with_the_servers_key_for_this_device(server, counter):
    with counter.store() as store:
        escrow = store.data_key_escrow()
        device_id = store.device().device_id  # type: ignore[union-attr]
    assert escrow is not None
    server_key = load_box_key(server.config.box_key_path)
    assert len(open_escrow(server_key, escrow, device_id)) == 32
    for key, device in ((generate_box_key(), device_id), (server_key, "dev-someone-else")):
        with pytest.raises(SealedBoxError):
            open_escrow(key, escrow, device)
    conn = sqlite3.connect(server.config.db_path)  # the server keeps no copy of it
    try:
        assert not any(
            escrow in str(value)
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for row in conn.execute(f"SELECT * FROM {table}")  # noqa: S608
            for value in row
        )
    finally:
        conn.close()


# -- the app --------------------------------------------------------------------------------


def shown(app: CounterApp, message: str) -> bool:
    """Whether a toast showed ``message`` (Textual keeps the ones it displays)."""
    return any(n.message == message for n in app._notifications)


async def test_the_app_logs_in_offline_locked_and_opens_the_scans_once_the_link_is_back(
    server, link, tmp_path
):
    add_operator(server, "budi")
    add_operator(server, "sari", full_name="Sari Dewi")
    counter = await new_counter(server, link, tmp_path / "counter")
    assert (await counter.login("budi")).scan_key is not None  # another day: key + escrow
    link.set_profile(offline=True)

    app = app_for(counter.config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "sari", SARI_PASSWORD)  # offline: the login works ...
        assert app.operator is not None and app.operator.username == "sari"
        assert app.scan_key is None  # ... the scans stay locked, and she is told why
        offline = message_for("scan.recovery_offline")
        await until(pilot, lambda: shown(app, offline))

        form = await new_application(pilot)
        await fill_service_applicant_address(pilot)
        link.set_profile(offline=False)
        await until(pilot, lambda: shown(app, LINK_BACK))  # the engine reconnected

        # F7 on a document: the password again (it was not kept), a wrong one first.
        form.query_one("#doc-formulir_f102-f102").focus()
        await pilot.press("f7")
        await until(pilot, lambda: isinstance(app.screen, PasswordDialog))
        await pilot.press(*"bukan-sandinya", "enter")
        await until(
            pilot, lambda: any(n.message == "Kata sandi salah." for n in app._notifications)
        )
        assert app.scan_key is None and app.screen is form

        form.query_one("#doc-formulir_f102-f102").focus()
        await pilot.press("f7")
        await until(pilot, lambda: isinstance(app.screen, PasswordDialog))
        await pilot.press(*SARI_PASSWORD, "enter")
        # The key came from the server; the attach goes on to the file picker.
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen), timeout=30)
        assert app.scan_key is not None and app.session_scan_key == app.scan_key
    assert [r.action for r in log_rows(server)] == ["scan_key.reissued"]


async def test_the_app_fetches_the_key_after_login_when_the_link_is_up(server, link, tmp_path):
    add_operator(server, "budi")
    add_operator(server, "sari", full_name="Sari Dewi")
    counter = await new_counter(server, link, tmp_path / "counter")
    assert (await counter.login("budi")).scan_key is not None

    app = app_for(counter.config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "sari", SARI_PASSWORD)
        await until(pilot, lambda: app.scan_key is not None, timeout=30)
        assert app.session_scan_key == app.scan_key
        assert app.scan_key_state is ScanKeyState.OPEN
        await until(pilot, lambda: shown(app, KEY_RECEIVED))
        assert text(app, "#scan-key-status") == "Kunci berkas: terbuka"
        assert not [n for n in app._notifications if n.severity != "information"]
    assert [r.action for r in log_rows(server)] == ["scan_key.reissued"]


async def press_enter_to_log_in(pilot, username: str, password: str) -> float:
    """Log in from the login screen; the seconds from the last Enter to the dashboard."""
    app = pilot.app
    await until(pilot, lambda: app.store is not None and app.store.active_operator_count() > 0)
    await type_into(pilot, "#username", username, clear=True)
    await pilot.press("enter", *password)
    started = time.monotonic()
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
    return time.monotonic() - started


def recovery_workers(app: CounterApp) -> list:
    return [w for w in app.workers if w.name == "scan-key-recovery" and not w.is_finished]


@pytest.fixture
async def stallable(link) -> AsyncIterator[FaultyLink]:
    """The link, released at the end even when a test fails mid-stall: a request held
    there would keep the test's event loop (its worker thread) until its timeout."""
    yield link
    link.set_profile(stalled=False)


async def patient_counter(server: RunningServer, link: FaultyLink, directory: Path) -> Counter:
    """A counter where budi made the key (another day), with timeouts far longer than any
    stall of these tests: only the link decides when an answer comes."""
    add_operator(server, "budi")
    counter = await new_counter(
        server, link, directory, read_timeout_s=120, scan_key_recovery_deadline_s=120
    )
    assert (await counter.login("budi")).scan_key is not None
    return counter


async def test_the_dashboard_is_usable_at_once_while_the_key_comes_over_a_stalled_link(
    server, stallable, tmp_path
):
    link = stallable
    """Bad 2G at a kecamatan counter: packets vanish for a while, then flow again."""
    add_operator(server, "sari", full_name="Sari Dewi")
    app = app_for((await patient_counter(server, link, tmp_path / "counter")).config)
    async with app.run_test(size=SIZE) as pilot:
        link.set_profile(stalled=True)
        seconds = await press_enter_to_log_in(pilot, "sari", SARI_PASSWORD)
        print(f"stalled link: Enter to dashboard in {seconds:.2f} s")
        assert seconds < 3  # it waited up to the deadline (20 s) before
        assert app.operator is not None and app.operator.username == "sari"
        assert app.scan_key is None and app.scan_key_state is ScanKeyState.FETCHING
        assert text(app, "#scan-key-status") == "Kunci berkas: sedang diambil…"
        assert len(recovery_workers(app)) == 1
        # The password is in no worker's description (Textual's default would show it).
        assert not [w for w in app.workers if SARI_PASSWORD in w.description]

        # She works meanwhile: a new application, and F7 says the key is on its way
        # instead of asking the password a second time.
        form = await new_application(pilot)
        await fill_service_applicant_address(pilot)
        form.query_one("#doc-formulir_f102-f102").focus()
        await pilot.press("f7")
        await until(pilot, lambda: shown(app, KEY_BEING_FETCHED))
        assert app.screen is form and not isinstance(app.screen, PasswordDialog)
        assert app.scan_key_state is ScanKeyState.FETCHING and log_rows(server) == []

        link.set_profile(stalled=False)  # the link comes back: the held request goes on
        await until(pilot, lambda: app.scan_key is not None, timeout=60)
        assert app.scan_key_state is ScanKeyState.OPEN and app.session_scan_key == app.scan_key
        await until(pilot, lambda: shown(app, KEY_RECEIVED))
        assert isinstance(app.screen, ApplicationFormScreen)  # nothing jumped on its own
        form.query_one("#doc-formulir_f102-f102").focus()
        await pilot.press("f7")  # now the attach goes straight to the file picker
        await until(pilot, lambda: isinstance(app.screen, FilePickerScreen), timeout=30)
    assert [r.action for r in log_rows(server)] == ["scan_key.reissued"]


async def test_a_key_that_arrives_after_the_logout_is_not_kept_for_the_next_operator(
    server, stallable, tmp_path
):
    link = stallable
    sari_id = add_operator(server, "sari", full_name="Sari Dewi")
    add_operator(server, "rina", full_name="Rina Wati")
    counter = await patient_counter(server, link, tmp_path / "counter")
    app = app_for(counter.config)
    async with app.run_test(size=SIZE) as pilot:
        link.set_profile(stalled=True)
        await press_enter_to_log_in(pilot, "sari", SARI_PASSWORD)
        assert app.scan_key_state is ScanKeyState.FETCHING
        await pilot.press("f9")  # sari leaves before the answer comes
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        assert app.scan_key_state is ScanKeyState.LOCKED and not recovery_workers(app)

        # rina, with no copy of the key either, takes the counter; the server will refuse
        # her own request (her password was changed centrally, the counter has the old hash).
        reset_password(server, "rina", "sandi-baru-rina-2")
        await press_enter_to_log_in(pilot, "rina", OPERATOR_PASSWORD)
        assert app.scan_key_state is ScanKeyState.FETCHING

        link.set_profile(stalled=False)  # both held requests reach the server
        outdated = message_for("scan.password_outdated")
        await until(pilot, lambda: shown(app, outdated), timeout=60)
        # sari's answer came too (her copy is in the keyring) ...
        with counter.store() as store:
            await until(pilot, lambda: sari_id in keyring(store), timeout=60)
        await pilot.pause()
        # ... but it opens nothing in rina's session, and the app keeps no copy of it.
        assert app.operator is not None and app.operator.username == "rina"
        assert app.scan_key is None and app.session_scan_key is None
        assert app.scan_key_state is ScanKeyState.LOCKED
        assert text(app, "#scan-key-status") == "Kunci berkas: terkunci"
        assert not shown(app, KEY_RECEIVED)

        # sari's next login, offline, opens her new wrapped copy; the server is not asked.
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        link.set_profile(offline=True)
        await press_enter_to_log_in(pilot, "sari", SARI_PASSWORD)
        assert app.scan_key is not None and app.scan_key_state is ScanKeyState.OPEN
        assert not recovery_workers(app)
    assert [(r.action, r.actor_id) for r in log_rows(server)] == [("scan_key.reissued", sari_id)]
