"""Messages the counter app's screens send to the app (small dataclasses, as posting does).

Screens never switch screens themselves: they say what happened and
:class:`~field_client.app.CounterApp` decides where the operator goes next, so the flow
(enroll, log in, dashboard, log out) is readable in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from field_client.scans import DataKey
from field_client.store import Operator
from field_client.sync.engine import SyncStatus
from field_client.sync.enroll import Enrollment

__all__ = ["Enrolled", "LoggedIn", "LogoutRequested", "SyncStatusChanged"]


@dataclass
class Enrolled(Message):
    """The device was enrolled with the central server (the one networked step)."""

    enrollment: Enrollment


@dataclass
class LoggedIn(Message):
    """An operator logged in offline with an account pulled from the server."""

    operator: Operator
    scan_key: DataKey | None = None
    """The counter's scan key opened with the operator's password (``None``: locked)."""
    scan_notice: str | None = None
    """Why the scans stay locked, in Indonesian (shown once after the login)."""
    recovery_password: str | None = field(default=None, repr=False)
    """Set only when the server can re-issue the locked key: the password just checked,
    which the app takes out of the message and hands to the background recovery (the one
    call that keeps it, :meth:`~field_client.app.CounterApp.recover_scan_key_in_background`).
    Never shown in a repr."""


@dataclass
class LogoutRequested(Message):
    """The operator leaves the counter; the next one logs in."""


@dataclass
class SyncStatusChanged(Message):
    """The sync engine published a new status (sent to the active screen)."""

    status: SyncStatus
