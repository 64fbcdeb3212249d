"""Central decisions: verify, approve, sign, return, reject_tte (SOP steps 3 to 5).

:func:`record_decision` is what the central staff endpoints (a later issue) call once they
have authenticated the staff member. In one write transaction it

1. finds the application (``application.unknown``, 404) and, when the caller passes
   ``expected_state`` (the state its user saw), refuses with 409 ``decision.conflict`` if
   the stored state differs: of two staff deciding at once exactly one wins, because the
   comparison and the write share one transaction;
2. checks the actor: a registered (``decision.actor_unknown``), active
   (``decision.actor_disabled``) account of the claimed role
   (``decision.actor_wrong_role``), and a central role: counter moves arrive only through
   the operator's signed change log (``decision.counter_role``);
3. judges the move with :func:`protocol.workflow.transition` from the stored state, raising
   the workflow's typed errors (:class:`~protocol.errors.IllegalTransition`,
   :class:`~protocol.errors.RoleNotPermitted`, :class:`~protocol.errors.ReasonRequired`,
   :class:`~protocol.errors.ValidationError` for an unknown reason item), then refuses
   with 409 ``claim.held_by_other`` while another staff member holds the step's claim;
4. updates the application's state, ends the step's claim
   (:mod:`sync_server.services.claims`), appends the audit row (``application_events``
   with no device and no seq: no counter made this move) and appends
   ``application.decided`` to the feed of the device that owns the application, so its
   counter shows the outcome and, after a return, lets the operator fix and resubmit;
5. appends ``application.decided`` to the hash-chained access log
   (:mod:`sync_server.services.access_log`) with the actor, role and client IP.

Every check runs before the first write, so a refused decision writes nothing even when the
caller passes its own connection (and transaction).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime

import protocol.jurisdiction  # noqa: F401  (defines application.unknown)
from protocol.server_events import ServerEvent, ServerEventKind
from protocol.workflow import Action, Reasons, Role, Side, State, transition
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import access_log, claims, feed
from sync_server.services.whatsapp import outbox as whatsapp
from sync_server.storage import accounts as account_store
from sync_server.storage import changelog as log_store
from sync_server.storage.changelog import TrailEntry
from sync_server.storage.db import Connection, Database

__all__ = ["Decision", "record_decision"]

log = logging.getLogger("sync_server.decisions")


@dataclass(frozen=True, slots=True)
class Decision:
    """A recorded decision and the feed event that carries it to the counter."""

    application_id: str
    action: Action
    from_state: State
    to_state: State
    device_id: str
    """The device that owns the application and receives the event."""
    event: ServerEvent


def record_decision(
    db_or_conn: Database | sqlite3.Connection,
    *,
    application_id: str,
    action: Action | str,
    role: Role | str,
    actor_id: str,
    actor_name: str,
    reasons: Reasons | None,
    now: datetime,
    expected_state: State | str | None = None,
    client_ip: str = "",
) -> Decision:
    """Judge and record one central decision (see the module docstring).

    ``db_or_conn`` is the database (a write transaction is opened) or a connection the
    caller already holds in a write transaction opened by :meth:`Database.write`.
    ``expected_state``: the state the deciding user saw; ``None`` skips the conflict check.
    ``client_ip``: the deciding user's address, for the access log (``""`` when not over HTTP).
    """
    args = (
        application_id,
        action,
        role,
        actor_id,
        actor_name,
        reasons,
        now,
        expected_state,
        client_ip,
    )
    if isinstance(db_or_conn, Database):
        with db_or_conn.write() as conn:
            return _record(conn, *args)
    if not isinstance(db_or_conn, Connection):
        raise TypeError("record_decision needs a Database or a connection it opened")
    return _record(db_or_conn, *args)


def _record(
    conn: Connection,
    application_id: str,
    action: Action | str,
    role: Role | str,
    actor_id: str,
    actor_name: str,
    reasons: Reasons | None,
    now: datetime,
    expected_state: State | str | None,
    client_ip: str,
) -> Decision:
    record = log_store.get_application(conn, application_id)
    if record is None:
        raise Refusal("application.unknown", status=404, application_id=application_id)
    from_state = State(record.state)
    if expected_state is not None and State(expected_state) is not from_state:
        expected = State(expected_state)
        raise Refusal(
            "decision.conflict",
            status=409,
            extra={"current_state": from_state.value, "expected_state": expected.value},
            application_id=application_id,
            state=from_state.label,
            expected=expected.label,
        )
    # transition() parses the strings too, but the actor check below needs the role first.
    to_state = transition(from_state, action, role, reasons)
    claims.check_decision(conn, application_id, actor_id)
    action, role = Action(action), Role(role)
    _check_actor(conn, actor_id, role)
    actor_name = " ".join(actor_name.split())
    if not actor_name:
        raise Refusal("decision.actor_name_required")
    at = stamp(now)
    log_store.update_application(
        conn, application_id, state=to_state.value, snapshot=record.snapshot, at=at
    )
    claims.end_with_step(conn, application_id)
    log_store.append_trail(
        conn,
        TrailEntry(
            application_id=application_id,
            device_id=None,
            seq=None,
            actor_id=actor_id,
            role=role.value,
            action=action.value,
            from_state=from_state.value,
            to_state=to_state.value,
            reasons=json.dumps(reasons.to_dict(), ensure_ascii=False) if reasons else None,
            device_time=at,
            server_time=at,
        ),
    )
    event = feed.append(
        conn,
        audience=record.owner_device_id,
        kind=ServerEventKind.APPLICATION_DECIDED,
        application_id=application_id,
        body={
            "action": action.value,
            "from_state": from_state.value,
            "to_state": to_state.value,
            "role": role.value,
            "actor_id": actor_id,
            "actor_name": actor_name,
            "reasons": reasons.to_dict() if reasons else None,
            "at": at,
        },
        now=now,
    )
    whatsapp.on_move(conn, record, action, reasons, now=now)
    access_log.append(
        conn,
        at=at,
        actor_id=actor_id,
        role=role.value,
        client_ip=client_ip,
        action=access_log.DECIDED,
        application_id=application_id,
        detail=f"{action.value}: {from_state.value} -> {to_state.value}",
    )
    log.info(
        "decision application=%s action=%s %s->%s actor=%s device=%s cursor=%d",
        application_id,
        action.value,
        from_state.value,
        to_state.value,
        actor_id,
        record.owner_device_id,
        event.cursor,
    )
    return Decision(application_id, action, from_state, to_state, record.owner_device_id, event)


def _check_actor(conn: Connection, actor_id: str, role: Role) -> None:
    if role.side is not Side.CENTRE:
        raise Refusal("decision.counter_role", status=403, role=role.label)
    user = account_store.get_user(conn, actor_id)
    if user is None:
        raise Refusal("decision.actor_unknown", status=403, actor_id=actor_id)
    if not user.is_active:
        raise Refusal("decision.actor_disabled", status=403, username=user.username)
    if user.role is not role:
        raise Refusal(
            "decision.actor_wrong_role",
            status=403,
            username=user.username,
            role=role.label,
            actual=user.role.label,
        )
