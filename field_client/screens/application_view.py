"""One application: what it is, where it stands, why it came back, and its timeline.

Opened from the dashboard (Enter on a row). The keys offered follow the workflow: only the
actions :func:`protocol.workflow.allowed_actions` gives the operator in the current state
appear in the footer (edit, submit or resubmit, mark incomplete, issue, archive, cancel).
Every action goes through :class:`~field_client.actions.Counter`, asks first when it cannot
be undone at the counter, and a refusal (not ready, moved to another counter) is shown in
plain words, never as a crash.

A returned application shows the reasons of the verifier, Kabid or Kepala Dinas at the top:
the checklist items in words and the free text, with who returned it and when.

Below: the WhatsApp messages to the applicant with their latest status in words (updated
after every pull), and for a signed KK its number, when it was signed, whether its PDF is
here yet and its size; ``k`` saves a copy of the downloaded, verified PDF to a folder.
``u`` asks the server to re-send a failed or "perlu dicek" message (a ``message.resend``
event: a new message, never the old one retried), after a confirmation that warns, for
"perlu dicek", that the applicant may already have it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from field_client.kk_export import export_kk_pdf
from field_client.screens.application_form import ApplicationFormScreen
from field_client.screens.dialogs import ConfirmDialog, FolderDialog, ReasonDialog
from field_client.store import MessageStatus, StoredApplication
from field_client.timeline import application_timeline, format_duration, stays
from field_client.widgets.keys import Table
from field_client.widgets.status.sync_status_bar import format_bytes, format_when
from protocol.application import field_label
from protocol.errors import Issue, KKError, ValidationError
from protocol.events import parse_timestamp
from protocol.requirements import reason_label
from protocol.validation import checklist_of, readiness
from protocol.whatsapp import RESENDABLE, DeliveryStatus, MessagePurpose
from protocol.wilayah import region
from protocol.workflow import (
    MIN_REASON_TEXT,
    Action,
    Reasons,
    Role,
    State,
    allowed_actions,
)

if TYPE_CHECKING:
    from field_client.app import CounterApp

__all__ = ["ApplicationScreen", "message_status_text", "reasons_text"]

# Binding action name -> the workflow actions it stands for.
_KEYS: dict[str, tuple[Action, ...]] = {
    "edit": (Action.EDIT,),
    "submit": (Action.SUBMIT, Action.RESUBMIT),
    "incomplete": (Action.MARK_INCOMPLETE,),
    "issue": (Action.ISSUE,),
    "archive": (Action.ARCHIVE,),
    "withdraw": (Action.WITHDRAW,),
}


def reasons_text(reasons: Reasons | None) -> str:
    """Reasons in words: the checklist items' labels, then the free text."""
    if reasons is None:
        return ""
    parts = []
    for code in reasons.items:
        try:
            parts.append(reason_label(code))
        except KeyError:
            parts.append(code)
    if reasons.text.strip():
        parts.append(reasons.text.strip())
    return "; ".join(parts)


def message_status_text(message: MessageStatus) -> str:
    """A message's status in words, with the server's reason for a failure or "perlu
    dicek" (why it failed, what to check)."""
    if message.reason and message.status in RESENDABLE:
        return f"{message.label}: {message.reason}"
    return message.label


_STATUS_STYLES = {
    DeliveryStatus.FAILED.value: "bold red",
    DeliveryStatus.UNKNOWN.value: "bold yellow",
}


def _purpose_label(purpose: str) -> str:
    try:
        return MessagePurpose(purpose).label
    except ValueError:  # a newer server's purpose
        return purpose or "Pesan"


_TIMELINE_COLUMNS = (("Langkah", 26), ("Oleh", 14), ("Mulai", 11), ("Lama", 10), ("Batas", 5))
"""66 cells, 76 with each column's padding: at 80 columns the view keeps 2 for its own
padding and 2 for the scrollbar it shows once the page is taller than the screen. "Batas"
(the SOP's time target) fits the SOP's targets, 5 minutes at most; the longest step label
is 26 ("3. Diajukan ke verifikator"), a time of another day 11 ("24/11 10:42")."""
_BY_WIDTH = dict(_TIMELINE_COLUMNS)["Oleh"]


class ApplicationScreen(Screen[None]):
    """The application with the id given; Escape goes back to the list."""

    HELP = """
## Permohonan

Di atas: data permohonan dan statusnya; bila dikembalikan, alasan dari Dinas.
Di bawah: riwayat setiap langkah (siapa, kapan, berapa lama dibanding target SOP).
Lalu pesan WhatsApp ke pemohon dengan statusnya (diperbarui setiap sinkron) dan,
bila KK sudah ditandatangani, data KK; tombol k menyimpan salinan PDF KK ke folder.
Pesan yang gagal atau perlu dicek dapat dikirim ulang (u) sebagai pesan baru: pilih
pesannya di daftar lebih dulu.
Tombol di bawah layar hanya yang boleh dilakukan pada status ini.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Ubah"),
        Binding("s", "submit", "Ajukan"),
        Binding("l", "incomplete", "Belum lengkap"),
        Binding("t", "issue", "Terbitkan"),
        Binding("r", "archive", "Arsipkan"),
        Binding("b", "withdraw", "Batalkan"),
        Binding("k", "save_kk", "Simpan PDF KK"),
        Binding("u", "resend", "Kirim ulang pesan"),
        Binding("escape", "app.pop_screen", "Kembali"),
    ]

    def __init__(self, application_id: str) -> None:
        super().__init__()
        self.application_id = application_id
        self.stored: StoredApplication | None = None

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="KK")
        with VerticalScroll(id="application-view"):
            yield Static("", id="view-title", classes="screen-title")
            yield Static("", id="view-summary")
            yield Static("", id="view-notice")
            yield Static("Pesan WhatsApp ke pemohon", classes="section")
            yield Table(id="messages", cursor_type="row", zebra_stripes=True)
            yield Static("", id="messages-note")
            yield Static("", id="view-kk")
            yield Static("Riwayat dan waktu per langkah SOP", classes="section")
            yield Table(id="timeline", cursor_type="row", zebra_stripes=True)
            yield Static("", id="timeline-note")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#timeline", DataTable)
        for label, width in _TIMELINE_COLUMNS:
            table.add_column(label, width=width)
        messages = self.query_one("#messages", DataTable)
        for label, width in (("Pesan", 28), ("Status", 31), ("Waktu", 11)):
            messages.add_column(label, width=width)
        self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def on_sync_status_changed(self) -> None:
        self.refresh_data()  # a pull may have returned, signed or moved it

    # -- showing -------------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Read the application, its decisions and its history again."""
        store = self.counter.store
        if store is None:
            return
        self.stored = store.get_application(self.application_id)
        if self.stored is None:
            self.query_one("#view-title", Static).update("Permohonan tidak ditemukan.")
            return
        app, state = self.stored.application, self.stored.state
        self.query_one("#view-title", Static).update(
            Text.assemble(app.applicant.nama or "(tanpa nama)", " · ", (state.label, "bold"))
        )
        self.query_one("#view-summary", Static).update(self._summary())
        notice = self._notice()
        self.query_one("#view-notice", Static).update(notice)
        self.query_one("#view-notice", Static).display = bool(notice.plain)
        self._messages()
        kk = self._kk()
        self.query_one("#view-kk", Static).update(kk)
        self.query_one("#view-kk", Static).display = bool(kk.plain)
        self._timeline()
        self.refresh_bindings()

    def _summary(self) -> Text:
        assert self.stored is not None
        app = self.stored.application
        desa = region(app.address.desa_code)
        lines = [
            app.service.label,
            f"NIK pemohon {app.applicant.nik} · WA {app.applicant.whatsapp}",
            f"{app.address.alamat} RT {app.address.rt}/RW {app.address.rw}, "
            f"{desa.name if desa else app.address.desa_code}",
            f"{len(app.members)} anggota keluarga"
            + (f" · No. KK {self.stored.application.kk_number}" if app.kk_number else ""),
        ]
        return Text("\n".join(lines))

    def _notice(self) -> Text:
        """What the operator must know first: why it came back, what the server refused,
        the signed KK, what is missing."""
        assert self.stored is not None
        store = self.counter.store
        assert store is not None
        state, out = self.stored.state, Text()
        now = self.counter.clock()
        if self.stored.read_only:
            out.append(
                f"Dipindahkan ke loket {self.stored.transferred_to}; hanya bisa dilihat di sini.\n",
                style="bold yellow",
            )
        if state in (State.RETURNED, State.TTE_REJECTED):
            decisions = [d for d in store.decisions(self.application_id) if d.to_state is state]
            if decisions:
                last = decisions[-1]
                when = parse_timestamp(last.at)
                out.append(
                    f"Dikembalikan oleh {last.role.label} ({last.actor_name})"
                    + (f" pada {format_when(when, now)}" if when else "")
                    + ":\n",
                    style="bold red",
                )
                out.append(f"  {reasons_text(last.reasons) or '(tanpa alasan)'}\n", style="red")
                out.append("Perbaiki (e), lalu ajukan ulang (s).\n")
        for entry in store.history(self.application_id):
            if entry.status.value == "refused":
                out.append(
                    f"Ditolak server: {entry.result_message} ({entry.result_code})\n",
                    style="bold red",
                )
        if state in (State.DRAFT, State.INCOMPLETE):
            today = self.counter.today()
            checklist = checklist_of(self.stored.application, today=today)
            missing = checklist.missing(self.stored.application.attached_documents)
            if missing:
                labels = ", ".join(r.label for r in missing)
                out.append(f"Persyaratan belum ada: {labels}.\n", style="yellow")
        out.rstrip()
        return out

    def _messages(self) -> None:
        """The applicant's WhatsApp messages, oldest first, each with its latest status."""
        store = self.counter.store
        assert store is not None
        now = self.counter.clock()
        table = self.query_one("#messages", DataTable)
        row = table.cursor_row
        table.clear()
        messages = store.message_statuses(self.application_id)
        requested = store.resend_requested(self.application_id)
        for message in messages:
            when = parse_timestamp(message.at)
            style = _STATUS_STYLES.get(message.status, "")
            status = message_status_text(message)
            if message.message_id in requested:
                status, style = f"{message.label}, dikirim ulang", "dim"
            table.add_row(
                _purpose_label(message.purpose),
                Text(status, style=style),
                format_when(when, now) if when else "",
                key=message.message_id,
            )
        table.display = bool(messages)  # at 80x24 an empty table costs three lines
        if messages:
            table.move_cursor(row=min(row, len(messages) - 1))
        # The reasons in full: a cell is cut at 31 characters (76 columns beside the scrollbar).
        notes = [
            f"{_purpose_label(m.purpose)}: {message_status_text(m)}"
            for m in messages
            if m.reason and m.status in RESENDABLE and m.message_id not in requested
        ]
        if not messages:
            notes = ["Belum ada pesan."]
        shown = self.query_one("#messages-note", Static)
        shown.update(Text("\n".join(notes), style="dim"))
        shown.display = bool(notes)  # an empty line would only push the timeline down

    def _kk(self) -> Text:
        """The signed KK: number, signed at, PDF here or not, size."""
        store = self.counter.store
        assert store is not None
        document = store.kk_document(self.application_id)
        if document is None:
            return Text()
        now = self.counter.clock()
        signed = parse_timestamp(str(document.document.get("signed_at", "")))
        size = document.document.get("size")
        out = Text("KK bertanda tangan elektronik\n", style="bold")
        out.append(f"No. KK {document.kk_number}")
        if signed:
            out.append(f" · ditandatangani {format_when(signed, now)}")
        if isinstance(size, int):
            out.append(f" · {format_bytes(size)}")
        out.append("\n")
        if document.downloaded_at:
            out.append("PDF sudah diunduh dan diperiksa; simpan salinan dengan k.", style="green")
        else:
            out.append("PDF belum diunduh; diunduh pada sinkron berikutnya.", style="yellow")
        return out

    def _timeline(self) -> None:
        store = self.counter.store
        assert store is not None
        now = self.counter.clock()
        table = self.query_one("#timeline", DataTable)
        table.clear()
        waiting = False
        for stay in stays(application_timeline(store, self.application_id), now=now):
            timing, entry = stay.timing, stay.entered_by
            step = f"{timing.step.number}. " if timing.step else ""
            target = timing.target
            duration = format_duration(timing.duration)
            if timing.left_at is None and timing.step is None:
                duration = "selesai"
            lama = Text(duration, style="bold red" if timing.over_target else "")
            waiting = waiting or entry.waiting
            by = entry.actor_name[: _BY_WIDTH - entry.waiting] + ("*" if entry.waiting else "")
            table.add_row(
                f"{step}{timing.state.label}",
                by,
                format_when(timing.entered_at, now),
                lama,
                format_duration(target) if target else "",
            )
        note = "* belum terkirim ke server pusat" if waiting else ""
        self.query_one("#timeline-note", Static).update(Text(note, style="dim"))
        self.query_one("#timeline-note", Static).display = bool(note)

    # -- which keys apply --------------------------------------------------------------------

    def _allowed_at_all(self) -> bool:
        return self.stored is not None and not self.stored.read_only

    def _resendable(self) -> list[MessageStatus]:
        """The messages the operator may have re-sent now."""
        store = self.counter.store
        if store is None:
            return []
        requested = store.resend_requested(self.application_id)
        return [
            m
            for m in store.message_statuses(self.application_id)
            if m.status in RESENDABLE and m.message_id not in requested
        ]

    def _allowed(self) -> tuple[Action, ...]:
        if self.stored is None or self.stored.read_only:
            return ()
        return allowed_actions(self.stored.state, Role.OPERATOR)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the keys the workflow allows in this state."""
        if action == "resend":
            return bool(self._resendable()) and self._allowed_at_all()
        if action == "save_kk":
            store = self.counter.store
            document = store.kk_document(self.application_id) if store else None
            return document is not None and document.downloaded_at is not None
        wanted = _KEYS.get(action)
        if wanted is None:
            return True
        return any(a in self._allowed() for a in wanted)

    # -- actions -----------------------------------------------------------------------------

    def action_edit(self) -> None:
        """Correct the application (its form)."""
        if self.stored is not None:
            self.app.push_screen(ApplicationFormScreen(self.stored))

    def action_submit(self) -> None:
        """Send it to the verifier (again, after a return); it must be ready."""
        assert self.stored is not None
        report, missing = readiness(self.stored.application, today=self.counter.today())
        if report.issues or missing:
            self._not_ready([*report.issues, *missing])  # before asking, not after
            return
        resubmit = Action.RESUBMIT in self._allowed()
        question = (
            "Ajukan ulang ke verifikator? Pastikan alasan pengembalian sudah diperbaiki."
            if resubmit
            else "Ajukan ke verifikator? Setelah diajukan, data tidak bisa diubah kecuali "
            "dikembalikan."
        )

        def act(operator_id: str) -> object:
            actions = self.counter.actions()
            do = actions.resubmit if resubmit else actions.submit
            return do(self.application_id, operator_id=operator_id)

        self._confirm_then(question, "Ajukan", act, "Permohonan diajukan.")

    def action_incomplete(self) -> None:
        """Record what is missing; the server sends the applicant the WhatsApp notice."""
        assert self.stored is not None
        today = self.counter.today()
        checklist = checklist_of(self.stored.application, today=today)
        missing = checklist.missing(self.stored.application.attached_documents)
        if not missing:
            self.notify("Semua persyaratan sudah ada; ajukan saja (s).")
            return
        labels = "\n".join(f"• {r.label}" for r in missing)
        reasons = Reasons(items=tuple(r.code for r in missing))

        def act(operator_id: str) -> object:
            return self.counter.actions().mark_incomplete(
                self.application_id, reasons, operator_id=operator_id
            )

        self._confirm_then(
            f"Tandai belum lengkap? Pemohon akan diberi tahu lewat WhatsApp:\n{labels}",
            "Tandai",
            act,
            "Ditandai belum lengkap; pemberitahuan WhatsApp dikirim saat sinkron.",
        )

    def action_issue(self) -> None:
        """Step 6: issue the signed KK (the server sends it to the applicant)."""
        assert self.stored is not None

        def act(operator_id: str) -> object:
            return self.counter.actions().issue(self.application_id, operator_id=operator_id)

        self._confirm_then(
            "Terbitkan KK ini? KK (PDF) dikirim ke WhatsApp pemohon "
            f"{self.stored.application.applicant.whatsapp}.",
            "Terbitkan",
            act,
            "KK diterbitkan; dikirim ke pemohon saat sinkron.",
        )

    def action_archive(self) -> None:
        """Close the file: step 6 is done."""

        def act(operator_id: str) -> object:
            return self.counter.actions().archive(self.application_id, operator_id=operator_id)

        self._confirm_then(
            "Arsipkan permohonan ini? Tidak bisa dibuka lagi.", "Arsipkan", act, "Diarsipkan."
        )

    def action_withdraw(self) -> None:
        """The applicant cancels: ask the reason, then confirm."""

        async def reason_given(reason: str | None) -> None:
            if not reason:
                return

            def act(operator_id: str) -> object:
                return self.counter.actions().withdraw(
                    self.application_id, Reasons(text=reason), operator_id=operator_id
                )

            self._confirm_then(
                "Batalkan permohonan ini? Tidak bisa dibuka lagi.",
                "Batalkan permohonan",
                act,
                "Permohonan dibatalkan.",
            )

        self.app.push_screen(
            ReasonDialog(
                "Batalkan permohonan",
                "Tulis alasan pemohon membatalkan.",
                min_length=MIN_REASON_TEXT,
            ),
            reason_given,
        )

    def action_save_kk(self) -> None:
        """Save a copy of the downloaded, verified KK PDF to a folder the operator picks."""
        store, key = self.counter.store, self.counter.scan_key
        if store is None:
            return
        if key is None:  # ask the password, fetch the key, then offer the folder
            self.counter.ask_scan_key(self.action_save_kk)
            return
        folder = self.counter.config.export_dir or Path.home()

        def chosen(answer: str | None) -> None:
            if not answer:
                return
            try:
                saved = export_kk_pdf(store, key, self.application_id, Path(answer))
            except KKError as exc:
                self.notify(exc.message, title="Tidak bisa", severity="error", timeout=10)
                return
            self.notify(f"PDF KK disimpan: {saved}", timeout=10)

        self.app.push_screen(
            FolderDialog(
                "Simpan salinan PDF KK",
                "Folder tujuan (berkas berisi data pribadi; simpan di komputer kantor):",
                folder=str(folder),
            ),
            chosen,
        )

    def action_resend(self) -> None:
        """Re-send the highlighted failed or "perlu dicek" message (or the only one)."""
        assert self.stored is not None
        resendable = self._resendable()
        table = self.query_one("#messages", DataTable)
        highlighted = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if table.row_count
            else None
        )
        chosen = [m for m in resendable if m.message_id == highlighted]
        if not chosen and len(resendable) == 1:
            chosen = resendable
        if not chosen:
            self.notify("Pilih pesan yang gagal atau perlu dicek di daftar pesan.", timeout=8)
            table.focus()
            return
        message = chosen[0]
        whatsapp = self.stored.application.applicant.whatsapp
        question = (
            f'Kirim ulang "{_purpose_label(message.purpose)}" ke WhatsApp {whatsapp}?\n'
            "Dikirim sebagai pesan baru; pesan lama tidak dikirim lagi."
        )
        if message.status == DeliveryStatus.UNKNOWN:
            question += (
                "\nPERHATIAN: pesan ini perlu dicek, mungkin sudah sampai ke pemohon. "
                "Tanyakan dulu kepada pemohon; kirim ulang hanya bila belum diterima."
            )

        def act(operator_id: str) -> object:
            return self.counter.actions().resend_message(
                self.application_id, message.message_id, operator_id=operator_id
            )

        self._confirm_then(
            question, "Kirim ulang", act, "Pesan dikirim ulang saat sinkron berikutnya."
        )

    def _not_ready(self, issues: list[Issue]) -> None:
        """Say what blocks the step, the first few in words."""
        lines = [
            f"• {i.message}" if i.field.startswith("checklist.") else
            f"• {field_label(i.field)}: {i.message}"
            for i in issues[:6]
        ]  # fmt: skip
        if len(issues) > len(lines):
            lines.append(f"… dan {len(issues) - len(lines)} lagi (lihat formulir, e)")
        self.notify("\n".join(lines), title="Belum bisa diajukan", severity="error", timeout=15)

    def _confirm_then(
        self, question: str, yes: str, act: Callable[[str], object], done: str
    ) -> None:
        operator = self.counter.operator
        if operator is None:
            return

        def answered(confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                act(operator.id)
            except ValidationError as exc:
                self._not_ready(list(exc.issues))
                return
            except KKError as exc:
                self.notify(exc.message, title="Tidak bisa", severity="error", timeout=10)
                return
            self.counter.outbox_changed()
            self.notify(done, timeout=5)
            self.refresh_data()

        # Deliberate: these go out to the applicant or the centre, or cannot be undone, and
        # this screen's actions are single letters (a word typed here must confirm nothing).
        self.app.push_screen(
            ConfirmDialog(question, yes=yes, no="Kembali", deliberate=True), answered
        )
