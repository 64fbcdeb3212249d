"""Whether the logged-in operator's key to the scans is open: one short, quiet line.

The app owns the state (:attr:`CounterApp.scan_key_state
<field_client.app.CounterApp.scan_key_state>`): the key opens at the login from the
operator's own wrapped copy, or arrives from the server a little later (the recovery runs in
the background after the login), or stays locked (no link, refused). Attaching a scan or
saving the KK PDF needs it, so the operator sees at a glance whether F7 will work now.
"""

from __future__ import annotations

from enum import StrEnum

from rich.text import Text
from textual.widgets import Static

__all__ = ["ScanKeyState", "ScanKeyStatus", "scan_key_label"]


class ScanKeyState(StrEnum):
    """Where the logged-in operator's scan key stands."""

    LOCKED = "locked"
    """No key this session (no operator, no copy and no answer from the server yet)."""
    FETCHING = "fetching"
    """The server is being asked for it in the background."""
    OPEN = "open"
    """Open: scans can be attached, previewed and the KK PDF saved."""


_LABELS = {
    ScanKeyState.LOCKED: ("terkunci", "yellow"),
    ScanKeyState.FETCHING: ("sedang diambil…", "cyan"),
    ScanKeyState.OPEN: ("terbuka", "green"),
}


def scan_key_label(state: ScanKeyState) -> Text:
    """``Kunci berkas: terbuka``, coloured by state."""
    words, style = _LABELS[state]
    return Text.assemble("Kunci berkas: ", (words, style))


class ScanKeyStatus(Static):
    """One line, sized to its text; follows the app's :attr:`scan_key_state`."""

    DEFAULT_CSS = """
    ScanKeyStatus {
        width: auto;
        height: 1;
        padding: 0 1;
        color: $text-muted;
    }
    """

    def on_mount(self) -> None:
        self.watch(self.app, "scan_key_state", self.show_state, init=True)

    def show_state(self, state: ScanKeyState) -> None:
        """Render ``state``."""
        self.update(scan_key_label(state))
