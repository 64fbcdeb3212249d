"""The counter's status line, as the operator reads it (field_client.widgets.status)."""

from __future__ import annotations

from datetime import UTC, datetime

from field_client.sync.engine import SyncStatus
from field_client.sync.progress import TransferProgress
from field_client.widgets.status.sync_status_bar import status_lines

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def test_events_and_scans_waiting_are_both_counted():
    first, _ = status_lines(
        SyncStatus(
            pending_events=3, pending_bytes=2048, pending_scans=2, pending_scan_bytes=3 << 20
        ),
        NOW,
    )
    assert "3 catatan menunggu (2,0 KB), 2 berkas menunggu (3,0 MB)" in first.plain


def test_nothing_waiting_says_so():
    first, second = status_lines(SyncStatus(online=True, last_success_at=NOW), NOW)
    assert "● Terhubung · Semua catatan terkirim · Sinkron terakhir" in first.plain
    assert second.plain == ""


def test_a_scan_transfer_shows_a_bar_before_any_error():
    transfer = TransferProgress("upload", 100, 200, 600_000, 1_000_000, 2, 5000.0)
    _, second = status_lines(
        SyncStatus(online=True, last_error="Server sibuk.", transfer=transfer), NOW
    )
    assert second.plain.startswith("▕" + "█" * 10 + "░" * 6 + "▏ 60% Mengunggah berkas")
