"""First start: enroll this counter with the central server (server URL + one-time code).

Enrollment is the one step that needs the network; the screen says so up front and again
when the network is missing. Every failure is shown in plain Indonesian under the form and
the operator simply tries again (enrollment records nothing until it succeeds).
"""

from __future__ import annotations

import logging
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Static

from field_client.config import CounterConfig
from field_client.messages import Enrolled
from field_client.sync.enroll import enroll_device
from field_client.sync.errors import EnrollmentError
from field_client.widgets.keys import TextInput
from protocol.errors import KKError

__all__ = ["EnrollmentScreen", "explain_enrollment_error"]

log = logging.getLogger("field_client.app")

INTRO = (
    "Perangkat loket ini belum terdaftar. Masukkan alamat server pusat dan kode "
    "pendaftaran sekali pakai dari admin Dinas. Hanya langkah ini yang memerlukan "
    "jaringan; setelah terdaftar, loket dapat bekerja tanpa jaringan."
)

_NETWORK_HINT = (
    "Hanya pendaftaran yang memerlukan jaringan: sambungkan loket ke internet (modem atau "
    "wifi kantor), lalu tekan Enter lagi. Setelah terdaftar, loket bekerja tanpa jaringan."
)
_NEW_CODE_HINT = "Minta kode baru kepada admin Dinas, lalu ketik di kolom Kode."


def explain_enrollment_error(exc: KKError) -> str:
    """What the operator reads for a failed enrollment: the error's own Indonesian message
    plus, where it helps, what to do next."""
    code = exc.code
    if code == "enroll.no_network":
        return f"{exc.message} {_NETWORK_HINT}"
    if code == "enroll.code_used":
        return f"{exc.message} {_NEW_CODE_HINT}"
    if code == "enroll.throttled":
        retry = getattr(exc, "retry_after", None)
        if retry:
            return (
                "Terlalu banyak percobaan pendaftaran yang gagal. Tunggu "
                f"{max(1, round(retry / 60))} menit, lalu coba lagi."
            )
    return exc.message


class EnrollmentScreen(Screen[None]):
    """Server URL, one-time code, optional device label; Enter enrolls."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "enroll", "Daftarkan"),
    ]

    def __init__(self, config: CounterConfig) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        yield Header(icon="KK")
        with VerticalScroll(id="enroll-form", classes="form"):
            yield Static("Pendaftaran perangkat loket", classes="screen-title")
            yield Static(INTRO, classes="intro")
            with Horizontal(classes="field"):
                yield Label("Alamat server pusat")
                yield TextInput(
                    value=self.config.server_url or "",
                    placeholder="https://server-pusat",
                    id="server-url",
                )
            with Horizontal(classes="field"):
                yield Label("Kode pendaftaran")
                yield TextInput(placeholder="XXXX-XXXX-XXXX", id="code")
            with Horizontal(classes="field"):
                yield Label("Nama perangkat")
                yield TextInput(placeholder="boleh kosong, mis. Loket 1 Sekayu", id="label")
            yield Button("Daftarkan (Enter)", id="enroll", variant="primary")
            yield Static("", id="enroll-message")
        yield Footer()

    def on_mount(self) -> None:
        first = "#code" if self.config.server_url else "#server-url"
        self.query_one(first, Input).focus()

    @on(Input.Submitted)
    def _next_or_enroll(self, event: Input.Submitted) -> None:
        # Enter on the URL moves on to the code; Enter on the code or label enrolls.
        if event.input.id == "server-url" and not self.query_one("#code", Input).value:
            self.query_one("#code", Input).focus()
            return
        self.action_enroll()

    @on(Button.Pressed, "#enroll")
    def _pressed(self) -> None:
        self.action_enroll()

    def action_enroll(self) -> None:
        """Check the form and start enrolling in the background."""
        url = self.query_one("#server-url", Input).value.strip()
        code = self.query_one("#code", Input).value.strip()
        if not url:
            self._show_error("Isi alamat server pusat (dari admin Dinas).", focus="#server-url")
            return
        if not code:
            self._show_error("Isi kode pendaftaran dari admin Dinas.", focus="#code")
            return
        label = self.query_one("#label", Input).value.strip()
        self._set_busy(True)
        self._show(Text("Menghubungi server pusat…", style="bold"))
        self._enroll(url, code, label)

    @work(exclusive=True, group="enroll")
    async def _enroll(self, url: str, code: str, label: str) -> None:
        try:
            done = await enroll_device(self.config, server_url=url, code=code, label=label)
        except EnrollmentError as exc:
            focus = (
                "#server-url"
                if exc.code in ("enroll.bad_server_url", "enroll.bad_response")
                else "#code"
            )
            self._show_error(explain_enrollment_error(exc), focus=focus)
        except KKError as exc:  # already enrolled, unusable key file or data folder
            self._show_error(f"{exc.message} ({exc.code})")
        except Exception:  # a bug must not close the counter; the log has the traceback
            log.exception("enrollment failed unexpectedly")
            self._show_error(
                "Terjadi kesalahan di aplikasi loket saat pendaftaran; tidak ada yang "
                "tersimpan. Coba lagi, dan laporkan ke admin bila berulang."
            )
        else:
            self.app.post_message(Enrolled(done))
        finally:
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.query_one("#enroll", Button).disabled = busy

    def _show(self, text: Text) -> None:
        self.query_one("#enroll-message", Static).update(text)

    def _show_error(self, message: str, *, focus: str | None = None) -> None:
        self._show(Text(message, style="bold red"))
        if focus:
            field = self.query_one(focus, Input)
            field.focus()
            field.select_all()
