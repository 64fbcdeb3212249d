"""The dashboard: sync status, counts per state, the application list with search, and
whether the operator's scan key is open yet.

Everything here is read from the local store, so it works the same without network. After
each sync round the counts and the list are read again: a pull may have brought central
decisions (verified, returned, signed) that move applications between states.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from field_client.messages import LogoutRequested, SyncStatusChanged
from field_client.screens.application_form import ApplicationFormScreen
from field_client.screens.application_view import ApplicationScreen
from field_client.screens.inbox import InboxScreen
from field_client.store import StoredApplication
from field_client.widgets.dashboard import ApplicationTable, StateCounts
from field_client.widgets.keys import TextInput
from field_client.widgets.status import ScanKeyStatus, SyncStatusBar

if TYPE_CHECKING:
    from field_client.app import CounterApp

__all__ = ["DashboardScreen", "LIST_LIMIT"]

LIST_LIMIT = 200
"""Most rows listed at once; a search narrows further."""


class DashboardScreen(Screen[None]):
    """What the operator sees after logging in."""

    HELP = """
## Dasbor loket

F2 membuat permohonan baru. F3 mencari nama, NIK, atau nomor KK; Esc menghapus pencarian.
Pilih permohonan di daftar dengan panah lalu Enter untuk membukanya.
F5 menyinkronkan sekarang; status sinkronisasi selalu tampil di atas.
F6 membuka kotak masuk WhatsApp: dokumen kiriman pemohon, untuk dilampirkan ke permohonan.
Di kanan bawah: kunci berkas pindaian (terkunci, sedang diambil, terbuka). Melampirkan berkas
dan menyimpan PDF KK memerlukannya; bagi operator baru di loket ini kunci diambil dari
server pusat sesudah masuk, sementara itu pekerjaan lain dapat berjalan.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "new_application", "Permohonan baru"),
        Binding("f3", "search", "Cari"),
        # Short labels: the whole footer fits at 80 columns.
        Binding("f5", "app.sync_now", "Sinkron"),
        Binding("f6", "inbox", "Kotak WA"),
        Binding("f9", "logout", "Keluar"),
        Binding("escape", "clear_search", "Hapus pencarian", show=False),
    ]

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="KK")
        yield SyncStatusBar(id="sync-status")
        yield StateCounts(id="state-counts")
        yield TextInput(placeholder="Cari nama, NIK, atau nomor KK (F3)", id="search")
        yield ApplicationTable(id="applications")
        with Horizontal(id="list-footer"):
            yield Static("", id="list-note")
            yield ScanKeyStatus(id="scan-key-status")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_data()
        self.query_one("#applications", ApplicationTable).focus()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def on_sync_status_changed(self, message: SyncStatusChanged) -> None:
        if not message.status.syncing:
            self.refresh_data()

    def refresh_data(self) -> None:
        """Read counts and the (searched) list again from the store."""
        store = self.counter.store
        if store is None:
            return
        self.query_one("#state-counts", StateCounts).show(store.count_by_state())
        self._list(self.query_one("#search", Input).value)

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        self._list(event.value)

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        self.query_one("#applications", ApplicationTable).focus()

    def _list(self, text: str) -> None:
        store = self.counter.store
        if store is None:
            return
        rows = store.search_applications(text, limit=LIST_LIMIT)
        self.query_one("#applications", ApplicationTable).show(rows, now=self.counter.clock())
        note = self.query_one("#list-note", Static)
        if rows:
            shown = f"{len(rows)} permohonan" + (
                f" cocok dengan “{text.strip()}”" if text.strip() else ""
            )
            note.update(
                shown + (f" (paling banyak {LIST_LIMIT})" if len(rows) == LIST_LIMIT else "")
            )
        elif text.strip():
            note.update(f"Tidak ada permohonan yang cocok dengan “{text.strip()}”.")
        else:
            note.update("Belum ada permohonan di loket ini.")

    def action_search(self) -> None:
        """Focus the search field."""
        self.query_one("#search", Input).focus()

    def action_clear_search(self) -> None:
        """Empty the search and show every application again."""
        search = self.query_one("#search", Input)
        if search.value:
            search.value = ""  # fires Input.Changed, which lists again
        else:
            self.query_one("#applications", ApplicationTable).focus()

    def action_new_application(self) -> None:
        """Start a new application (SOP steps 1-2)."""
        self.app.push_screen(ApplicationFormScreen())

    def action_inbox(self) -> None:
        """The documents applicants sent by WhatsApp to this kecamatan."""
        self.app.push_screen(InboxScreen())

    @on(DataTable.RowSelected, "#applications")
    def _open(self, event: DataTable.RowSelected) -> None:
        store = self.counter.store
        key = event.row_key.value
        stored = store.get_application(key) if store is not None and key else None
        if stored is None:
            return
        self.open_application(stored)

    def open_application(self, stored: StoredApplication) -> None:
        """Show one application: its data, reasons for a return, actions, timeline."""
        self.app.push_screen(ApplicationScreen(stored.application.id))

    def action_logout(self) -> None:
        """Leave the counter to the next operator."""
        self.app.post_message(LogoutRequested())
