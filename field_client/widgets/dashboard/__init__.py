"""Widgets of the dashboard: counts per state and the application list."""

from field_client.widgets.dashboard.application_table import ApplicationTable
from field_client.widgets.dashboard.state_counts import STATE_GROUPS, StateCounts

__all__ = ["ApplicationTable", "STATE_GROUPS", "StateCounts"]
