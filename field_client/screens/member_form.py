"""One family member: every KK column (1-17) plus the parents' NIKs and disabilitas.

Checked as the operator types, in the context of the whole family (a second Kepala
Keluarga, a child older than its parent): the screen validates the application with this
member in place and shows the issues that point at this member under their fields. A NIK
that parses tells what it encodes (birth date, sex, where it was issued) and fills the
birth date and sex when they are still empty.

Dismissed with the :class:`~protocol.application.Member`, or ``None`` when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Select, Static

from field_client.drafts import (
    MEMBER_CODED_FIELDS,
    ApplicationDraft,
    format_date,
    issues_by_field,
    member_from_values,
    member_values,
)
from field_client.screens.dialogs import ConfirmDialog
from field_client.widgets.form import FieldRow, code_row, date_row, text_row
from field_client.widgets.form.field_row import control_id
from protocol import codes
from protocol.application import Member
from protocol.errors import ValidationError
from protocol.identity import parse_nik
from protocol.wilayah import region

__all__ = ["MemberFormScreen"]

# (field, label, kind): in the order of the KK's columns; kind "text", "date" or "code".
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("nama", "(1) Nama lengkap", "text"),
    ("nik", "(2) NIK", "text"),
    ("jenis_kelamin", "(3) Jenis kelamin", "code"),
    ("tempat_lahir", "(4) Tempat lahir", "text"),
    ("tanggal_lahir", "(5) Tanggal lahir", "date"),
    ("agama", "(6) Agama", "code"),
    ("pendidikan", "(7) Pendidikan", "code"),
    ("pekerjaan", "(8) Jenis pekerjaan", "code"),
    ("golongan_darah", "(9) Golongan darah", "code"),
    ("status_perkawinan", "(10) Status perkawinan", "code"),
    ("tanggal_perkawinan", "(11) Tgl perkawinan", "date"),
    ("shdk", "(12) Hubungan keluarga", "code"),
    ("kewarganegaraan", "(13) Kewarganegaraan", "code"),
    ("no_paspor", "(14) No. paspor", "text"),
    ("no_kitap", "(15) No. KITAP", "text"),
    ("nama_ayah", "(16) Nama ayah", "text"),
    ("nik_ayah", "\u00a0    NIK ayah", "text"),  # no-break: Label would strip spaces
    ("nama_ibu", "(17) Nama ibu", "text"),
    ("nik_ibu", "\u00a0    NIK ibu", "text"),
    ("disabilitas", "Disabilitas", "code"),
)

_CODE_LIST = {name: codes.CODE_LISTS[name] for name in MEMBER_CODED_FIELDS}


class MemberFormScreen(Screen[Member | None]):
    """Add or edit one member; ctrl+s keeps it, Escape leaves (asking if changed)."""

    HELP = """
## Anggota keluarga

Isi kolom sesuai KK (kolom 1-17). Tab/Enter pindah ke kolom berikutnya, Shift+Tab kembali.
Pilihan (agama, pendidikan, ...) dibuka dengan Enter; ketik huruf awal untuk mencari.
Tanggal ditulis HH-BB-TTTT. Pesan merah harus diperbaiki sebelum diajukan; pesan kuning
boleh dikecualikan dengan alasan di bagian *Pemeriksaan* formulir permohonan.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "keep", "Simpan anggota", priority=True),
        Binding("escape", "leave", "Batal"),
    ]

    def __init__(
        self,
        draft: ApplicationDraft,
        index: int | None,
        *,
        today: Callable[[], date],
    ) -> None:
        super().__init__()
        self._draft = draft
        self._index = index
        """Position of the member edited, ``None`` for a new one."""
        self._today = today
        member = draft.members[index] if index is not None else None
        self._initial = member_values(member) if member else {}
        self._rows: dict[str, FieldRow] = {}
        self._touched: set[str] = set()
        """Fields the operator has been in (a new member's blank form is not all red)."""
        self._show_all = index is not None

    def compose(self) -> ComposeResult:
        number = (self._index + 1) if self._index is not None else len(self._draft.members) + 1
        verb = "Ubah" if self._index is not None else "Tambah"
        yield Static(f"{verb} anggota keluarga ke-{number}", classes="screen-title")
        with VerticalScroll(id="member-form", classes="form"):
            for name, label, kind in _FIELDS:
                value = self._initial.get(name)
                if kind == "code":
                    row = code_row(
                        name, label, _CODE_LIST[name], value if isinstance(value, int) else None
                    )
                elif kind == "date":
                    row = date_row(name, label, str(value or ""))
                else:
                    row = text_row(name, label, str(value or ""))
                self._rows[name] = row
                yield row
        yield Static("", id="member-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(f"#{control_id('nama')}", Input).focus()
        self._check()

    # -- values ----------------------------------------------------------------------------

    def values(self) -> dict[str, str | int | None]:
        """What the form holds now."""
        out: dict[str, str | int | None] = {}
        for name, row in self._rows.items():
            control = row.control
            if isinstance(control, Select):
                out[name] = None if control.is_blank() else int(control.value)  # type: ignore[arg-type]
            elif isinstance(control, Input):
                out[name] = control.value
        return out

    def _changed(self) -> bool:
        now = {k: v for k, v in self.values().items() if v not in ("", None)}
        before = {k: v for k, v in self._initial.items() if v not in ("", None)}
        return now != before

    # -- checking as the operator types ----------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    def _on_change(self, event: Input.Changed | Select.Changed) -> None:
        if event.control.id == control_id("nik"):
            self._read_nik()
        self._touch(event.control.id)
        self._check()

    @on(Input.Blurred)
    def _left(self, event: Input.Blurred) -> None:
        self._touch(event.control.id)
        self._check()

    def _touch(self, widget_id: str | None) -> None:
        for name, row in self._rows.items():
            if row.control.id == widget_id:
                self._touched.add(name)

    @on(Input.Submitted)
    def _next(self) -> None:
        self.focus_next()

    def _check(self) -> None:
        member, form_issues = member_from_values(self.values())
        index = self._index if self._index is not None else len(self._draft.members)
        trial = replace(self._draft, members=self._draft.with_member(self._index, member))
        _, issues, report = trial.check(today=self._today())
        prefix = f"members[{index}]."
        grouped = issues_by_field(issues, prefix)
        accepted = issues_by_field(report.overridden, prefix)
        for found in form_issues:
            grouped.setdefault(found.field, []).insert(0, found)
        for name, row in self._rows.items():
            if name == "nik" and not grouped.get(name):
                continue  # the NIK's own line says what the NIK encodes
            if not (self._show_all or name in self._touched):
                continue
            row.show(grouped.get(name, []), accepted.get(name, []))
        errors = sum(len(v) for v in grouped.values())
        summary = self.query_one("#member-summary", Static)
        if errors:
            summary.update(Text(f"{errors} hal perlu diperiksa pada anggota ini.", style="yellow"))
        else:
            summary.update(Text("✓ Data anggota ini lengkap dan sesuai aturan.", style="green"))

    def _read_nik(self) -> None:
        row = self._rows["nik"]
        raw = str(self.values().get("nik") or "").replace(" ", "")
        if len(raw) != 16:
            row.note("")
            return
        try:
            parsed = parse_nik(raw, today=self._today())
        except ValidationError:
            row.note("")  # _check shows the NIK's error
            return
        place = region(parsed.district_code)
        sex = codes.JENIS_KELAMIN.label(parsed.sex).lower()
        where = f", terdaftar di Kec. {place.name}" if place else ""
        row.note(Text(f"NIK: lahir {format_date(parsed.birth_date)}, {sex}{where}.", style="cyan"))
        # Fill what the NIK says when the operator has not typed it yet.
        birth = self._rows["tanggal_lahir"].control
        if isinstance(birth, Input) and not birth.value:
            birth.value = format_date(parsed.birth_date)
        sex_select = self._rows["jenis_kelamin"].control
        if isinstance(sex_select, Select) and sex_select.is_blank():
            sex_select.value = parsed.sex

    # -- leaving ---------------------------------------------------------------------------

    def action_keep(self) -> None:
        """Return the member to the application form (problems may remain: it is a draft)."""
        member, _ = member_from_values(self.values())
        if not member.nama:
            self._rows["nama"].show([], [])
            self.notify("Isi nama lengkap anggota dulu.", severity="warning")
            self.query_one(f"#{control_id('nama')}", Input).focus()
            return
        self.dismiss(member)

    def action_leave(self) -> None:
        """Cancel; asks first when something was typed."""
        if not self._changed():
            self.dismiss(None)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmDialog("Buang perubahan data anggota ini?", yes="Buang", no="Lanjut mengisi"),
            answered,
        )
