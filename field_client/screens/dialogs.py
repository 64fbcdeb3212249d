"""Small modal dialogs: a yes/no confirmation, a reason, a folder, a password to type.

Every destructive step (removing a member, leaving a form with unsaved changes, cancelling
an application) asks first, keyboard first: ``y``/``n`` or Enter/Escape, and for the steps
that go out to the applicant or cannot be undone only a deliberate Tab then Enter.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from field_client.widgets.keys import TextInput

__all__ = ["ConfirmDialog", "FolderDialog", "PasswordDialog", "ReasonDialog"]


class ConfirmDialog(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with ``True`` for yes.

    The safe answer has the focus. By default ``y``/``n`` answer too. A ``deliberate``
    dialog (steps that go out to the applicant or cannot be undone: submitting, issuing,
    archiving, cancelling, re-sending) takes no ``y``: on the application screen the
    actions are single letters, and a word typed there by mistake must not confirm one.
    There the operator moves to the yes button (Tab or an arrow) and presses Enter.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "letter(True)", "Ya"),
        Binding("n", "letter(False)", "Tidak"),
        Binding("escape", "answer(False)", "Batal"),
        Binding("left,right", "app.focus_next", "Pindah tombol", show=False),
    ]

    def __init__(
        self, question: str, *, yes: str = "Ya", no: str = "Tidak", deliberate: bool = False
    ) -> None:
        super().__init__(classes="dialog-screen")
        self._question, self._yes, self._no = question, yes, no
        self._deliberate = deliberate

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._question, id="question")
            if self._deliberate:
                yield Static(
                    f"Tab ke [{self._yes}] lalu Enter untuk melanjutkan; Esc kembali.",
                    id="how-to-confirm",
                    markup=False,
                )
            with Horizontal(classes="dialog-buttons"):
                yes, no = (
                    (self._yes, f"{self._no} (Esc)")
                    if self._deliberate
                    else (f"{self._yes} (y)", f"{self._no} (n)")
                )
                yield Button(yes, id="yes", variant="error")
                yield Button(no, id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # A deliberate dialog takes no "y" (not in the footer either); "n" still goes back.
        return not (action == "letter" and self._deliberate and parameters == (True,))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_letter(self, yes: bool) -> None:
        """``y``/``n``: answer; a deliberate dialog takes only the safe ``n``."""
        if not (yes and self._deliberate):
            self.dismiss(yes)

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)


class ReasonDialog(ModalScreen[str | None]):
    """Ask for a reason of at least ``min_length`` characters; ``None`` when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Batal")]

    def __init__(self, title: str, explanation: str, *, min_length: int) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._explanation, self._min = title, explanation, min_length

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="screen-title")
            yield Static(self._explanation, id="explanation")
            yield TextInput(placeholder=f"alasan, minimal {self._min} karakter", id="reason")
            yield Static("", id="reason-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Simpan (Enter)", id="ok", variant="primary")
                yield Button("Batal (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        reason = " ".join(self.query_one("#reason", Input).value.split())
        if len(reason) < self._min:
            self.query_one("#reason-message", Static).update(
                Text(f"Tulis alasan yang jelas, minimal {self._min} karakter.", style="bold red")
            )
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a reason."""
        self.dismiss(None)


class FolderDialog(ModalScreen[str | None]):
    """Ask for a folder, offering ``folder``; ``None`` when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Batal")]

    def __init__(self, title: str, explanation: str, *, folder: str) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._explanation, self._folder = title, explanation, folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="screen-title")
            yield Static(self._explanation, id="explanation")
            yield TextInput(value=self._folder, placeholder="folder tujuan", id="folder")
            yield Static("", id="folder-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Simpan (Enter)", id="ok", variant="primary")
                yield Button("Batal (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#folder", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        folder = self.query_one("#folder", Input).value.strip()
        if not folder:
            self.query_one("#folder-message", Static).update(
                Text("Tulis folder tujuan.", style="bold red")
            )
            return
        self.dismiss(folder)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a folder."""
        self.dismiss(None)


class PasswordDialog(ModalScreen[str | None]):
    """Ask the logged-in operator for their password again (to fetch the scan key once the
    network is back); ``None`` when cancelled. The password leaves with the dismissal and
    the field is cleared."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Batal")]

    def __init__(self, title: str, explanation: str) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._explanation = title, explanation

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self._title, classes="screen-title")
            yield Static(self._explanation, id="explanation")
            yield TextInput(password=True, placeholder="kata sandi", id="password")
            yield Static("", id="password-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Buka (Enter)", id="ok", variant="primary")
                yield Button("Batal (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        field = self.query_one("#password", Input)
        password, field.value = field.value, ""
        if not password:
            self.query_one("#password-message", Static).update(
                Text("Isi kata sandi.", style="bold red")
            )
            return
        self.dismiss(password)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without a password."""
        self.dismiss(None)
