"""The kecamatan's WhatsApp inbox: documents applicants sent to the office number.

SOP step 1 without a USB stick: the server downloads, checks and encrypts each document and
tells the kecamatan's counters (``inbox.document``, :meth:`Store.inbox_documents`). Here the
operator sees them (when, from which number, type, size, the sender's pending application
the server found) and attaches one to an application of this counter (Enter): the
application is picked from a list, with the server's suggestion highlighted, and the
attachment is an ``inbox.attached`` event the server applies on the next sync.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Static

from field_client.screens.dialogs import ConfirmDialog
from field_client.store import ApplicationSummary, InboxDocument
from field_client.widgets.keys import Table
from field_client.widgets.status.sync_status_bar import format_bytes, format_when
from protocol.errors import KKError
from protocol.events import parse_timestamp
from protocol.workflow import counter_may_edit

if TYPE_CHECKING:
    from field_client.app import CounterApp

__all__ = ["InboxScreen", "PickApplicationDialog"]

_TYPES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}


class PickApplicationDialog(ModalScreen[str | None]):
    """Pick one of ``choices`` (Enter); ``None`` when cancelled (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Batal")]

    def __init__(
        self, title: str, choices: list[ApplicationSummary], *, suggested: str | None
    ) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._choices, self._suggested = title, choices, suggested

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="screen-title")
            yield Table(id="choices", cursor_type="row")
            yield Static("Enter: pilih · Esc: batal", classes="dim")

    def on_mount(self) -> None:
        table = self.query_one("#choices", DataTable)
        table.add_column("Pemohon", width=28)
        table.add_column("Status", width=22)
        for choice in self._choices:
            name = choice.applicant_name or "(tanpa nama)"
            table.add_row(name, choice.state.label, key=choice.id)
        if self._suggested is not None:
            ids = [c.id for c in self._choices]
            if self._suggested in ids:
                table.move_cursor(row=ids.index(self._suggested))
        table.focus()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))

    def action_cancel(self) -> None:
        """Close without a choice."""
        self.dismiss(None)


class InboxScreen(Screen[None]):
    """The documents of this kecamatan's WhatsApp inbox; Escape goes back."""

    HELP = """
## Kotak masuk WhatsApp

Dokumen yang dikirim pemohon ke nomor WhatsApp kantor (sudah diperiksa dan dienkripsi
oleh server). Pilih dokumen lalu Enter untuk melampirkannya ke permohonan di loket ini;
permohonan pengirim yang ditemukan server sudah terpilih. Terkirim ke server saat sinkron.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "app.sync_now", "Sinkron"),
        Binding("escape", "app.pop_screen", "Kembali"),
    ]

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="KK")
        yield Static("Kotak masuk WhatsApp", classes="screen-title")
        yield Table(id="inbox", cursor_type="row", zebra_stripes=True)
        yield Static("", id="inbox-note")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#inbox", DataTable)
        # 78 cells with the padding: fits at 80 columns.
        for label, width in (
            ("Diterima", 11),
            ("Dari", 15),
            ("Jenis", 5),
            ("Ukuran", 9),
            ("Permohonan", 26),
        ):
            table.add_column(label, width=width)
        self.refresh_data()
        table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def on_sync_status_changed(self) -> None:
        self.refresh_data()  # a pull may have brought new documents

    def refresh_data(self) -> None:
        """Read the inbox and what this counter attached again."""
        store = self.counter.store
        if store is None:
            return
        now = self.counter.clock()
        documents = store.inbox_documents()
        attached = store.inbox_attachments()
        table = self.query_one("#inbox", DataTable)
        row = table.cursor_row
        table.clear()
        for document in documents:
            when = parse_timestamp(document.received_at)
            table.add_row(
                format_when(when, now) if when else "",
                document.sender,
                _TYPES.get(document.media_type, document.media_type),
                format_bytes(document.size),
                self._application_cell(document, attached.get(document.item_id)),
                key=str(document.item_id),
            )
        if documents:
            table.move_cursor(row=min(row, len(documents) - 1))
        note = "Enter: lampirkan ke permohonan." if documents else "Kotak masuk kosong."
        self.query_one("#inbox-note", Static).update(note)

    def _application_cell(self, document: InboxDocument, attached_to: str | None) -> str:
        store = self.counter.store
        assert store is not None
        target = attached_to or document.application_id
        stored = store.get_application(target) if target else None
        name = (stored.application.applicant.nama or "(tanpa nama)") if stored else "-"
        if attached_to and stored is None:
            return "Dilampirkan di loket lain"
        return f"Dilampirkan: {name}" if attached_to else name

    @on(DataTable.RowSelected, "#inbox")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.attach(int(str(event.row_key.value)))

    def attach(self, item_id: int) -> None:
        """Pick an application of this counter, confirm, and record the attachment."""
        store, operator = self.counter.store, self.counter.operator
        if store is None or operator is None:
            return
        document = next((d for d in store.inbox_documents() if d.item_id == item_id), None)
        if document is None:
            return
        if item_id in store.inbox_attachments():
            self.notify("Dokumen ini sudah dilampirkan.", timeout=5)
            return
        choices = [
            a
            for a in store.search_applications(limit=200)
            if counter_may_edit(a.state) and not store.get_application(a.id).read_only
        ]
        if not choices:
            self.notify("Tidak ada permohonan yang masih dapat diubah di loket ini.", timeout=8)
            return

        def picked(application_id: str | None) -> None:
            if application_id is None:
                return
            name = next(c.applicant_name for c in choices if c.id == application_id)

            def confirmed(yes: bool | None) -> None:
                if not yes:
                    return
                try:
                    self.counter.actions().attach_inbox_document(
                        application_id, item_id, operator_id=operator.id
                    )
                except KKError as exc:
                    self.notify(exc.message, title="Tidak bisa", severity="error", timeout=10)
                    return
                self.counter.outbox_changed()
                self.notify("Dilampirkan; dikirim ke server saat sinkron.", timeout=5)
                self.refresh_data()

            self.app.push_screen(
                ConfirmDialog(
                    f"Lampirkan dokumen dari {document.sender} ke permohonan {name}?",
                    yes="Lampirkan",
                    no="Kembali",
                ),
                confirmed,
            )

        self.app.push_screen(
            PickApplicationDialog(
                "Lampirkan ke permohonan", choices, suggested=document.application_id
            ),
            picked,
        )
