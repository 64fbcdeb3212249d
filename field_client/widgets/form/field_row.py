"""One labelled field of a form with the messages about it just below, as the operator types.

Rows are one line high (compact inputs), so a whole section fits at 80x24; a message line
appears under a field only while something is wrong with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Label, Select, Static

from field_client.widgets.form.pick_list import PickList
from field_client.widgets.keys import TextInput
from protocol.codes import CodeList
from protocol.errors import Issue, Severity

__all__ = ["FieldRow", "code_row", "control_id", "date_row", "issue_text", "text_row"]


def control_id(path: str) -> str:
    """The widget id of the control for a field path (``applicant.nik`` -> ``f-applicant-nik``)."""
    return "f-" + path.replace(".", "-").replace("_", "-")


def issue_text(found: Issue, *, overridden: bool = False) -> Text:
    """One message line: red for an error, yellow for a warning still open, dim once the
    operator accepted it with a reason."""
    if overridden:
        return Text(f"✓ {found.message} (dikecualikan)", style="dim")
    if found.severity is Severity.ERROR:
        return Text(f"✗ {found.message}", style="red")
    return Text(f"! {found.message}", style="yellow")


class FieldRow(Vertical):
    """``label  [control]`` and, below, what is wrong with the value."""

    DEFAULT_CSS = """
    FieldRow {
        height: auto;
    }
    FieldRow > Horizontal {
        height: 1;
    }
    FieldRow > Horizontal > Label {
        width: 24;
        color: $text-muted;
    }
    FieldRow > Horizontal > Input, FieldRow > Horizontal > Select {
        width: 1fr;
    }
    FieldRow > .row-message {
        height: auto;
        padding: 0 0 0 24;
        display: none;
    }
    FieldRow > .row-message.shown {
        display: block;
    }
    """

    def __init__(self, path: str, label: str, control: Widget) -> None:
        super().__init__(classes="field-row")
        self.path = path
        """The field path issues point at (``applicant.nik``, or ``nik`` in a member form)."""
        self._label = label
        self.control = control
        self._shown: object = None

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self._label)
            yield self.control
        yield Static("", classes="row-message")

    def show(self, issues: Sequence[Issue], overridden: Sequence[Issue] = ()) -> None:
        """Show these issues under the field (none: the message line disappears)."""
        message = self.query_one(".row-message", Static)
        lines = [issue_text(i) for i in issues] + [
            issue_text(i, overridden=True) for i in overridden
        ]
        message.update(Text("\n").join(lines) if lines else "")
        message.set_class(bool(lines), "shown")

    def note(self, text: Text | str) -> None:
        """Show a hint under the field (no issue), e.g. what a NIK says about its owner."""
        self._shown = None
        message = self.query_one(".row-message", Static)
        message.update(text)
        message.set_class(bool(str(text)), "shown")


def text_row(path: str, label: str, value: str = "", *, placeholder: str = "") -> FieldRow:
    """A text field."""
    control = TextInput(value, placeholder=placeholder, id=control_id(path), compact=True)
    return FieldRow(path, label, control)


def date_row(path: str, label: str, value: str = "") -> FieldRow:
    """A date typed as HH-BB-TTTT (digits and separators only)."""
    control = TextInput(
        value,
        placeholder="HH-BB-TTTT",
        restrict=r"[0-9\-/. ]*",
        max_length=10,
        id=control_id(path),
        compact=True,
    )
    return FieldRow(path, label, control)


def code_row(path: str, label: str, codes: CodeList, value: int | None = None) -> FieldRow:
    """A pick-list of one SIAK code list, labels as the KK prints them (type to search)."""
    control: PickList[int] = PickList(
        [(c.label, c.code) for c in codes],
        prompt="(pilih)",
        value=value if value in codes else Select.NULL,
        id=control_id(path),
        compact=True,
    )
    return FieldRow(path, label, control)
