"""The server's signed feed: what each counter pulls (design.md §2, format:
:mod:`protocol.server_events`).

Every function here takes an open connection and writes inside the CALLER's transaction, so
a change and the events that report it commit together or not at all: an operator account
is never created without its upsert reaching the counters, a decision never lands without
its event. Events are signed with the server key the database knows
(:meth:`sync_server.storage.db.Database.server_key`: loaded once at start-up by the server,
on first use by the CLI).

Producers:

* operator accounts (:func:`operator_changed`, :func:`seed_device`): any change of an
  operator account is sent to every non-revoked device of its kecamatan as
  ``operator.upsert``; a newly enrolled device's feed starts with every operator account of
  its kecamatan, disabled ones included (``active: false``), so it knows who may log in and
  who authored old events;
* decisions (:mod:`sync_server.services.decisions`) and transfers
  (:mod:`sync_server.services.transfers`) call :func:`append`.

:func:`read_page` serves ``GET /api/v1/sync/pull``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocol.canonical import canonical_json
from protocol.server_events import ServerEvent, ServerEventKind
from protocol.workflow import Role
from signing.events import sign_event
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.storage import accounts as account_store
from sync_server.storage import devices as device_store
from sync_server.storage import feed as feed_store
from sync_server.storage.accounts import User
from sync_server.storage.db import Connection, Database
from sync_server.storage.devices import Device

__all__ = [
    "MAX_PAGE",
    "DEFAULT_PAGE",
    "FeedPage",
    "append",
    "operator_body",
    "operator_changed",
    "seed_device",
    "seed_after_upgrade",
    "read_page",
]

log = logging.getLogger("sync_server.feed")

MAX_PAGE = 500
DEFAULT_PAGE = 200


def append(
    conn: Connection,
    *,
    audience: str,
    kind: ServerEventKind,
    application_id: str | None,
    body: Mapping[str, Any],
    now: datetime,
) -> ServerEvent:
    """Sign and store one event for ``audience``; returns it with its cursor and signature."""
    created_at = stamp(now)
    cursor = feed_store.reserve(
        conn,
        audience=audience,
        kind=kind.value,
        application_id=application_id,
        created_at=created_at,
    )
    event = sign_event(
        ServerEvent(
            cursor=cursor,
            audience=audience,
            kind=kind,
            application_id=application_id,
            created_at=created_at,
            body=dict(body),
        ),
        conn.database.server_key(),
    )
    # Parse what we signed exactly as the counter will: an event the counter would refuse
    # must fail here, inside the transaction, not wedge a counter's pull later.
    ServerEvent.from_wire(event.to_wire(), audience=audience, after_cursor=cursor - 1)
    feed_store.seal(conn, cursor, canonical_json(event.to_wire()).decode("utf-8"))
    return event


def operator_body(user: User) -> dict[str, Any]:
    """The ``operator.upsert`` body of an operator account."""
    return {
        "operator_id": user.user_id,
        "username": user.username,
        "full_name": user.full_name,
        "kecamatan": user.kecamatan,
        "password_hash": user.password_hash,
        "active": user.is_active,
    }


def operator_changed(conn: Connection, user: User, *, now: datetime) -> int:
    """Send an operator account as it now is to every device of its kecamatan.

    Call it after ANY change of an operator account (created, disabled, renamed, password
    reset...), in the transaction that made it. Staff accounts never reach counters.
    Returns how many events were appended.
    """
    if user.kecamatan is None or user.role is not Role.OPERATOR:
        return 0
    devices = device_store.active_devices_of(conn, user.kecamatan)
    for device in devices:
        append(
            conn,
            audience=device.device_id,
            kind=ServerEventKind.OPERATOR_UPSERT,
            application_id=None,
            body=operator_body(user),
            now=now,
        )
    return len(devices)


def seed_device(conn: Connection, device: Device, *, now: datetime) -> int:
    """Start a new device's feed with every operator account of its kecamatan."""
    operators = account_store.operators_of(conn, device.kecamatan)
    for user in operators:
        append(
            conn,
            audience=device.device_id,
            kind=ServerEventKind.OPERATOR_UPSERT,
            application_id=None,
            body=operator_body(user),
            now=now,
        )
    return len(operators)


def seed_after_upgrade(conn: Connection, found: int, to: int, *, now: datetime) -> None:
    """Give devices enrolled before the feed existed (schema 1) the start a new device
    gets: every operator account of their kecamatan. Without it their operators could not
    log in offline until an admin touched every account."""
    if found >= 2:
        return
    devices = [d for d in device_store.list_devices(conn) if not d.is_revoked]
    for device in devices:
        seed_device(conn, device, now=now)
    log.info("feed seeded for %d devices enrolled before schema 2", len(devices))


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One answer of the pull endpoint."""

    wires: tuple[str, ...]
    """Each event's stored wire JSON (canonical, signed), ascending cursor."""
    next_after: int
    """The last cursor returned, or the ``after`` asked for when none was."""
    more: bool
    """True when events after ``next_after`` exist already: pull again at once."""

    def to_json(self) -> bytes:
        """The response body, built from the stored JSON without re-encoding each event."""
        events = ",".join(self.wires)
        more = "true" if self.more else "false"
        text = f'{{"events":[{events}],"next_after":{self.next_after},"more":{more}}}'
        return text.encode("utf-8")

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(w) for w in self.wires]


def read_page(db: Database, device_id: str, *, after: int, limit: int) -> FeedPage:
    """The device's events after ``after``, at most ``limit`` (1 to :data:`MAX_PAGE`).

    Raises 409 ``pull.cursor_ahead`` when ``after`` is beyond every cursor the server ever
    handed out: the server lost data (restored from a backup) and the counter must not take
    silence for "nothing new".
    """
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1..{MAX_PAGE}")
    with db.read() as conn:
        rows = feed_store.wires_after(conn, device_id, after, limit + 1)
        if not rows and after > 0:
            latest = feed_store.last_cursor(conn)
            if after > latest:
                log.warning("pull ahead device=%s after=%d latest=%d", device_id, after, latest)
                raise Refusal(
                    "pull.cursor_ahead",
                    status=409,
                    extra={"latest": latest},
                    after=after,
                    latest=latest,
                )
    page = rows[:limit]
    return FeedPage(
        wires=tuple(wire for _, wire in page),
        next_after=page[-1][0] if page else after,
        more=len(rows) > limit,
    )
