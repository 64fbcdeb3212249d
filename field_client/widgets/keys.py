"""Textual's own widgets, with their key descriptions in Indonesian.

The help panel (F1) lists the keys of the focused widget with their descriptions; Textual's
are English. Each class here is the Textual widget with the same bindings, described in
Indonesian (a binding of a subclass replaces the parent's for the same key).
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Checkbox, DataTable, DirectoryTree, Input, OptionList

__all__ = [
    "CHECKBOX_BINDINGS",
    "LABELS",
    "LIST_BINDINGS",
    "TABLE_BINDINGS",
    "TREE_BINDINGS",
    "Table",
    "TextInput",
    "indonesian",
]

LABELS: dict[str, str] = {
    # tables and lists
    "select_cursor": "Pilih",
    "select": "Pilih",
    "cursor_up": "Naik",
    "cursor_down": "Turun",
    "cursor_left": "Kiri",
    "cursor_right": "Kanan",
    "page_up": "Halaman sebelumnya",
    "page_down": "Halaman berikutnya",
    "page_left": "Geser kiri",
    "page_right": "Geser kanan",
    "scroll_up": "Gulir naik",
    "scroll_down": "Gulir turun",
    "scroll_left": "Gulir kiri",
    "scroll_right": "Gulir kanan",
    "scroll_top": "Paling atas",
    "scroll_bottom": "Paling bawah",
    "scroll_home": "Awal",
    "scroll_end": "Akhir",
    "first": "Pertama",
    "last": "Terakhir",
    "toggle_button": "Centang/hapus centang",
    # folder tree
    "cursor_parent": "Ke folder induk",
    "cursor_parent_next_sibling": "Ke folder berikutnya",
    "cursor_previous_sibling": "Ke sebelumnya",
    "cursor_next_sibling": "Ke berikutnya",
    "toggle_node": "Buka/tutup folder",
    "toggle_expand_all": "Buka/tutup semua",
    # text fields
    "cursor_left(True)": "Pilih ke kiri",
    "cursor_left_word": "Satu kata ke kiri",
    "cursor_left_word(True)": "Pilih satu kata ke kiri",
    "cursor_right(True)": "Pilih ke kanan",
    "cursor_right_word": "Satu kata ke kanan",
    "cursor_right_word(True)": "Pilih satu kata ke kanan",
    "delete_left": "Hapus huruf di kiri",
    "delete_right": "Hapus huruf di kanan",
    "select_all": "Pilih semua",
    "home": "Ke awal",
    "end": "Ke akhir",
    "home(True)": "Pilih sampai awal",
    "end(True)": "Pilih sampai akhir",
    "submit": "Lanjut",
    "delete_left_word": "Hapus kata di kiri",
    "delete_left_all": "Hapus semua di kiri",
    "delete_right_word": "Hapus kata di kanan",
    "delete_right_all": "Hapus semua di kanan",
    "cut": "Potong",
    "copy": "Salin",
    "paste": "Tempel",
}
"""Indonesian descriptions by binding action (the same action reads the same everywhere)."""


def indonesian(widget: type[Widget]) -> list[BindingType]:
    """The bindings ``widget`` has (its own and inherited, a subclass's winning per key, as
    Textual merges them), with Indonesian descriptions where :data:`LABELS` has one; a
    subclass declaring them replaces the English ones."""
    by_key: dict[str, Binding] = {}
    for cls in reversed(widget.__mro__):
        for binding in cls.__dict__.get("BINDINGS", []):
            if not isinstance(binding, Binding):
                continue  # tuples are not used by the widgets wrapped here
            label = LABELS.get(binding.action, binding.description)
            for key in binding.key.split(","):
                by_key[key.strip()] = replace(binding, key=key.strip(), description=label)
    return list(by_key.values())


TABLE_BINDINGS = indonesian(DataTable)
LIST_BINDINGS = indonesian(OptionList)
CHECKBOX_BINDINGS = indonesian(Checkbox)
TREE_BINDINGS = indonesian(DirectoryTree)


class TextInput(Input):
    """:class:`~textual.widgets.Input` with its keys described in Indonesian."""

    BINDINGS = indonesian(Input)


class Table(DataTable[str]):
    """:class:`~textual.widgets.DataTable` with its keys described in Indonesian."""

    BINDINGS = TABLE_BINDINGS
