"""The status lines: sync (every screen after enrollment) and the scan key (dashboard)."""

from field_client.widgets.status.scan_key_status import ScanKeyState, ScanKeyStatus
from field_client.widgets.status.sync_status_bar import SyncStatusBar

__all__ = ["ScanKeyState", "ScanKeyStatus", "SyncStatusBar"]
