"""The operator's password check and the scan key that comes with it (blocking; a worker
thread runs it, never the screen's event loop).

:func:`check_operator` is the one place a typed password is used: the offline check against
the pulled hash (:meth:`Store.authenticate`), then the scan key:

1. the operator's own wrapped copy (``scan_keyring``), or a copy wrapped from the key another
   operator opened earlier in this app run (:func:`field_client.scans.unlock`);
2. otherwise, from the server (:func:`field_client.scan_recovery.recover_scan_key`), with the
   password just checked, within a bounded time.

Whatever the network does, the login itself succeeds when the password matches: a failed
recovery leaves the scans locked and returns an Indonesian notice for the operator. The
password is not kept: retrying later means asking for it again (the login screen at the next
login, or the small dialog before attaching or opening a scan: :mod:`field_client.app`).
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

__all__ = ["LoginOutcome", "check_operator"]

log = logging.getLogger("field_client.app")

_RECOVERABLE = frozenset({"scan.locked", "scan.wrong_password"})
"""Local unlock failures the server can mend: no copy yet, or a copy under an old password."""


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """What a password check gave."""

    operator: Operator | None
    """``None``: wrong username or password (or a disabled account)."""
    scan_key: DataKey | None = None
    """The key to the counter's scans (``None``: locked for this session so far)."""
    notice: str | None = None
    """Why the scans stay locked, in Indonesian (``None`` when they opened)."""
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
    on_recovering: Callable[[], None] | None = None,
) -> LoginOutcome:
    """Check the password offline and open the scans (see the module doc). Never raises for
    a network problem; ``on_recovering`` is called (in this thread) just before the server
    is asked, so the screen can say why the login takes a moment."""
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
            log.info("scans locked for %s (%s): asking the server", operator.id, exc.code)
        if on_recovering is not None:
            on_recovering()
        try:
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
        except Exception:  # a bug must not cost the operator their login
            log.exception("scan key recovery failed for %s", operator.id)
            return LoginOutcome(operator, notice=message_for("scan.locked"))
        return LoginOutcome(operator, key, recovered=True)
