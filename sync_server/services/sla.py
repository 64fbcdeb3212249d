"""The SLA dashboard's figures: where applications are, how long each SOP step takes against
its target, and why files are returned.

Read-only and aggregate (no names, no NIKs), so every central role may see it. Times are
the server's (``application_events.server_time``), like the queues: a counter's move counts
from when the centre received it. Step durations come from
:func:`protocol.workflow.step_timings` over each application's trail, so the dashboard and
the workflow agree on what a "stay" in a step is.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from protocol.events import parse_timestamp
from protocol.requirements import reason_label
from protocol.workflow import SOP_STEPS, Action, Role, State, Transition, step_timings
from sync_server.clock import stamp
from sync_server.storage.db import Database

__all__ = [
    "OPEN_STATES",
    "StepFigures",
    "KecamatanFigures",
    "ReasonCount",
    "SlaReport",
    "TEXT_ONLY",
    "sla_report",
]

OPEN_STATES: tuple[State, ...] = (
    State.DRAFT,
    State.INCOMPLETE,
    State.RETURNED,
    State.TTE_REJECTED,
    State.SUBMITTED,
    State.VERIFIED,
    State.APPROVED,
    State.SIGNED,
)
"""States in which someone still has work to do, in SOP order."""

TEXT_ONLY = "teks"
"""Reason key of returns given with free text and no checklist item."""

_RETURNS = (Action.RETURN.value, Action.REJECT_TTE.value)


@dataclass(frozen=True, slots=True)
class StepFigures:
    """Completed stays in one SOP step within the period."""

    number: int
    label: str
    target_minutes: float
    count: int
    mean_minutes: float | None
    p90_minutes: float | None
    over_target: int

    @property
    def over_share(self) -> float:
        return self.over_target / self.count if self.count else 0.0


@dataclass(frozen=True, slots=True)
class KecamatanFigures:
    kecamatan: str
    open: int
    """Applications not yet issued, archived or withdrawn."""
    received: int
    """Applications first received within the period."""


@dataclass(frozen=True, slots=True)
class ReasonCount:
    code: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class SlaReport:
    since: str | None
    per_state: list[tuple[State, int]]
    per_kecamatan: list[KecamatanFigures]
    steps: list[StepFigures]
    returns: list[ReasonCount]
    returned_files: int
    """Returns and TTE rejections within the period (a file returned twice counts twice)."""


def _percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted ``values``."""
    rank = max(1, math.ceil(share * len(values)))
    return values[rank - 1]


def _step_figures(
    trails: dict[str, list[Transition]], since: datetime | None, now: datetime
) -> list[StepFigures]:
    minutes: dict[int, list[float]] = defaultdict(list)
    for transitions in trails.values():
        for stay in step_timings(transitions, now=now):
            if stay.step is None or stay.left_at is None:
                continue  # still in it: the queues show those
            if since is not None and stay.left_at < since:
                continue
            minutes[stay.step.number].append(stay.duration.total_seconds() / 60)
    figures = []
    for step in SOP_STEPS:
        if step.actor_role is None:
            continue  # the applicant's steps are not measured here
        values = sorted(minutes.get(step.number, []))
        target = step.target.total_seconds() / 60
        figures.append(
            StepFigures(
                number=step.number,
                label=step.label,
                target_minutes=target,
                count=len(values),
                mean_minutes=sum(values) / len(values) if values else None,
                p90_minutes=_percentile(values, 0.9) if values else None,
                over_target=sum(1 for v in values if v > target),
            )
        )
    return figures


def _reason_counts(rows: list[tuple[str | None]]) -> tuple[list[ReasonCount], int]:
    counts: Counter[str] = Counter()
    for (raw,) in rows:
        reasons = json.loads(raw) if raw else {}
        items = reasons.get("items") or []
        counts.update(dict.fromkeys(items, 1))
        if not items:
            counts[TEXT_ONLY] += 1
    result = []
    for code, count in counts.most_common():
        if code == TEXT_ONLY:
            label = "Hanya alasan tertulis"
        else:
            try:
                label = reason_label(code)
            except KeyError:
                label = code
        result.append(ReasonCount(code, label, count))
    return result, len(rows)


def sla_report(db: Database, *, now: datetime, days: int | None = 30) -> SlaReport:
    """The dashboard's figures for the last ``days`` days (all time when ``None``); the
    counts per state and the open files per kecamatan are as of ``now``."""
    since = now - timedelta(days=days) if days else None
    since_text = stamp(since) if since else ""
    with db.read() as conn:
        per_state = dict(
            conn.execute("SELECT state, count(*) FROM applications GROUP BY state").fetchall()
        )
        open_values = [s.value for s in OPEN_STATES]
        marks = ",".join("?" * len(open_values))
        kecamatan_rows = conn.execute(
            f"SELECT kecamatan, sum(state IN ({marks})), sum(created_at >= ?) "  # noqa: S608
            "FROM applications GROUP BY kecamatan ORDER BY kecamatan",
            [*open_values, since_text],
        ).fetchall()
        event_rows = conn.execute(
            "SELECT application_id, action, from_state, to_state, role, actor_id, server_time "
            "FROM application_events ORDER BY application_id, id"
        ).fetchall()
        return_rows = conn.execute(
            "SELECT reasons FROM application_events WHERE action IN (?, ?) AND server_time >= ?",
            [*_RETURNS, since_text],
        ).fetchall()
    trails: dict[str, list[Transition]] = defaultdict(list)
    for row in event_rows:
        trails[row["application_id"]].append(
            Transition(
                action=Action(row["action"]),
                from_state=State(row["from_state"]) if row["from_state"] else None,
                to_state=State(row["to_state"]),
                role=Role(row["role"]),
                actor_id=row["actor_id"],
                at=parse_timestamp(row["server_time"]),
            )
        )
    returns, returned = _reason_counts([tuple(r) for r in return_rows])
    return SlaReport(
        since=stamp(since) if since else None,
        per_state=[(s, int(per_state[s.value])) for s in State if per_state.get(s.value)],
        per_kecamatan=[
            KecamatanFigures(r[0], int(r[1] or 0), int(r[2] or 0)) for r in kecamatan_rows
        ],
        steps=_step_figures(trails, since, now),
        returns=returns,
        returned_files=returned,
    )
