"""The list of applications on the dashboard (a search result or the most recent ones)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from textual.widgets import DataTable

from field_client.store import ApplicationSummary
from field_client.widgets.keys import TABLE_BINDINGS
from field_client.widgets.status.sync_status_bar import format_when
from protocol.events import parse_timestamp

__all__ = ["ApplicationTable"]

_NAME_WIDTH = 20
_STATE_WIDTH = 23  # the longest label, "Diajukan ke verifikator"


class ApplicationTable(DataTable[str]):
    """Applicant, KK number, state and last change; one row per application, keyed by id."""

    BINDINGS = TABLE_BINDINGS

    DEFAULT_CSS = """
    ApplicationTable {
        height: 1fr;
    }
    """

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_column("Nama pemohon", width=_NAME_WIDTH, key="name")
        self.add_column("Nomor KK", width=16, key="kk")
        self.add_column("Status", width=_STATE_WIDTH, key="state")
        self.add_column("Diubah", width=11, key="updated")

    def show(self, rows: Sequence[ApplicationSummary], now: datetime | None = None) -> None:
        """Replace the rows, keeping the cursor on the first one."""
        self.clear()
        for row in rows:
            changed = parse_timestamp(row.updated_at)
            self.add_row(
                _fit(row.applicant_name, _NAME_WIDTH),
                row.kk_number or "(KK baru)",
                _fit(row.state.label, _STATE_WIDTH),
                format_when(changed, now) if changed else "",
                key=row.id,
            )


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` cells with an ellipsis, so names never push columns."""
    return text if len(text) <= width else text[: width - 1] + "…"
