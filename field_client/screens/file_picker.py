"""Pick a scan to attach: a folder tree that shows only what can be attached, and a path
field for an operator who knows where the file is.

Only JPEG, PNG and PDF files are listed (the scan store refuses anything else by content
anyway). Dismissed with the chosen :class:`~pathlib.Path`, or ``None`` on Escape.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DirectoryTree, Footer, Input, Static

from field_client.widgets.keys import TREE_BINDINGS, TextInput

__all__ = ["FilePickerScreen", "SCAN_SUFFIXES"]

SCAN_SUFFIXES = frozenset({".pdf", ".jpg", ".jpeg", ".png"})
"""File names the picker lists (case-insensitive)."""


class ScanTree(DirectoryTree):
    """Folders, and the files that can be attached; hidden entries left out."""

    BINDINGS = TREE_BINDINGS

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [
            p
            for p in paths
            if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in SCAN_SUFFIXES)
        ]


class FilePickerScreen(Screen[Path | None]):
    """Choose a file with the arrows and Enter, or type its path."""

    HELP = """
## Pilih berkas

Panah atas/bawah memilih, Enter membuka folder atau memilih berkas. Atau ketik lokasi
berkas di kolom atas lalu Enter. Hanya PDF, JPG dan PNG yang bisa dilampirkan.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Batal"),
        Binding("ctrl+l", "focus_path", "Ketik lokasi"),
    ]

    def __init__(self, title: str, start: Path) -> None:
        super().__init__()
        self._title = title
        self._start = start if start.is_dir() else Path.home()

    def compose(self) -> ComposeResult:
        yield Static(self._title, classes="screen-title")
        yield TextInput(str(self._start), placeholder="lokasi berkas", id="path", compact=True)
        yield Static("", id="picker-message")
        yield ScanTree(self._start, id="tree")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tree", ScanTree).focus()

    @on(DirectoryTree.FileSelected)
    def _file(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(Path(event.path))

    @on(Input.Submitted, "#path")
    def _typed(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if path.is_dir():
            self.query_one("#tree", ScanTree).path = path
            self.query_one("#tree", ScanTree).focus()
        elif path.is_file():
            self.dismiss(path)
        else:
            self.query_one("#picker-message", Static).update(
                Text("Berkas atau folder itu tidak ada.", style="bold red")
            )

    def action_focus_path(self) -> None:
        """Type a path instead of browsing."""
        self.query_one("#path", Input).focus()

    def action_dismiss_none(self) -> None:
        """Close without a file."""
        self.dismiss(None)
