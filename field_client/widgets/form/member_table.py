"""The family's members on the application form: one row each, in KK order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from field_client.drafts import format_date
from field_client.widgets.keys import TABLE_BINDINGS
from protocol.application import Member
from protocol.codes import SHDK

__all__ = ["MemberTable"]


class MemberTable(DataTable[str]):
    """Members with their problems counted; ``a`` adds, Enter edits, ``Delete`` removes."""

    DEFAULT_CSS = """
    MemberTable {
        height: auto;
        max-height: 12;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *TABLE_BINDINGS,
        # Not in the footer: the form's F4 says the same, and 80 columns are few.
        Binding("a,insert", "add", "Tambah anggota", show=False),
        Binding("delete,d", "remove", "Hapus anggota"),
    ]

    @dataclass
    class AddRequested(Message):
        """The operator wants to add a member."""

    @dataclass
    class EditRequested(Message):
        """The operator wants to edit the member at ``index``."""

        index: int

    @dataclass
    class RemoveRequested(Message):
        """The operator wants to remove the member at ``index`` (the screen confirms)."""

        index: int

    _shown: object = None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        # 68 cells with the padding: fits the form at 80 columns.
        self.add_column("No", width=2)
        self.add_column("Nama lengkap", width=18)
        self.add_column("NIK", width=16)
        self.add_column("Hubungan", width=10)
        self.add_column("Lahir", width=10)
        self.add_column("Cek", width=4)

    def show(self, members: Sequence[Member], problems: Mapping[int, int]) -> None:
        """Replace the rows; ``problems`` counts open issues per member index."""
        key = (tuple(members), tuple(sorted(problems.items())))
        if key == self._shown:
            return  # checked on every keystroke: repaint only what changed
        self._shown = key
        row = self.cursor_row
        self.clear()
        for i, m in enumerate(members):
            relation = SHDK.label(m.shdk) if m.shdk in SHDK else "(belum)"
            count = problems.get(i, 0)
            self.add_row(
                str(i + 1),
                (m.nama or "(tanpa nama)")[:18],
                m.nik or "(belum ada)",
                relation[:10],
                format_date(m.tanggal_lahir),
                f"{count} !" if count else "ok",
                key=str(i),
            )
        if members:
            self.move_cursor(row=min(row, len(members) - 1))
        else:
            self.add_row("", "Belum ada anggota. Tekan a untuk menambah.", "", "", "", "")

    def _selected(self) -> int | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(key) if key is not None else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        index = self._selected()
        if index is None:
            self.post_message(self.AddRequested())
        else:
            self.post_message(self.EditRequested(index))

    def action_add(self) -> None:
        """Ask the screen for a new member."""
        self.post_message(self.AddRequested())

    def action_remove(self) -> None:
        """Ask the screen to remove the highlighted member."""
        index = self._selected()
        if index is not None:
            self.post_message(self.RemoveRequested(index))
