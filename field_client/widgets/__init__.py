"""Widgets of the counter app, grouped by the area of the screen they belong to:
``status/`` (the sync status line every screen after enrollment shows) and ``dashboard/``
(state counts and the application list)."""
