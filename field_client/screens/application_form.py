"""New application, and editing one the counter holds (SOP steps 1-2).

One scrolling form in the order of F-1.02: the service, the applicant, the family's
address, the members (each in :class:`~field_client.screens.member_form.MemberFormScreen`),
the requirement checklist and, last, every open problem. Everything is checked as the
operator types (:func:`protocol.validation.validate` on the whole draft) and shown under
its field; a warning may be accepted with a reason from the problem list (an
:class:`~protocol.application.Override`).

Saving (ctrl+s) records a draft through :class:`~field_client.actions.Counter`: the first
save an ``application.created`` event, later ones ``application.edited`` (nothing when
unchanged). A draft may be saved with content problems; only the fields the wire format
requires (applicant, address) must be filled. Submitting is done from the application's
screen, where the readiness is judged.

Attaching a scan (F7) reads, recompresses and encrypts the file on a worker thread with its
own store connection (:func:`attach_from_file`): a camera photo takes seconds. Meanwhile a
line says so, the form stays usable, and a second attach, saving and leaving wait. The
page counts of the scans already attached are read the same way (:func:`read_page_counts`)
and shown when they arrive; again when the scan key opens after the form did.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Select, Static

from field_client.actions import Counter
from field_client.drafts import (
    PADDED_FIELDS,
    ApplicationDraft,
    issues_by_field,
    pad_rt_rw,
    shape_issues,
)
from field_client.errors import ScanError
from field_client.scan_preview import count_pages, describe_scan
from field_client.scans import AttachedScan, DataKey, ScanInfo
from field_client.screens.dialogs import ConfirmDialog, ReasonDialog
from field_client.screens.file_picker import FilePickerScreen
from field_client.screens.member_form import MemberFormScreen
from field_client.store import Store, StoredApplication
from field_client.widgets.form import ChecklistPanel, FieldRow, IssueList, MemberTable, text_row
from field_client.widgets.form.checklist import DocumentBox
from field_client.widgets.form.field_row import control_id
from field_client.widgets.form.pick_list import PickList
from protocol.application import Application, field_label
from protocol.errors import Issue, KKError, Severity
from protocol.jurisdiction import address_refusal
from protocol.requirements import DOCUMENTS
from protocol.scans import MAX_SCAN_BYTES
from protocol.services import SUB_TYPES, PeristiwaPenting, ServiceType
from protocol.validation import DEFAULT_OPTIONS, checklist_of
from protocol.wilayah import desa_in, muba_kecamatan

if TYPE_CHECKING:
    from field_client.app import CounterApp

__all__ = ["ApplicationFormScreen"]

log = logging.getLogger("field_client.app")

_MEMBER_FIELD = "members["


def attach_from_file(
    db_path: Path,
    device_key: Ed25519PrivateKey,
    clock: Callable[[], datetime],
    application_id: str,
    document: str,
    path: Path,
    *,
    operator_id: str,
    key: DataKey,
    recompress: bool,
) -> tuple[AttachedScan, int | None]:
    """Attach the scan in ``path`` (:meth:`Counter.attach_scan`) and count its pages.

    Runs on a worker thread, with its own connection to the store: a sqlite3 connection
    belongs to the thread that opened it (as for the login, :mod:`.login`).
    """
    size = path.stat().st_size
    if size > MAX_SCAN_BYTES:  # refuse before reading it all into memory
        raise ScanError.of("scan.too_large", size=size, max=MAX_SCAN_BYTES)
    content = path.read_bytes()
    with Store.open(db_path) as store:
        attached = Counter(store, device_key, now=clock).attach_scan(
            application_id,
            document,
            content,
            operator_id=operator_id,
            key=key,
            recompress=recompress,
        )
    return attached, count_pages(content, attached.media_type)


def read_page_counts(db_path: Path, key: DataKey, scans: list[ScanInfo]) -> dict[str, int | None]:
    """Pages of each of ``scans`` (scan id -> pages, ``None`` when unreadable).

    Decrypting and parsing a big PDF takes seconds on an old PC, so this runs on a worker
    thread, with its own connection to the store (a sqlite3 connection belongs to the thread
    that opened it).
    """
    pages: dict[str, int | None] = {}
    with Store.open(db_path) as store:
        for info in scans:
            try:
                pages[info.scan_id] = count_pages(
                    store.read_scan(key, info.scan_id), info.media_type
                )
            except KKError as exc:
                log.warning("cannot preview scan %s: %s", info.scan_id, exc.code)
                pages[info.scan_id] = None
    return pages


class ApplicationFormScreen(Screen[str | None]):
    """Fill in or correct an application; dismissed with its id once saved (else ``None``)."""

    HELP = """
## Formulir permohonan (F-1.02)

Isi dari atas ke bawah; Tab/Enter pindah kolom, Shift+Tab kembali. Pesan di bawah kolom
muncul saat mengetik: merah harus diperbaiki sebelum diajukan, kuning boleh dikecualikan
dengan alasan (pilih di bagian *Pemeriksaan*, Enter).

Anggota keluarga: F4 atau `a` menambah, Enter mengubah, Delete menghapus.
Persyaratan: Spasi menandai dokumen yang ada; F7 melampirkan pindaian (PDF, JPG, PNG)
untuk dokumen yang sedang dipilih.
Ctrl+S menyimpan draf (boleh belum lengkap). Pengajuan dilakukan dari layar permohonan.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Simpan draf", priority=True),
        Binding("f4", "add_member", "Tambah anggota"),
        Binding("f6", "problems", "Pemeriksaan"),
        Binding("f7", "attach", "Lampirkan"),
        Binding("escape", "leave", "Kembali"),
    ]

    def __init__(self, stored: StoredApplication | None = None) -> None:
        super().__init__()
        self._saved: Application | None = stored.application if stored else None
        self.draft = ApplicationDraft.of(stored.application) if stored else ApplicationDraft()
        self._rows: dict[str, FieldRow] = {}
        self._touched: set[str] = set()
        """Fields the operator has been in: their problems show (a blank new form is not a
        page of red). Everything shows for a stored application and after a save attempt."""
        self._show_all = stored is not None
        self._kecamatan = ""
        self._issues: list[Issue] = []
        self._pages: dict[str, int | None] = {}
        """Pages of each attached scan, read once on a worker thread (decrypting a scan is
        not free): :meth:`_count_pages`. A PDF is missing here until its count arrives."""
        self._overridden: list[Issue] = []
        self._attaching: str | None = None
        """The name of the file being attached (on a worker thread), if any."""
        self._busy_timer: Timer | None = None

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    # -- layout ------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        device = self.counter.device
        self._kecamatan = device.kecamatan if device else ""
        t = self.draft.text
        yield Header(icon="KK")
        title = "Ubah permohonan" if self._saved else "Permohonan baru"
        yield Static(title, id="form-title", classes="screen-title")
        with VerticalScroll(id="application-form", classes="form"):
            yield Static("1. Jenis permohonan (F-1.02)", classes="section")
            yield self._select_row(
                "service.service_type",
                "Jenis permohonan",
                [(f"{s.letter}. {s.label}", s.value) for s in ServiceType],
                self.draft.service_type,
            )
            yield self._select_row(
                "service.sub_type",
                "Sub jenis",
                self._sub_type_options(self.draft.service_type),
                self.draft.sub_type,
            )
            yield self._select_row(
                "service.peristiwa",
                "Peristiwa penting",
                [(p.label, p.value) for p in PeristiwaPenting],
                self.draft.peristiwa,
            )
            yield Static("2. Data pemohon", classes="section")
            for path, label, hint in (
                ("applicant.nama", "Nama pemohon", "sesuai KTP"),
                ("applicant.nik", "NIK pemohon", "16 digit"),
                ("applicant.whatsapp", "Nomor WhatsApp", "mis. 0812 3456 7890"),
                ("applicant.kk_number", "No. KK pemohon", "kosongkan bila tidak ada"),
            ):
                yield self._text(path, label, t.get(path, ""), hint)
            yield Static("3. Alamat keluarga", classes="section")
            yield self._text("address.alamat", "Alamat", t.get("address.alamat", ""), "jalan, no.")
            yield self._text("address.rt", "RT", t.get("address.rt", ""), "mis. 003")
            yield self._text("address.rw", "RW", t.get("address.rw", ""), "mis. 001")
            desa = t.get("address.desa_code", "")
            kecamatan = desa[:6] if desa else self._kecamatan
            yield self._select_row(
                "address.kecamatan",
                "Kecamatan",
                [(f"{r.name} ({r.code})", r.code) for r in muba_kecamatan()],
                kecamatan or None,
            )
            yield self._select_row(
                "address.desa_code",
                "Desa/Kelurahan",
                [(f"{r.name} ({r.code})", r.code) for r in desa_in(kecamatan)],
                desa or None,
            )
            yield self._text(
                "address.kode_pos", "Kode pos", t.get("address.kode_pos", ""), "mis. 30711"
            )
            yield self._text(
                "kk_number", "No. KK keluarga", t.get("kk_number", ""), "untuk perubahan/hilang"
            )
            yield Static("4. Anggota keluarga (F4 atau a: tambah, Enter: ubah)", classes="section")
            yield MemberTable(id="members")
            yield Static("", id="members-message", classes="row-note")
            yield Static("5. Persyaratan (Spasi: ada/tidak)", classes="section")
            yield ChecklistPanel(id="checklist")
            yield Static("6. Pemeriksaan (Enter: kecualikan peringatan)", classes="section")
            yield IssueList(id="problems")
        yield Static("", id="form-busy")
        yield Static("", id="form-summary")
        yield Footer()

    def _text(self, path: str, label: str, value: str, hint: str) -> FieldRow:
        row = text_row(path, label, value, placeholder=hint)
        self._rows[path] = row
        return row

    def _select_row(
        self, path: str, label: str, options: list[tuple[str, object]], value: object
    ) -> FieldRow:
        values = {v for _, v in options}
        control: PickList[object] = PickList(
            options,
            prompt="(pilih)",
            value=value if value in values else Select.NULL,
            id=control_id(path),
            compact=True,
        )
        row = FieldRow(path, label, control)
        self._rows[path] = row
        return row

    @staticmethod
    def _sub_type_options(service_type: str | None) -> list[tuple[str, int]]:
        return [
            (f"{s.form_code} {s.label}", s.number)
            for s in SUB_TYPES
            if s.service_type.value == service_type
        ]

    async def on_mount(self) -> None:
        self._show_peristiwa()
        await self._check()
        self.query_one(f"#{control_id('service.service_type')}", Select).focus()
        # The scan key may come later (recovered in the background): count then.
        self.watch(self.app, "scan_key_state", self._key_state_changed, init=False)
        self._count_pages()

    def _key_state_changed(self, _state: object) -> None:
        self._count_pages()

    # -- reacting to the operator ------------------------------------------------------------

    @on(Input.Changed)
    async def _typed(self, event: Input.Changed) -> None:
        path = self._path_of(event.control.id)
        if path is None:
            return
        self.draft.text[path] = event.value
        self._touched.add(path)
        await self._check()

    @on(Input.Blurred)
    async def _left(self, event: Input.Blurred) -> None:
        path = self._path_of(event.control.id)
        if path in PADDED_FIELDS:
            self._pad(path)  # the change it makes checks again
        if path is not None and path not in self._touched:
            self._touched.add(path)
            await self._check()

    def _pad(self, path: str) -> None:
        """Write an RT/RW as the KK prints it ("3" -> "003"), in the field and the draft."""
        control = cast(Input, self._rows[path].control)
        padded = pad_rt_rw(control.value)
        if padded != control.value:
            control.value = padded
            self.draft.text[path] = padded

    @on(Input.Submitted)
    def _next(self) -> None:
        self.focus_next()

    @on(Select.Changed)
    async def _chosen(self, event: Select.Changed) -> None:
        path = self._path_of(event.control.id)
        value = None if event.select.is_blank() else event.value
        if path is not None:
            self._touched.add(path)
        if path == "service.service_type":
            if value != self.draft.service_type:
                self.draft.service_type = None if value is None else str(value)
                self.draft.sub_type = None
                sub = self.query_one(f"#{control_id('service.sub_type')}", Select)
                sub.set_options(self._sub_type_options(self.draft.service_type))
        elif path == "service.sub_type":
            self.draft.sub_type = None if value is None else int(cast(int, value))
        elif path == "service.peristiwa":
            self.draft.peristiwa = None if value is None else str(value)
        elif path == "address.kecamatan":
            desa = self.query_one(f"#{control_id('address.desa_code')}", Select)
            code = "" if value is None else str(value)
            if not self.draft.text.get("address.desa_code", "").startswith(code) or not code:
                self.draft.text["address.desa_code"] = ""
                desa.set_options([(f"{r.name} ({r.code})", r.code) for r in desa_in(code)])
        elif path == "address.desa_code":
            self.draft.text["address.desa_code"] = "" if value is None else str(value)
        self._show_peristiwa()
        await self._check()

    def _path_of(self, widget_id: str | None) -> str | None:
        for path, row in self._rows.items():
            if row.control.id == widget_id:
                return path
        return None

    def _show_peristiwa(self) -> None:
        needs = self.draft.service_type == ServiceType.PERUBAHAN_DATA.value and any(
            s.key == "peristiwa_penting" and s.number == self.draft.sub_type for s in SUB_TYPES
        )
        self._rows["service.peristiwa"].display = needs
        if not needs and self.draft.peristiwa is not None:
            self.draft.peristiwa = None

    async def _check(self) -> None:
        """Validate the whole draft and show every issue where it belongs."""
        app, issues, report = self.draft.check(today=self.counter.today())
        if app is not None and self._kecamatan:
            refusal = address_refusal(app, self._kecamatan)
            if refusal is not None and app.address.desa_code:
                issues.append(refusal)
        self._issues, self._overridden = issues, list(report.overridden)
        grouped, accepted = issues_by_field(issues), issues_by_field(report.overridden)
        for path, row in self._rows.items():
            if self._show_all or path in self._touched:
                row.show(grouped.get(path, []), accepted.get(path, []))
        problems: dict[int, int] = {}
        for i in range(len(self.draft.members)):
            prefix = f"members[{i}]"
            problems[i] = sum(1 for f in issues if f.field.startswith(prefix))
        self.query_one("#members", MemberTable).show(self.draft.members, problems)
        family = [f for f in issues if f.field == "members"]
        note = self.query_one("#members-message", Static)
        note.update(Text("\n").join(Text(f"✗ {f.message}", style="red") for f in family))
        note.display = bool(family)  # an empty line would only push the checklist down
        checklist = None
        if app is not None:
            checklist = checklist_of(app, today=self.counter.today())
        await self.query_one("#checklist", ChecklistPanel).show(
            checklist, self.draft.attached_documents, self._scan_lines()
        )
        shown = [f for f in issues if self._visible(f)]
        self.query_one("#problems", IssueList).show(
            shown, self._overridden, untouched=len(issues) - len(shown)
        )
        missing = len(checklist.missing(self.draft.attached_documents)) if checklist else 0
        self._summarize(shown, len(issues) - len(shown), missing)

    def _visible(self, found: Issue) -> bool:
        """Whether a problem shows yet: after a save attempt, once its field was touched,
        and always for a member (edited in a form of its own, with the same rule)."""
        return (
            self._show_all or found.field in self._touched or found.field.startswith(_MEMBER_FIELD)
        )

    def _summarize(self, shown: list[Issue], untouched: int, missing: int) -> None:
        """One line (78 columns at 80x24): problems shown, fields not filled in yet (a new
        form is not "8 galat" before anything was typed), documents missing, saved or not.
        Fields are untouched only until the first save attempt, so a form with some is one
        never saved: "belum disimpan" would say nothing, and its room is needed."""
        errors = sum(1 for f in shown if f.severity is Severity.ERROR)
        warnings = len(shown) - errors
        requirements = Text(
            f"{missing} persyaratan belum ada", style="yellow" if missing else "green"
        )
        if untouched:
            parts = [
                *([Text(f"{errors} galat", style="bold red")] if errors else []),
                *([Text(f"{warnings} peringatan", style="bold yellow")] if warnings else []),
                Text(f"{untouched} isian belum diisi"),
                requirements,
            ]
        else:
            parts = [
                Text(f"{errors} galat", style="bold red" if errors else "green"),
                Text(f"{warnings} peringatan", style="bold yellow" if warnings else "green"),
                requirements,
                Text(
                    "tersimpan" if self._saved and not self._dirty() else "belum disimpan",
                    style="bold",
                ),
            ]
        self.query_one("#form-summary", Static).update(Text(" · ").join(parts))

    def _dirty(self) -> bool:
        app, _ = self.draft.application()
        if self._saved is None:
            return app is not None or any(v.strip() for v in self.draft.text.values())
        return app is None or app.to_dict() != self._saved.to_dict()

    # -- members -----------------------------------------------------------------------------

    def action_add_member(self) -> None:
        """Add a member (in a form of its own)."""
        self._edit_member(None)

    @on(MemberTable.AddRequested)
    def _add_requested(self) -> None:
        self._edit_member(None)

    @on(MemberTable.EditRequested)
    def _edit_requested(self, event: MemberTable.EditRequested) -> None:
        self._edit_member(event.index)

    def _edit_member(self, index: int | None) -> None:
        async def done(member: object) -> None:
            if member is None:
                return
            self.draft.members = self.draft.with_member(index, member)  # type: ignore[arg-type]
            await self._check()
            self.query_one("#members", MemberTable).focus()

        self.app.push_screen(MemberFormScreen(self.draft, index, today=self.counter.today), done)

    @on(MemberTable.RemoveRequested)
    def _remove_requested(self, event: MemberTable.RemoveRequested) -> None:
        member = self.draft.members[event.index]

        async def answered(yes: bool | None) -> None:
            if yes:
                del self.draft.members[event.index]
                await self._check()

        self.app.push_screen(
            ConfirmDialog(
                f"Hapus {member.nama or 'anggota ini'} dari permohonan?", yes="Hapus", no="Batal"
            ),
            answered,
        )

    # -- checklist and problems --------------------------------------------------------------

    @on(ChecklistPanel.Changed)
    async def _document(self, event: ChecklistPanel.Changed) -> None:
        if event.present:
            self.draft.attached_documents.add(event.document)
        else:
            self.draft.attached_documents.discard(event.document)
        await self._check()

    # -- scans -------------------------------------------------------------------------------

    def _scan_lines(self) -> dict[str, list[str]]:
        """Document code -> one line per scan attached for it (type, size, pages as far as
        counted: :meth:`_count_pages`)."""
        lines: dict[str, list[str]] = {}
        for info in self._stored_scans():
            pages = 1 if info.media_type != "application/pdf" else self._pages.get(info.scan_id)
            lines.setdefault(info.document, []).append(describe_scan(info, pages))
        return lines

    def _stored_scans(self) -> list[ScanInfo]:
        store = self.counter.store
        if store is None or self._saved is None:
            return []
        return store.application_scans(self.draft.id)

    @work(group="pages", exclusive=True)
    async def _count_pages(self) -> None:
        """Count the pages of the PDFs not counted yet, on a worker thread (a big PDF takes
        seconds to decrypt and parse: the form must not freeze), then show them. Nothing
        while the scan key is locked: this runs again when it opens."""
        key = self.counter.scan_key
        todo = [
            info
            for info in self._stored_scans()
            if info.media_type == "application/pdf" and info.scan_id not in self._pages
        ]
        if key is None or not todo:
            return
        pages = await asyncio.to_thread(read_page_counts, self.counter.config.db_path, key, todo)
        if not self.is_attached:  # left meanwhile
            return
        self._pages.update(pages)
        await self._check()

    async def action_attach(self) -> None:
        """Attach a scan (PDF, JPG, PNG) for the document chosen in the checklist."""
        if self._still_attaching():
            return
        box = self.focused
        if not isinstance(box, DocumentBox) or not box.name:
            self.notify(
                "Pilih dokumen di bagian Persyaratan dulu (Tab), lalu tekan F7.",
                severity="warning",
            )
            return
        document = box.name
        if self.counter.scan_key is None:  # ask the password, fetch the key, then go on
            self.counter.ask_scan_key(lambda: self.call_later(self._attach_for, document))
            return
        await self._attach_for(document)

    async def _attach_for(self, document: str) -> None:
        if self._dirty() or self._saved is None:
            if not await self.action_save():
                return  # the reasons are on screen

        def chosen(path: Path | None) -> None:
            if path is not None:
                self._attach_file(document, path)

        title = f"Lampirkan: {DOCUMENTS[document].display}"
        self.app.push_screen(FilePickerScreen(title, self.counter.last_folder), chosen)

    @work(group="attach")
    async def _attach_file(self, document: str, path: Path) -> None:
        """Read, recompress, encrypt and record the scan on a worker thread: a camera photo
        takes seconds, and the screen keeps answering meanwhile (the busy line says what is
        going on; a second attach, saving and leaving wait until it is done)."""
        operator, key = self.counter.operator, self.counter.scan_key
        if operator is None or key is None or self._attaching is not None:
            return
        self.counter.last_folder = path.parent
        self._busy(path)
        try:
            attached, pages = await asyncio.to_thread(
                attach_from_file,
                self.counter.config.db_path,
                self.counter.device_key(),
                self.counter.clock,
                self.draft.id,
                document,
                path,
                operator_id=operator.id,
                key=key,
                recompress=self.counter.config.recompress_photos,
            )
        except OSError as exc:
            self.notify(f"Berkas tidak bisa dibaca: {exc.strerror or exc}", severity="error")
            return
        except KKError as exc:
            self.notify(exc.message, title="Berkas tidak dilampirkan", severity="error", timeout=10)
            return
        except sqlite3.OperationalError as exc:  # the store stayed locked past its timeout
            log.warning("attaching %s: %s", path.name, exc)
            self.notify(
                "Penyimpanan loket sedang sibuk. Tunggu sebentar lalu lampirkan lagi (F7).",
                title="Berkas tidak dilampirkan",
                severity="error",
                timeout=10,
            )
            return
        except Exception:  # a broken file must never take the counter down
            log.exception("attaching %s failed", path.name)
            self.notify(
                "Berkas tidak dapat diproses. Coba pindai ulang atau simpan sebagai PDF.",
                title="Berkas tidak dilampirkan",
                severity="error",
                timeout=10,
            )
            return
        finally:
            self._busy(None)
        self._pages[attached.scan_id] = pages
        self.draft.attached_documents.add(document)
        await self.action_save()
        self.counter.outbox_changed()
        same = (
            " (berkas yang sama sudah ada; tidak disimpan dua kali)"
            if attached.deduplicated
            else ""
        )
        self.notify(f"Berkas dilampirkan: {path.name}{same}.", timeout=5)

    def _busy(self, path: Path | None) -> None:
        """Show (``path``) or hide the line saying a scan is being processed."""
        if not self.is_attached:  # the app is closing: the worker was cancelled
            return
        line = self.query_one("#form-busy", Static)
        if self._busy_timer is not None:
            self._busy_timer.stop()
            self._busy_timer = None
        self._attaching = path.name if path is not None else None
        line.display = path is not None
        if path is None:
            return
        started = time.monotonic()
        # One line at 80 columns: "Sedang memproses " 17 + name 28 + 32 for the rest (78).
        name = path.name if len(path.name) <= 28 else path.name[:27] + "…"
        photo = path.suffix.lower() in {".jpg", ".jpeg", ".png"}
        doing = "diperkecil, dienkripsi" if photo else "dienkripsi"

        def tick() -> None:
            seconds = int(time.monotonic() - started)
            line.update(
                Text.assemble(
                    ("Sedang memproses ", "bold"),
                    (name, "bold"),
                    f": {doing}… {seconds} dtk",
                )
            )

        tick()
        self._busy_timer = self.set_interval(0.5, tick)

    def _still_attaching(self) -> bool:
        """True (and say so) while a scan is being processed: wait for it first."""
        if self._attaching is None:
            return False
        self.notify(
            f"Tunggu sebentar: berkas {self._attaching} masih diproses.",
            severity="warning",
            timeout=4,
        )
        return True

    def action_problems(self) -> None:
        """Jump to the list of problems."""
        problems = self.query_one("#problems", IssueList)
        problems.focus()
        problems.scroll_visible()

    @on(IssueList.Chosen)
    def _problem_chosen(self, event: IssueList.Chosen) -> None:
        found = event.issue
        if event.overridden:
            self._confirm_drop_override(found)
        elif found.severity is Severity.WARNING:
            self._ask_override(found)
        else:
            self._go_to(found.field)

    def _ask_override(self, found: Issue) -> None:
        operator = self.counter.operator

        async def answered(reason: str | None) -> None:
            if reason:
                self.draft.override(found, reason, operator.id if operator else "")
                await self._check()

        self.app.push_screen(
            ReasonDialog(
                "Kecualikan peringatan",
                f"{field_label(found.field)}: {found.message}\nMengapa tetap dilanjutkan?",
                min_length=DEFAULT_OPTIONS.min_override_reason,
            ),
            answered,
        )

    def _confirm_drop_override(self, found: Issue) -> None:
        async def answered(yes: bool | None) -> None:
            if yes:
                self.draft.drop_override(found)
                await self._check()

        self.app.push_screen(
            ConfirmDialog("Batalkan pengecualian ini? Peringatannya terbuka lagi."), answered
        )

    def _go_to(self, path: str) -> None:
        if path.startswith(_MEMBER_FIELD):
            index = int(path[len(_MEMBER_FIELD) :].split("]", 1)[0])
            if index < len(self.draft.members):
                self._edit_member(index)
            return
        row = self._rows.get(path)
        if row is not None:
            row.control.focus()
        elif path.startswith("checklist."):
            self.query_one("#checklist", ChecklistPanel).focus()

    # -- saving and leaving ------------------------------------------------------------------

    async def action_save(self) -> bool:
        """Record the draft (created the first time, edited after). True when saved."""
        if self._still_attaching():
            return False
        for path in PADDED_FIELDS:  # Ctrl+S in the RT field leaves nothing to blur
            self._pad(path)
        self._show_all = True  # from now on every problem shows where it is
        await self._check()
        app, _ = self.draft.application()
        if app is None:
            self.notify("Pilih jenis dan sub jenis permohonan dulu.", severity="warning")
            self._go_to("service.service_type")
            return False
        required = shape_issues(app)
        if required:
            for found in required:
                row = self._rows.get(found.field)
                if row is not None:
                    row.show([found])
            labels = ", ".join(dict.fromkeys(field_label(f.field) for f in required))
            self.notify(f"Untuk menyimpan draf, isi dulu: {labels}.", severity="warning")
            self._go_to(required[0].field)
            return False
        operator = self.counter.operator
        if operator is None:
            return False
        actions = self.counter.actions()
        try:
            if self._saved is None:
                actions.create_application(app, operator_id=operator.id)
                verb = "Draf tersimpan"
            else:
                event = actions.edit_application(app, operator_id=operator.id)
                verb = "Perubahan tersimpan" if event else "Tidak ada perubahan"
        except KKError as exc:
            self.notify(exc.message, title="Belum tersimpan", severity="error", timeout=10)
            return False
        self._saved = app
        self.query_one("#form-title", Static).update("Ubah permohonan")
        self.counter.outbox_changed()
        self.notify(f"{verb}: {app.applicant.nama}.", timeout=4)
        await self._check()
        return True

    def action_leave(self) -> None:
        """Back to where the operator came from; asks when there are unsaved changes."""
        if self._still_attaching():
            return
        if not self._dirty():
            self.dismiss(self._saved.id if self._saved else None)
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(self._saved.id if self._saved else None)

        self.app.push_screen(
            ConfirmDialog(
                "Ada perubahan yang belum disimpan. Tinggalkan tanpa menyimpan?",
                yes="Tinggalkan",
                no="Kembali mengisi",
            ),
            answered,
        )
