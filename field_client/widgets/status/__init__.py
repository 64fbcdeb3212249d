"""The sync status line."""

from field_client.widgets.status.sync_status_bar import SyncStatusBar

__all__ = ["SyncStatusBar"]
