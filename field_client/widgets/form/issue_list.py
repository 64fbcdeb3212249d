"""Every open problem of an application in one list: errors, warnings, accepted warnings.

Selecting a warning lets the operator accept it with a reason (an override); selecting an
accepted one takes the acceptance back; selecting an error jumps to its field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from field_client.widgets.form.field_row import issue_text
from field_client.widgets.keys import LIST_BINDINGS
from protocol.application import field_label
from protocol.errors import Issue

__all__ = ["IssueList"]


class IssueList(OptionList):
    """The checks of the whole application; Enter acts on the highlighted one."""

    BINDINGS = LIST_BINDINGS

    DEFAULT_CSS = """
    IssueList {
        height: auto;
        max-height: 14;
    }
    """

    @dataclass
    class Chosen(Message):
        """The operator pressed Enter on an issue."""

        issue: Issue
        overridden: bool

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self._items: list[tuple[Issue, bool]] = []
        self._untouched = 0

    def show(
        self, issues: Sequence[Issue], overridden: Sequence[Issue], *, untouched: int = 0
    ) -> None:
        """Replace the list. ``untouched``: problems of fields not filled in yet, not listed
        (a blank new form is not a list of errors) but not called "no problem" either."""
        items = [(i, False) for i in issues] + [(i, True) for i in overridden]
        if items == self._items and self.option_count and untouched == self._untouched:
            return  # checked on every keystroke: repaint only what changed
        highlighted = self.highlighted
        self._items, self._untouched = items, untouched
        self.clear_options()
        if not self._items:
            if untouched:
                line = Text(f"{untouched} isian belum diisi; diperiksa setelah diisi.")
            else:
                line = Text("✓ Tidak ada masalah.", style="green")
            self.add_option(Option(line, disabled=True))
            return
        for found, accepted in self._items:
            line = Text.assemble((f"{field_label(found.field)}: ", "bold"))
            line.append_text(issue_text(found, overridden=accepted))
            self.add_option(Option(line))
        if highlighted is not None:
            self.highlighted = min(highlighted, len(self._items) - 1)

    def on_focus(self) -> None:
        # F6 jumps here: Enter should act on the first problem at once, not need a Down first.
        if self.highlighted is None and self._items:
            self.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._items):
            found, accepted = self._items[event.option_index]
            self.post_message(self.Chosen(found, accepted))
