"""The history of one application as the counter knows it: who did what, when, and how long
each step took against the SOP's target.

Two sources meet here: this device's own signed events (:meth:`Store.history`: created,
submitted, issued...) and the centre's decisions pulled from the server
(:meth:`Store.decisions`: verified, returned, signed...). They are merged in time order into
:class:`~protocol.workflow.Transition` records, and :func:`protocol.workflow.step_timings`
splits them into stays, one per state entered. Events the server refused had no effect and
are left out, as are scans attached (no workflow move); edits keep the state and start no
stay.

The device clock and the server's may differ by a little; the merge trusts both (the
timings clamp a negative stay at zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from field_client.store import Decision, OutboxEntry, Store, SyncStatus
from protocol.events import EVENT_ACTIONS, parse_timestamp, reasons_from_body
from protocol.workflow import (
    TRANSITION_TABLE,
    Role,
    State,
    StepTiming,
    Transition,
    step_timings,
)

__all__ = ["Stay", "TimelineEntry", "application_timeline", "format_duration", "stays"]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One move in the history, with the actor's name for the screen."""

    transition: Transition
    actor_name: str
    waiting: bool = False
    """A move of this counter the server has not confirmed yet."""


@dataclass(frozen=True, slots=True)
class Stay:
    """One state of the application, who brought it there and how long it stayed."""

    timing: StepTiming
    entered_by: TimelineEntry


def application_timeline(store: Store, application_id: str) -> list[TimelineEntry]:
    """Every move of the application, oldest first (see the module docstring)."""
    moves: list[tuple[datetime, int, OutboxEntry | Decision]] = []
    for entry in store.history(application_id):
        at = parse_timestamp(entry.event.created_at)
        # Refused events had no effect; a scan attached is no workflow move.
        moved = entry.event.kind in EVENT_ACTIONS and entry.status is not SyncStatus.REFUSED
        if at is not None and moved:
            moves.append((at, 0, entry))
    for decision in store.decisions(application_id):
        at = parse_timestamp(decision.at)
        if at is not None:
            moves.append((at, 1, decision))
    moves.sort(key=lambda m: (m[0], m[1]))

    names: dict[str, str] = {}
    out: list[TimelineEntry] = []
    state: State | None = None
    for at, _, item in moves:
        if isinstance(item, Decision):
            transition = Transition(
                item.action, item.from_state, item.to_state, item.role, item.actor_id, at,
                item.reasons,
            )  # fmt: skip
            out.append(TimelineEntry(transition, item.actor_name))
        else:
            event = item.event
            action = EVENT_ACTIONS[event.kind]
            rule = TRANSITION_TABLE.get((state, action))
            reasons = reasons_from_body(event.body) if "reasons" in event.body else None
            transition = Transition(
                action, state, rule.to_state if rule else (state or State.DRAFT),
                Role.OPERATOR, event.operator_id, at, reasons,
            )  # fmt: skip
            if event.operator_id not in names:
                operator = store.operator(event.operator_id)
                names[event.operator_id] = operator.full_name if operator else event.operator_id
            waiting = item.status is SyncStatus.PENDING
            out.append(TimelineEntry(transition, names[event.operator_id], waiting))
        state = transition.to_state
    return out


def stays(entries: list[TimelineEntry], *, now: datetime) -> list[Stay]:
    """The history as stays (one per state entered), each with the move that began it."""
    timings = step_timings([e.transition for e in entries], now=now)
    starters: list[TimelineEntry] = []
    current: State | None = None
    for entry in entries:
        if not starters or entry.transition.to_state != current:
            starters.append(entry)
            current = entry.transition.to_state
    return [Stay(t, e) for t, e in zip(timings, starters, strict=True)]


def format_duration(span: timedelta) -> str:
    """``timedelta(minutes=83)`` -> ``"1 j 23 mnt"``; days for long waits."""
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return f"{int(span.total_seconds())} dtk"
    if minutes < 60:
        return f"{minutes} mnt"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} j {minutes} mnt"
    days, hours = divmod(hours, 24)
    return f"{days} hr {hours} j"
