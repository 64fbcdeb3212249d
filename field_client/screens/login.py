"""Operator login, offline, with the accounts pulled from the central server.

The password is checked against the pulled scrypt hash on a worker thread (about 0.1 s of
CPU by design), so the screen stays responsive, and the login completes on that check alone:
no network. An operator with no copy of the counter's scan key gets it from the server
afterwards, in the background (:mod:`field_client.operator_login`, the app's recovery
worker). A fresh counter has no accounts until its first sync: the screen says so and keeps
the sync status in view.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Static

from field_client.messages import LoggedIn, SyncStatusChanged
from field_client.operator_login import check_operator
from field_client.widgets.keys import TextInput
from field_client.widgets.status import SyncStatusBar
from protocol.wilayah import region

if TYPE_CHECKING:
    from field_client.app import CounterApp

__all__ = ["LoginScreen", "kecamatan_label"]

log = logging.getLogger("field_client.app")

NO_ACCOUNTS = (
    "Belum ada akun operator di loket ini. Akun diambil dari server pusat saat "
    "sinkronisasi: sambungkan jaringan sebentar dan tunggu status menjadi Terhubung."
)
WRONG_PASSWORD = "Nama pengguna atau kata sandi salah."


def kecamatan_label(code: str) -> str:
    """``160601`` -> ``"Kecamatan Sekayu (160601)"``; the bare code when unknown."""
    found = region(code)
    return f"Kecamatan {found.name.title()} ({code})" if found else f"Kecamatan {code}"


class LoginScreen(Screen[None]):
    """Username and password; Enter logs in."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "login", "Masuk"),
        Binding("f5", "app.sync_now", "Sinkron"),
    ]

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="KK")
        yield SyncStatusBar(id="sync-status")
        with VerticalScroll(id="login-form", classes="form"):
            yield Static("Masuk operator", classes="screen-title")
            yield Static("", id="device-info", classes="intro")
            with Horizontal(classes="field"):
                yield Label("Nama pengguna")
                yield TextInput(placeholder="nama pengguna dari admin Dinas", id="username")
            with Horizontal(classes="field"):
                yield Label("Kata sandi")
                yield TextInput(password=True, id="password")
            yield Button("Masuk (Enter)", id="login", variant="primary")
            yield Static("", id="login-message")
        yield Footer()

    def on_mount(self) -> None:
        device = self.counter.device
        if device is not None:
            self.query_one("#device-info", Static).update(
                f"Loket {device.device_id}, {kecamatan_label(device.kecamatan)}. "
                "Masuk dengan akun operator; tidak memerlukan jaringan."
            )
        self._show_account_hint()
        self.query_one("#username", Input).focus()

    def on_sync_status_changed(self, message: SyncStatusChanged) -> None:
        if not message.status.syncing:  # a pull may just have brought the accounts
            self._show_account_hint()

    def _show_account_hint(self) -> None:
        store = self.counter.store
        shown = self.query_one("#login-message", Static)
        if store is not None and store.active_operator_count() == 0:
            shown.update(Text(NO_ACCOUNTS, style="yellow"))
        elif str(shown.content) == NO_ACCOUNTS:
            shown.update("")

    @on(Input.Submitted)
    def _next_or_login(self, event: Input.Submitted) -> None:
        if event.input.id == "username":
            self.query_one("#password", Input).focus()
            return
        self.action_login()

    @on(Button.Pressed, "#login")
    def _pressed(self) -> None:
        self.action_login()

    def action_login(self) -> None:
        """Check the account offline, in the background."""
        username = self.query_one("#username", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not username:
            self._fail("Isi nama pengguna.", focus="#username")
            return
        if not password:
            self._fail("Isi kata sandi.", focus="#password")
            return
        self.query_one("#login", Button).disabled = True
        self._login(username, password)

    # An explicit description: Textual's default is the call with its arguments' reprs.
    @work(exclusive=True, group="login", description="operator login")
    async def _login(self, username: str, password: str) -> None:
        try:
            outcome = await asyncio.to_thread(
                check_operator,
                self.counter.config,
                username,
                password,
                unlocked=self.counter.session_scan_key,
                clock=self.counter.clock,
            )
        finally:
            self.query_one("#login", Button).disabled = False
        if outcome.operator is None:
            store = self.counter.store
            if store is not None and store.active_operator_count() == 0:
                self._fail(NO_ACCOUNTS, focus="#password")
            else:
                self._fail(WRONG_PASSWORD, focus="#password")
            return
        self.app.post_message(
            LoggedIn(
                outcome.operator,
                outcome.scan_key,
                outcome.notice,
                recovery_password=password if outcome.recoverable else None,
            )
        )

    def _fail(self, message: str, *, focus: str) -> None:
        self.query_one("#login-message", Static).update(Text(message, style="bold red"))
        field = self.query_one(focus, Input)
        if focus == "#password":
            field.value = ""
        field.focus()
