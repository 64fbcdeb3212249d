"""The counter app: the Textual terminal app kecamatan operators use all day.

:func:`make_counter_app` builds it, for the ``kk-counter app`` command and for the tests.
The flow lives here, in the message handlers of :class:`CounterApp`; the screens only say
what happened (:mod:`field_client.messages`):

* not enrolled yet: :class:`~field_client.screens.enrollment.EnrollmentScreen`, the one
  step that needs the network;
* enrolled: the sync engine starts in the background and
  :class:`~field_client.screens.login.LoginScreen` asks for an operator account (pulled
  from the server, checked offline);
* logged in: :class:`~field_client.screens.dashboard.DashboardScreen`, at once; when the
  operator has no copy of the scan key yet, the server is asked for it in the background
  (:meth:`CounterApp.recover_scan_key_in_background`) and the dashboard shows how that
  stands (:attr:`CounterApp.scan_key_state`).

The app owns the operator's store connection (screens read through it, on the event loop)
and the :class:`~field_client.sync.engine.SyncEngine`; the engine's status becomes the
reactive :attr:`CounterApp.sync_status`, which every status bar follows. Network failures
never reach the operator as exceptions: the engine turns them into that status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from textual import work
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.reactive import reactive
from textual.screen import Screen

from field_client.actions import Counter, utc_now
from field_client.config import CounterConfig
from field_client.daemon_thread import in_daemon_thread
from field_client.key_order import OrderedKeysApp
from field_client.messages import Enrolled, LoggedIn, LogoutRequested, SyncStatusChanged
from field_client.operator_login import check_operator, fetch_scan_key
from field_client.scans import DataKey
from field_client.screens.dashboard import DashboardScreen
from field_client.screens.dialogs import PasswordDialog
from field_client.screens.enrollment import EnrollmentScreen
from field_client.screens.login import LoginScreen
from field_client.store import Device, Operator, Store
from field_client.sync.engine import SyncEngine, SyncStatus
from field_client.widgets.status import ScanKeyState
from protocol.errors import KKError
from protocol.jurisdiction import office_date
from signing.keys import load_private_key

__all__ = ["CounterApp", "EngineFactory", "make_counter_app"]

log = logging.getLogger("field_client.app")

SCANS_LOCKED_TITLE = "Kunci berkas pindaian"
ASK_PASSWORD = (
    "Kunci berkas pindaian loket ini belum terbuka untuk akun Anda. Ketik kata sandi Anda "
    "sekali lagi: kunci diambil dari server pusat (perlu jaringan)."
)
LINK_BACK = (
    "Jaringan ke server pusat tersambung. Kunci berkas pindaian dapat diambil sekarang: "
    "lampirkan berkas (F7) atau simpan PDF KK, lalu ketik kata sandi Anda."
)
KEY_RECEIVED = (
    "Kunci berkas pindaian sudah diterima dari server pusat: berkas dapat dilampirkan dan "
    "PDF KK dapat disimpan."
)
KEY_BEING_FETCHED = (
    "Kunci berkas pindaian sedang diambil dari server pusat. Tunggu sebentar, lalu coba lagi."
)

EngineFactory = Callable[[CounterConfig], SyncEngine]
"""Builds the sync engine for a config (tests pass one with a seeded RNG)."""


class CounterApp(OrderedKeysApp[None]):
    """The kecamatan counter. Build it with :func:`make_counter_app`."""

    CSS_PATH = "app.tcss"
    TITLE = "Loket KK Online"
    SUB_TITLE = "Disdukcapil Kabupaten Musi Banyuasin"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Tutup aplikasi", priority=True),
        Binding("ctrl+c", "help_quit", show=False, system=True),
        # Declared here so the footer shows an Indonesian label (Textual's is "palette").
        Binding("ctrl+p", "command_palette", "Perintah", show=False, priority=True),
        Binding("f1", "help", "Bantuan"),
    ]

    sync_status: reactive[SyncStatus] = reactive(SyncStatus, init=False)
    """The engine's latest status (the status bars watch it)."""
    scan_key_state: reactive[ScanKeyState] = reactive(ScanKeyState.LOCKED, init=False)
    """Whether the logged-in operator's scan key is open, being fetched, or locked."""

    def __init__(
        self,
        config: CounterConfig,
        *,
        engine_factory: EngineFactory | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__()
        self.config = config
        self.clock = clock
        """The device clock (aware datetimes); screens and actions read time from it."""
        self._engine_factory: EngineFactory = engine_factory or SyncEngine
        self.store: Store | None = None
        """The operator's connection to the counter's store (open once enrolled)."""
        self.device: Device | None = None
        self.engine: SyncEngine | None = None
        self.operator: Operator | None = None
        """Who is logged in; every action is recorded with this operator."""
        self._unsubscribe: Callable[[], None] | None = None
        self._actions: Counter | None = None
        self._device_key: Ed25519PrivateKey | None = None
        self.scan_key: DataKey | None = None
        """The logged-in operator's key to the scans (preview, attach); dropped at logout."""
        self.last_folder: Path = Path.home()
        """Where the file picker opens: the folder of the last scan attached."""
        self.session_scan_key: DataKey | None = None
        """The scan key as last opened while the app runs: an operator logging in without
        a copy of it yet gets one wrapped under their password (field_client.scans.unlock)
        without asking the server (field_client.scan_recovery)."""
        self._last_sync: datetime | None = None
        self._wait_for_link = False
        """The scan key could not be fetched after the login for want of a link: tell the
        operator once when the engine reaches the server again."""

    # -- life cycle ------------------------------------------------------------------------

    def on_mount(self) -> None:
        try:
            enrolled = self._open_if_enrolled()
        except KKError as exc:  # e.g. a store written by a newer version: say so, stop
            self.exit(return_code=1, message=f"Galat: {exc.message} ({exc.code})")
            return
        if not enrolled:
            self.push_screen(EnrollmentScreen(self.config))
            return
        self._start_sync()
        self.push_screen(LoginScreen())

    async def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.engine is not None:
            await self.engine.aclose()
        if self.store is not None:
            self.store.close()

    def _open_if_enrolled(self) -> bool:
        # Never create the store here: an empty file would look like a half enrollment.
        if not self.config.db_path.exists():
            return False
        store = Store.open(self.config.db_path)
        device = store.device()
        if device is None:
            store.close()
            return False
        self.store, self.device = store, device
        return True

    def _start_sync(self) -> None:
        assert self.store is not None
        self.engine = self._engine_factory(self.config)
        # Until the first round reports, show what the outbox holds rather than zeros, and
        # when the counter last synced (the engine only knows its own rounds).
        self._last_sync = self.store.last_sync_at()
        self.sync_status = replace(
            self._with_last_sync(self.engine.status),
            **self.store.outbox_summary(),
            **self.store.scan_summary(),
        )
        self._unsubscribe = self.engine.subscribe(self._on_sync_status)
        self.engine.start()

    def _on_sync_status(self, status: SyncStatus) -> None:
        status = self._with_last_sync(status)
        self.sync_status = status
        self.screen.post_message(SyncStatusChanged(status))
        if status.online and not status.device_revoked and self._wait_for_link:
            self._wait_for_link = False  # once per login: the password is not kept
            if self.operator is not None and self.scan_key is None:
                self.notify(LINK_BACK, title=SCANS_LOCKED_TITLE, timeout=15)

    def _with_last_sync(self, status: SyncStatus) -> SyncStatus:
        """The status with the last success known to the store, recording a newer one."""
        done = status.last_success_at
        if done is not None and (self._last_sync is None or done > self._last_sync):
            self._last_sync = done
            if self.store is not None:
                self.store.record_last_sync(done)
        if done is None and self._last_sync is not None:
            return replace(status, last_success_at=self._last_sync)
        return status

    # -- the flow --------------------------------------------------------------------------

    def on_enrolled(self, message: Enrolled) -> None:
        done = message.enrollment
        self._open_if_enrolled()
        self._start_sync()
        self.notify(
            f"Terdaftar sebagai {done.device.device_id}. Sidik kunci perangkat "
            f"{done.device_fingerprint}, server {done.server_fingerprint}: cocokkan dengan "
            "yang terlihat oleh admin Dinas.",
            title="Perangkat terdaftar",
            timeout=30,
        )
        self.switch_screen(LoginScreen())

    async def on_logged_in(self, message: LoggedIn) -> None:
        self.operator = message.operator
        self.scan_key = message.scan_key
        self._wait_for_link = False
        # Out of the message at once: only the recovery's own call keeps the password.
        password, message.recovery_password = message.recovery_password, None
        if message.scan_key is not None:
            self.session_scan_key = message.scan_key
            self.scan_key_state = ScanKeyState.OPEN
        elif password is not None:
            self.recover_scan_key_in_background(message.operator, password)
        else:
            self.scan_key_state = ScanKeyState.LOCKED
        del password
        # Switch first: a Header on a screen being removed must not see the title change
        # (Textual's header then updates a child already gone).
        await self.switch_screen(DashboardScreen())
        self.sub_title = f"Operator: {message.operator.full_name}"
        if message.scan_notice is not None:
            self.notify(
                message.scan_notice, title=SCANS_LOCKED_TITLE, severity="warning", timeout=20
            )

    async def on_logout_requested(self, message: LogoutRequested) -> None:
        if self.operator is not None:  # a recovery still running is for nobody now
            self.workers.cancel_group(self, _recovery_group(self.operator))
        self.operator = None
        self.scan_key = None
        self.scan_key_state = ScanKeyState.LOCKED
        self._wait_for_link = False
        await self.switch_screen(LoginScreen())
        self.sub_title = self.SUB_TITLE or ""

    # -- actions any screen may use ----------------------------------------------------------

    def ask_scan_key(self, then: Callable[[], object]) -> None:
        """Open the scans for the logged-in operator, then call ``then``: at once when the
        key is open; not while the server is being asked for it (the operator is told so:
        a second password would only race that request); otherwise ask the password again
        (it is never kept after the login) and fetch the key from the server
        (:mod:`field_client.operator_login`)."""
        if self.operator is None:
            return
        if self.scan_key is not None:
            then()
            return
        if self.scan_key_state is ScanKeyState.FETCHING:
            self.notify(KEY_BEING_FETCHED, title=SCANS_LOCKED_TITLE, timeout=8)
            return
        screen = self.screen

        def answered(password: str | None) -> None:
            if password:
                # Go on only where the operator asked: the answer may take a while.
                self._reopen_scans(password, lambda: then() if self.screen is screen else None)

        self.push_screen(PasswordDialog(SCANS_LOCKED_TITLE, ASK_PASSWORD), answered)

    # An explicit description: Textual's default is the call with its arguments' reprs.
    @work(exclusive=True, group="scan-key", description="password check for the scan key")
    async def _reopen_scans(self, password: str, then: Callable[[], object]) -> None:
        operator = self.operator
        if operator is None:
            return
        self.notify("Membuka kunci berkas pindaian...", timeout=5)
        outcome = await asyncio.to_thread(
            check_operator,
            self.config,
            operator.username,
            password,
            unlocked=self.session_scan_key,
            clock=self.clock,
        )
        if self.operator is not operator:  # logged out meanwhile: keep nothing
            return
        if outcome.operator is None or outcome.operator.id != operator.id:
            self.notify("Kata sandi salah.", title=SCANS_LOCKED_TITLE, severity="error")
        elif outcome.recoverable:
            self.recover_scan_key_in_background(operator, password, then=then)
        elif outcome.scan_key is None:
            self.notify(
                outcome.notice or "", title=SCANS_LOCKED_TITLE, severity="warning", timeout=20
            )
        else:
            self._take_scan_key(outcome.scan_key)
            self.notify("Kunci berkas pindaian terbuka untuk akun ini.", timeout=5)
            then()

    def recover_scan_key_in_background(
        self,
        operator: Operator,
        password: str,
        *,
        then: Callable[[], object] | None = None,
    ) -> None:
        """Ask the server for the scan key of ``operator`` (just logged in, or who just
        typed the password again), whose ``password`` was just checked offline. One at a
        time per operator (a new one cancels the last); the password lives only in this
        worker's call, at most :attr:`CounterConfig.scan_key_recovery_deadline_s`. The key
        is taken only if the same login of the same operator is still on (a logout or
        another operator meanwhile: it is dropped, and the operator's next login opens the
        copy the recovery wrote to the keyring); then ``then`` runs."""
        self.scan_key_state = ScanKeyState.FETCHING
        self._wait_for_link = False  # no "type your password" notice while it runs
        self.run_worker(
            partial(self._recover_scan_key, operator, password, then),
            name="scan-key-recovery",
            group=_recovery_group(operator),
            # Never Textual's default description: it would hold the password's repr.
            description=f"scan key recovery for operator {operator.id}",
            exclusive=True,
            exit_on_error=False,
        )

    async def _recover_scan_key(
        self, operator: Operator, password: str, then: Callable[[], object] | None
    ) -> None:
        # A daemon thread: quitting the app must not wait for an answer on a dead link.
        outcome = await in_daemon_thread(
            partial(fetch_scan_key, self.config, operator, password, clock=self.clock),
            name="scan-key-recovery",
        )
        del password
        if self.operator is not operator:  # logged out or someone else: keep nothing
            log.info("scan key answer for %s dropped: that login is over", operator.id)
            return
        if outcome.scan_key is None:
            self.scan_key_state = ScanKeyState.LOCKED
            self._wait_for_link = outcome.offline
            self.notify(
                outcome.notice or "", title=SCANS_LOCKED_TITLE, severity="warning", timeout=20
            )
            return
        self._take_scan_key(outcome.scan_key)
        self.notify(KEY_RECEIVED, title=SCANS_LOCKED_TITLE, timeout=8)
        if then is not None:
            then()

    def _take_scan_key(self, key: DataKey) -> None:
        self.scan_key = self.session_scan_key = key
        self.scan_key_state = ScanKeyState.OPEN

    def outbox_changed(self) -> None:
        """Call after an operator action wrote an event: the status bar shows the new
        backlog at once, and the engine sends it now instead of at its next poll."""
        if self.store is not None:
            summary = {**self.store.outbox_summary(), **self.store.scan_summary()}
            self.sync_status = replace(self.sync_status, **summary)
        if self.engine is not None:
            self.engine.wake()

    def actions(self) -> Counter:
        """The operator actions of this counter (the device key is read once, when first
        needed: a counter that only looks things up never loads it)."""
        assert self.store is not None, "actions need an enrolled counter"
        if self._actions is None:
            self._actions = Counter(self.store, self.device_key(), now=self.clock)
        return self._actions

    def device_key(self) -> Ed25519PrivateKey:
        """The device's signing key, read once. A worker thread builds its own
        :class:`Counter` on its own store connection with it (a sqlite3 connection belongs
        to the thread that opened it)."""
        if self._device_key is None:
            self._device_key = load_private_key(self.config.key_path)
        return self._device_key

    def today(self) -> date:
        """The office's calendar date (WIB) by :attr:`clock`: what validation judges
        ages and deadlines against."""
        return office_date(self.clock())

    def action_help(self) -> None:
        """F1: the keys of this screen and what the focused part is for."""
        self._keys()

    def action_sync_now(self) -> None:
        """Ask the engine for a round now (it ends its wait or backoff)."""
        if self.engine is None:
            return
        self.engine.wake()
        self.notify("Sinkronisasi dimulai.", timeout=3)

    def action_help_quit(self) -> None:
        # Textual's own hint is in English; operators press ctrl+c out of habit.
        self.notify("Tekan ctrl+q untuk menutup aplikasi.", title="Menutup aplikasi?")

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(id="--command-palette", placeholder="Cari perintah…"))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette's commands, in Indonesian (Textual's own are English)."""
        if self.operator is not None and isinstance(screen, DashboardScreen):
            yield SystemCommand(
                "Permohonan baru",
                "Isi formulir F-1.02: jenis permohonan, pemohon, anggota keluarga",
                screen.action_new_application,
            )
            yield SystemCommand(
                "Cari permohonan", "Cari nama, NIK, atau nomor KK", screen.action_search
            )
        if self.engine is not None:
            yield SystemCommand(
                "Sinkronkan sekarang",
                "Kirim catatan dan ambil kiriman server",
                self.action_sync_now,
            )
        yield SystemCommand("Tampilkan tombol", "Daftar tombol pintas layar ini", self._keys)
        yield SystemCommand("Tutup aplikasi", "Keluar dari aplikasi loket", self.exit)

    def _keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


def _recovery_group(operator: Operator) -> str:
    """The worker group of one operator's scan-key recovery (exclusive: one at a time)."""
    return f"scan-key-recovery:{operator.id}"


def make_counter_app(
    config: CounterConfig | None = None,
    *,
    engine_factory: EngineFactory | None = None,
    clock: Callable[[], datetime] | None = None,
) -> CounterApp:
    """The counter app for ``config`` (``KK_COUNTER_*`` environment variables by default).

    Args:
        config: the counter's settings; its data directory holds the store and the key.
        engine_factory: builds the sync engine (default: ``SyncEngine(config)``).
        clock: the device clock (default: the system's, in UTC); tests fix it.

    Returns:
        The app, not yet running: ``.run()`` it, or ``.run_test()`` it in tests.
    """
    return CounterApp(
        config or CounterConfig(), engine_factory=engine_factory, clock=clock or utc_now
    )
