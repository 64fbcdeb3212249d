"""The sync status line: online or not, what waits to be sent (events and scans), last sync,
last error, and a progress bar while scans are being sent.

It follows :attr:`CounterApp.sync_status <field_client.app.CounterApp.sync_status>`, which
the app sets from :meth:`SyncEngine.subscribe`, so every screen that shows the bar shows the
same, current status without asking the engine itself.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from field_client.sync.engine import SyncStatus
from field_client.sync.progress import TransferProgress

__all__ = ["SyncStatusBar", "status_lines", "format_bytes", "format_when", "progress_line"]


def format_bytes(size: int) -> str:
    """``1234`` -> ``"1,2 KB"``: Indonesian decimal comma, binary units as operators read
    them on file sizes."""
    if size < 1024:
        return f"{size} B"
    value, unit = size / 1024, "KB"
    if value >= 1024:
        value, unit = value / 1024, "MB"
    return f"{value:.1f} {unit}".replace(".", ",")


def format_when(moment: datetime, now: datetime | None = None) -> str:
    """Local time of day for today (``"10:42"``), else day and month (``"24/11 10:42"``)."""
    local = moment.astimezone()
    today = (now or datetime.now().astimezone()).astimezone().date()
    if local.date() == today:
        return local.strftime("%H:%M")
    return local.strftime("%d/%m %H:%M")


def status_lines(status: SyncStatus, now: datetime | None = None) -> tuple[Text, Text]:
    """The two lines of the bar: the situation, then the last error (or the next try)."""
    if status.device_revoked:
        state = Text("● Perangkat dicabut", style="bold red")
    elif status.syncing:
        state = Text("◌ Sedang sinkronisasi", style="bold cyan")
    elif status.online and status.last_error is None:
        state = Text("● Terhubung", style="bold green")
    elif status.online:
        state = Text("● Terhubung, ada masalah", style="bold yellow")
    elif status.last_attempt_at is None:
        state = Text("○ Belum tersambung", style="bold")
    else:
        state = Text("● Tidak terhubung", style="bold red")

    parts = []
    if status.pending_events:
        parts.append(
            f"{status.pending_events} catatan menunggu ({format_bytes(status.pending_bytes)})"
        )
    if status.pending_scans:
        scans = format_bytes(status.pending_scan_bytes)
        parts.append(f"{status.pending_scans} berkas menunggu ({scans})")
    waiting = ", ".join(parts) or "Semua catatan terkirim"
    last = (
        f"Sinkron terakhir {format_when(status.last_success_at, now)}"
        if status.last_success_at
        else "Belum pernah sinkron"
    )
    first = Text.assemble(state, " · ", waiting, " · ", last)
    if status.refused_events:
        first.append(f" · {status.refused_events} ditolak", style="bold red")

    if status.transfer is not None:
        second = progress_line(status.transfer)
    elif status.last_error:
        second = Text(status.last_error, style="yellow")
    elif status.next_attempt_at and not status.online:
        second = Text(f"Dicoba lagi pukul {format_when(status.next_attempt_at, now)}.")
    else:
        second = Text("")
    return first, second


def progress_line(transfer: TransferProgress, width: int = 16) -> Text:
    """A scan transfer as a bar and words: ``▕██████░░░░▏ 60% Mengunggah berkas: ...``."""
    filled = round(transfer.fraction * width)
    return Text.assemble(
        ("▕" + "█" * filled + "░" * (width - filled) + "▏", "cyan"),
        f" {round(transfer.fraction * 100)}% ",
        transfer.describe(),
    )


class SyncStatusBar(Static):
    """Two lines, always visible after enrollment; updated on every engine status change."""

    DEFAULT_CSS = """
    SyncStatusBar {
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $boost;
    }
    """

    def on_mount(self) -> None:
        # The app owns the status; watching its reactive keeps every bar in step, also on
        # screens that were not active when the status changed.
        self.watch(self.app, "sync_status", self.show_status, init=True)

    def show_status(self, status: SyncStatus) -> None:
        """Render ``status``."""
        first, second = status_lines(status)
        self.update(first if not second.plain else Text("\n").join([first, second]))
