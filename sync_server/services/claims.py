"""Claims: which staff member works on an application's current central step (as OpenCRVS
assigns a record to one user).

A claim binds an application in a queue state (``submitted`` for the verifikator,
``verified`` for the Kabid, ``approved`` for the Kepala Dinas: the SOP step of the state,
:func:`protocol.workflow.step_of`) to one active account of the role that works on it. Rules:

* a staff member claims for themself; claiming what someone else holds is refused with 409
  ``claim.held`` (holder in the body) unless the caller asks to ``reassign``, which a member
  of the same role as the holder may do (a colleague who went home keeps nothing stuck) and
  an admin may always do;
* a staff member may hand the claim to a colleague of the same role; an admin assigns to
  any account of the step's role (an admin never holds a claim: admins take no decisions);
* the holder, a member of the holder's role, or an admin releases it;
* a decision by anyone but the holder is refused with 409 ``claim.held_by_other``
  (:func:`check_decision`); an unclaimed application may be decided by any member of the
  right role. A decision moves the application to another step and ends the claim
  (:func:`end_with_step`), in the same transaction;
* a claim recorded for another state than the application's current one counts for
  nothing (belt and braces: decisions end claims).

Every claim, reassignment and release is appended to the hash-chained access log, in the
same write transaction.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import protocol.jurisdiction  # noqa: F401  (defines application.unknown)
from protocol.errors import define_messages
from protocol.workflow import Role, Side, State, step_of
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.services import access_log
from sync_server.storage import accounts as account_store
from sync_server.storage import changelog as log_store
from sync_server.storage.accounts import User
from sync_server.storage.db import Database

__all__ = [
    "CLAIMED",
    "RELEASED",
    "Claim",
    "claim",
    "release",
    "current_claim",
    "claims_of",
    "check_decision",
    "end_with_step",
]

define_messages(
    {
        "claim.not_claimable": 'Permohonan {application_id} berstatus "{state}": tidak ada '
        "langkah pusat yang dapat diambil.",
        "claim.not_your_step": 'Permohonan berstatus "{state}" dikerjakan oleh {step_role}, '
        "bukan {role}.",
        "claim.assignee_required": "Admin menugaskan permohonan kepada seorang petugas: isi "
        "user_id petugasnya.",
        "claim.assignee_unknown": "Petugas {user_id} tidak terdaftar atau sudah dinonaktifkan.",
        "claim.assignee_wrong_role": "{username} berperan {actual}; permohonan berstatus "
        '"{state}" dikerjakan oleh {step_role}.',
        "claim.held": "Permohonan {application_id} sedang dikerjakan {holder} sejak "
        "{since}. Minta ia melepasnya, atau ambil alih (reassign) bila perannya sama dengan "
        "Anda.",
        "claim.held_by_other": "Permohonan {application_id} sedang dikerjakan {holder}; "
        "hanya dia yang dapat memutuskannya. Minta ia melepasnya atau ambil alih dulu.",
    }
)

CLAIMED = "application.claimed"
RELEASED = "application.released"


def _step_role(state: State) -> Role | None:
    """The central role that works on ``state`` (the queues' own mapping), else ``None``."""
    step = step_of(state)
    role = step.actor_role if step else None
    return role if role is not None and role.side is Side.CENTRE else None


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds an application's current step."""

    application_id: str
    state: State
    user_id: str
    username: str
    full_name: str
    role: Role
    claimed_at: str
    assigned_by: str
    """The account that made the claim: the holder, a colleague or an admin."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "state": self.state.value,
            "user_id": self.user_id,
            "username": self.username,
            "full_name": self.full_name,
            "role": self.role.value,
            "claimed_at": self.claimed_at,
            "assigned_by": self.assigned_by,
        }


_SELECT = """
    SELECT c.application_id, c.state, c.user_id, u.username, u.full_name, u.role,
           c.claimed_at, c.assigned_by
      FROM claims c
      JOIN users u ON u.user_id = c.user_id
      JOIN applications a ON a.application_id = c.application_id AND a.state = c.state
"""


def _claim(row: sqlite3.Row) -> Claim:
    data = dict(row)
    data["state"], data["role"] = State(data["state"]), Role(data["role"])
    return Claim(**data)


def current_claim(conn: sqlite3.Connection, application_id: str) -> Claim | None:
    """The claim on the application's current step, if any."""
    row = conn.execute(f"{_SELECT} WHERE c.application_id = ?", (application_id,)).fetchone()
    return _claim(row) if row else None


def claims_of(conn: sqlite3.Connection, application_ids: list[str]) -> dict[str, Claim]:
    """Current claims of several applications (those without one are absent)."""
    if not application_ids:
        return {}
    marks = ", ".join("?" * len(application_ids))
    rows = conn.execute(
        f"{_SELECT} WHERE c.application_id IN ({marks})", tuple(application_ids)
    ).fetchall()
    return {row["application_id"]: _claim(row) for row in rows}


def _holder(claim: Claim) -> str:
    return f"{claim.full_name} ({claim.username})"


def _step(conn: sqlite3.Connection, application_id: str) -> tuple[State, Role]:
    record = log_store.get_application(conn, application_id)
    if record is None:
        raise Refusal("application.unknown", status=404, application_id=application_id)
    state = State(record.state)
    role = _step_role(state)
    if role is None:
        raise Refusal(
            "claim.not_claimable",
            status=409,
            extra={"state": state.value},
            application_id=application_id,
            state=state.label,
        )
    return state, role


def _check_works_on(actor: User, state: State, step_role: Role) -> None:
    """Only the step's role (or an admin) touches a step's claim."""
    if actor.role is not Role.ADMIN and actor.role is not step_role:
        raise Refusal(
            "claim.not_your_step",
            status=403,
            state=state.label,
            step_role=step_role.label,
            role=actor.role.label,
        )


def _assignee(conn: sqlite3.Connection, user_id: str, state: State, step_role: Role) -> User:
    user = account_store.get_user(conn, user_id)
    if user is None or not user.is_active:
        raise Refusal("claim.assignee_unknown", status=422, user_id=user_id)
    if user.role is not step_role:
        raise Refusal(
            "claim.assignee_wrong_role",
            status=422,
            username=user.username,
            actual=user.role.label,
            state=state.label,
            step_role=step_role.label,
        )
    return user


def claim(
    db: Database,
    application_id: str,
    *,
    actor: User,
    assignee_id: str | None,
    reassign: bool,
    now: datetime,
    client_ip: str,
) -> Claim:
    """Claim the application's current step for ``assignee_id`` (the actor when ``None``).

    Claiming what the assignee already holds changes nothing and records nothing.
    """
    with db.write() as conn:
        state, step_role = _step(conn, application_id)
        _check_works_on(actor, state, step_role)
        if assignee_id is None and actor.role is Role.ADMIN:
            raise Refusal("claim.assignee_required", status=422)
        assignee = _assignee(conn, assignee_id or actor.user_id, state, step_role)
        held = current_claim(conn, application_id)
        if held is not None and held.user_id == assignee.user_id:
            return held
        if held is not None and not reassign:
            raise Refusal(
                "claim.held",
                status=409,
                extra={"claimed_by": held.to_dict()},
                application_id=application_id,
                holder=_holder(held),
                since=held.claimed_at,
            )
        at = stamp(now)
        conn.execute(
            "INSERT OR REPLACE INTO claims (application_id, user_id, state, claimed_at, "
            "assigned_by) VALUES (?, ?, ?, ?, ?)",
            (application_id, assignee.user_id, state.value, at, actor.user_id),
        )
        detail = f"{state.value}: claimed by {assignee.username}"
        if held is not None:
            detail += f", taken from {held.username}"
        access_log.append_by(
            conn,
            actor,
            at=at,
            client_ip=client_ip,
            action=CLAIMED,
            application_id=application_id,
            detail=detail,
        )
        claimed = current_claim(conn, application_id)
    assert claimed is not None  # written in this transaction
    return claimed


def release(
    db: Database, application_id: str, *, actor: User, now: datetime, client_ip: str
) -> None:
    """End the claim on the application's current step; nothing to do when there is none."""
    with db.write() as conn:
        state, step_role = _step(conn, application_id)
        _check_works_on(actor, state, step_role)
        held = current_claim(conn, application_id)
        if held is None:
            return
        # _check_works_on leaves the holder, a colleague of the holder's role and admins.
        conn.execute("DELETE FROM claims WHERE application_id = ?", (application_id,))
        access_log.append_by(
            conn,
            actor,
            at=stamp(now),
            client_ip=client_ip,
            action=RELEASED,
            application_id=application_id,
            detail=f"{state.value}: released from {held.username}",
        )


def check_decision(conn: sqlite3.Connection, application_id: str, actor_id: str) -> None:
    """Refuse (409 ``claim.held_by_other``) a decision while another member holds the step."""
    held = current_claim(conn, application_id)
    if held is not None and held.user_id != actor_id:
        raise Refusal(
            "claim.held_by_other",
            status=409,
            extra={"claimed_by": held.to_dict()},
            application_id=application_id,
            holder=_holder(held),
        )


def end_with_step(conn: sqlite3.Connection, application_id: str) -> None:
    """The step was decided: its claim ends."""
    conn.execute("DELETE FROM claims WHERE application_id = ?", (application_id,))
