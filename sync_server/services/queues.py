"""Work queues of the central roles: applications waiting for my step, oldest first.

verifikator: ``submitted`` (SOP step 3); kabid: ``verified`` (step 4); kepala_dinas:
``approved`` (step 5). Time in the step runs from the server time the application entered
its current state (the last ``application_events`` row that moved it there) and is measured
against the SOP's target (:func:`protocol.workflow.step_of`). Each entry says who holds the
step (:mod:`sync_server.services.claims`) and how many duplicate-NIK flags it carries
(:mod:`sync_server.services.duplicates`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocol.errors import KKError
from protocol.events import parse_timestamp
from protocol.services import parse_service
from protocol.workflow import Role, State, step_of
from sync_server.services import claims, duplicates
from sync_server.services.claims import Claim
from sync_server.storage.db import Database

__all__ = [
    "QUEUE_STATE",
    "QueueEntry",
    "read_queue",
    "MAX_SEARCH",
    "service_label",
    "summary",
]

QUEUE_STATE: dict[Role, State] = {
    Role.VERIFIKATOR: State.SUBMITTED,
    Role.KABID: State.VERIFIED,
    Role.KEPALA_DINAS: State.APPROVED,
}

_SELECT = """
    SELECT a.application_id, a.kecamatan, a.state, a.snapshot, a.updated_at,
           (SELECT e.server_time FROM application_events e
             WHERE e.application_id = a.application_id AND e.to_state = a.state
             ORDER BY e.id DESC LIMIT 1) AS entered_at
      FROM applications a
"""
_ORDER = " ORDER BY entered_at, a.application_id LIMIT ? OFFSET ?"
# A search matches the start of the application id or of the applicant's NIK, or any part
# of the applicant's name, case-insensitively.
_SEARCH = """ AND (a.application_id LIKE ? ESCAPE '\\'
      OR json_extract(a.snapshot, '$.applicant.nik') LIKE ? ESCAPE '\\'
      OR lower(json_extract(a.snapshot, '$.applicant.nama')) LIKE ? ESCAPE '\\')"""
MAX_SEARCH = 100


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One row of a work queue."""

    application_id: str
    kecamatan: str
    applicant_name: str
    service_label: str
    state: State
    entered_at: str
    minutes_in_step: int
    target_minutes: int
    over_target: bool
    claimed_by: Claim | None = None
    duplicate_flags: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "kecamatan": self.kecamatan,
            "applicant_name": self.applicant_name,
            "service_label": self.service_label,
            "state": self.state.value,
            "state_label": self.state.label,
            "entered_at": self.entered_at,
            "minutes_in_step": self.minutes_in_step,
            "target_minutes": self.target_minutes,
            "over_target": self.over_target,
            "claimed_by": self.claimed_by.to_dict() if self.claimed_by else None,
            "duplicate_flags": self.duplicate_flags,
        }


def service_label(service: Any) -> str:
    """The Indonesian label of a snapshot's ``service`` (a placeholder when unreadable)."""
    try:
        return parse_service(
            service["service_type"], service["sub_type"], service.get("peristiwa")
        ).label
    except (KKError, KeyError, TypeError):
        return "Jenis permohonan tidak terbaca"


def summary(row: Any) -> dict[str, Any]:
    """What a list shows of an application row (``application_id``, ``kecamatan``,
    ``state``, ``snapshot``): id, kecamatan, applicant's name, service label, state and its
    label; tolerant of a snapshot today's model no longer reads."""
    snapshot = json.loads(row["snapshot"])
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    applicant = snapshot.get("applicant")
    name = applicant.get("nama") if isinstance(applicant, dict) else None
    state = State(row["state"])
    return {
        "application_id": row["application_id"],
        "kecamatan": row["kecamatan"],
        "applicant_name": name if isinstance(name, str) else "",
        "service_label": service_label(snapshot.get("service")),
        "state": state.value,
        "state_label": state.label,
    }


def _entry(row: Any, now: datetime, claim: Claim | None, flags: int) -> QueueEntry:
    shown = summary(row)
    state = State(row["state"])
    step = step_of(state)
    assert step is not None  # queue states are all SOP steps
    entered_text = row["entered_at"] or row["updated_at"]
    waited = now - parse_timestamp(entered_text)
    return QueueEntry(
        application_id=row["application_id"],
        kecamatan=row["kecamatan"],
        applicant_name=shown["applicant_name"],
        service_label=shown["service_label"],
        state=state,
        entered_at=entered_text,
        minutes_in_step=max(0, int(waited.total_seconds() // 60)),
        target_minutes=int(step.target.total_seconds() // 60),
        over_target=waited > step.target,
        claimed_by=claim,
        duplicate_flags=flags,
    )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def read_queue(
    db: Database,
    state: State,
    *,
    limit: int,
    offset: int,
    now: datetime,
    search: str | None = None,
) -> tuple[list[QueueEntry], int]:
    """One page of the applications in ``state``, oldest first, and how many there are.

    ``search`` (trimmed, at most :data:`MAX_SEARCH` characters) keeps the applications whose
    id or applicant NIK starts with it or whose applicant name contains it.
    """
    where, params = " WHERE a.state = ?", [state.value]
    text = (search or "").strip()[:MAX_SEARCH]
    if text:
        where += _SEARCH
        pattern = _like(text.lower())
        params += [f"{_like(text)}%", f"{_like(text)}%", f"%{pattern}%"]
    with db.read() as conn:
        total = conn.execute(f"SELECT count(*) FROM applications a{where}", params).fetchone()[0]
        rows = conn.execute(_SELECT + where + _ORDER, [*params, limit, offset]).fetchall()
        ids = [row["application_id"] for row in rows]
        held = claims.claims_of(conn, ids)
        flags = duplicates.flag_counts(conn, ids)
    entries = [_entry(r, now, held.get(r[0]), flags.get(r[0], 0)) for r in rows]
    return entries, int(total)
