"""The operator's password check and the scan key that comes with it (blocking; a worker
thread runs each step, never the screen's event loop).

A typed password is used in two steps:

1. :func:`check_operator`, at the login, offline: the password against the pulled hash
   (:meth:`Store.authenticate`), then the operator's own wrapped copy of the scan key
   (``scan_keyring``), or a copy wrapped from the key another operator opened earlier in
   this app run (:func:`field_client.scans.unlock`). The login completes on this step.
2. :func:`fetch_scan_key`, only when step 1 says the server can mend a locked key
   (:attr:`LoginOutcome.recoverable`): the key from the server
   (:func:`field_client.scan_recovery.recover_scan_key`), with the password just checked,
   within a bounded time. The app runs it in the background after the login
   (:meth:`field_client.app.CounterApp.recover_scan_key_in_background`), so a bad link
   never holds the operator at the login screen.

Neither step raises for a network problem: a failed recovery leaves the scans locked and
returns an Indonesian notice for the operator. The password is not kept: retrying later
means asking for it again (the next login, or the small dialog before attaching or opening
a scan: :mod:`field_client.app`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from field_client.config import CounterConfig
from field_client.errors import ScanError
from field_client.scan_recovery import recover_scan_key
from field_client.scans import DataKey
from field_client.store import Operator, Store
from field_client.sync.client import utc_now
from field_client.sync.errors import LinkDown
from protocol.errors import KKError, message_for
from protocol.events import format_timestamp

__all__ = ["LoginOutcome", "check_operator", "fetch_scan_key"]

log = logging.getLogger("field_client.app")

_RECOVERABLE = frozenset({"scan.locked", "scan.wrong_password"})
"""Local unlock failures the server can mend: no copy yet, or a copy under an old password."""


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """What a password check (or a recovery after it) gave."""

    operator: Operator | None
    """``None``: wrong username or password (or a disabled account)."""
    scan_key: DataKey | None = None
    """The key to the counter's scans (``None``: locked for this session so far)."""
    notice: str | None = None
    """Why the scans stay locked, in Indonesian (``None`` when they opened, or while the
    server may still open them: :attr:`recoverable`)."""
    recoverable: bool = False
    """The scans are locked locally but the server can re-issue the key
    (:func:`fetch_scan_key`)."""
    recovered: bool = False
    """The key came from the server just now."""
    offline: bool = False
    """The server could not be asked (no usable answer): worth asking again once the link
    is back."""


def check_operator(
    config: CounterConfig,
    username: str,
    password: str,
    *,
    unlocked: DataKey | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> LoginOutcome:
    """Check the password and open the scans, offline (step 1 of the module doc)."""
    # Its own connection: a sqlite3 connection belongs to the thread that opened it.
    with Store.open(config.db_path) as store:
        operator = store.authenticate(username, password)
        if operator is None:
            return LoginOutcome(None)
        at = format_timestamp(clock())
        try:
            return LoginOutcome(
                operator, store.unlock_scans(operator.id, password, at=at, unlocked=unlocked)
            )
        except ScanError as exc:
            if exc.code not in _RECOVERABLE:
                log.warning("scans stay locked for %s: %s", operator.id, exc.code)
                return LoginOutcome(operator, notice=exc.message)
            log.info("scans locked for %s (%s): the server can re-issue", operator.id, exc.code)
            return LoginOutcome(operator, recoverable=True)


def fetch_scan_key(
    config: CounterConfig,
    operator: Operator,
    password: str,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> LoginOutcome:
    """The scan key re-issued by the server for ``operator``, whose ``password`` was just
    checked (step 2 of the module doc). Blocking, bounded by
    :attr:`~field_client.config.CounterConfig.scan_key_recovery_deadline_s`; never raises."""
    try:
        with Store.open(config.db_path) as store:
            key = recover_scan_key(config, store, operator, password, clock=clock)
    except LinkDown as exc:
        log.info("scan key not recovered for %s: %s", operator.id, exc.code)
        notice = message_for("scan.recovery_offline")
        return LoginOutcome(operator, notice=notice, offline=True)
    except KKError as exc:  # a refusal, no escrow, a key that is not this counter's
        log.warning("scan key not recovered for %s: %s", operator.id, exc.code)
        if exc.code == "auth.invalid_credentials":  # the local hash is older
            return LoginOutcome(operator, notice=message_for("scan.password_outdated"))
        return LoginOutcome(operator, notice=exc.message)
    except Exception:  # a bug must not reach the screen: the scans just stay locked
        log.exception("scan key recovery failed for %s", operator.id)
        return LoginOutcome(operator, notice=message_for("scan.locked"))
    return LoginOutcome(operator, key, recovered=True)
