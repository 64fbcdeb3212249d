"""Duplicate checks at submission: the same NIK in two families.

A person belongs to one family card. When an operator submits (or resubmits) an
application, the server looks up each member's NIK among

* the other **open** applications (not withdrawn and without a signed KK yet): the same
  person is being put on two KKs at once;
* the **issued KKs of other families**: signed KKs (``kk_documents``: from ``signed`` on)
  that are still active, i.e. not superseded by a newer KK of their number, and whose KK
  number differs from this application's family number.

Every hit becomes a row of ``duplicate_flags`` of the submitted application, with what the
other record said at that moment (its state, KK number and the member's name there). The
flags of an application are recomputed on each submission. When the other application is
already waiting at the centre, it is flagged too (pointing back), so its verifier sees the
clash as well. A flag never blocks anything: the verifier reads it next to the other
record and decides (return with reasons, or go on).

The members' NIKs of every application are kept in ``application_niks`` (indexed by NIK)
by :func:`index_members`, which ingest calls whenever a snapshot is stored, so the check is
one indexed look-up per member, not a scan of every snapshot.

Everything here runs on a connection inside the caller's write transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from protocol.workflow import State

__all__ = [
    "OPEN_APPLICATION",
    "ISSUED_KK",
    "DuplicateFlag",
    "index_members",
    "flag_on_submission",
    "flags_of",
    "flag_counts",
    "family_kk_number",
]

OPEN_APPLICATION = "open_application"
ISSUED_KK = "issued_kk"

_CLOSED = (State.ISSUED.value, State.ARCHIVED.value, State.WITHDRAWN.value)
_AT_CENTRE = (State.SUBMITTED.value, State.VERIFIED.value, State.APPROVED.value)
"""States where the other application still waits for a central decision (and its
verifier, Kabid or Kepala Dinas should see the clash too)."""


@dataclass(frozen=True, slots=True)
class DuplicateFlag:
    """One NIK of an application found in another record."""

    application_id: str
    nik: str
    member_name: str
    """The member's name in this application."""
    other_application_id: str
    kind: str
    """:data:`OPEN_APPLICATION` or :data:`ISSUED_KK`."""
    other_state: str
    """The other application's state when the flag was raised."""
    other_kk_number: str
    other_member_name: str
    """The name that NIK carries in the other record."""
    flagged_at: str
    other_state_now: str | None = None
    """The other application's state when read (:func:`flags_of`)."""
    other_kecamatan: str | None = None

    def to_dict(self) -> dict[str, Any]:
        now = State(self.other_state_now or self.other_state)
        return {
            "nik": self.nik,
            "member_name": self.member_name,
            "kind": self.kind,
            "flagged_at": self.flagged_at,
            "other": {
                "application_id": self.other_application_id,
                "kecamatan": self.other_kecamatan or "",
                "state": now.value,
                "state_label": now.label,
                "state_at_flag": self.other_state,
                "kk_number": self.other_kk_number,
                "member_name": self.other_member_name,
            },
        }


def _members(snapshot: str) -> dict[str, str]:
    """NIK -> name of the snapshot's members that have a NIK (a newborn may not)."""
    data = json.loads(snapshot)
    members = data.get("members") if isinstance(data, dict) else None
    found: dict[str, str] = {}
    for member in members if isinstance(members, list) else ():
        if not isinstance(member, dict):
            continue
        nik, name = member.get("nik"), member.get("nama")
        if isinstance(nik, str) and nik and nik not in found:
            found[nik] = name if isinstance(name, str) else ""
    return found


def family_kk_number(snapshot: str) -> str:
    """The family's KK number as the stored snapshot carries it (empty for a new family)."""
    data = json.loads(snapshot)
    number = data.get("kk_number") if isinstance(data, dict) else None
    return number if isinstance(number, str) else ""


def index_members(conn: sqlite3.Connection, application_id: str, snapshot: str) -> None:
    """Replace the application's rows of ``application_niks`` with the snapshot's members."""
    conn.execute("DELETE FROM application_niks WHERE application_id = ?", (application_id,))
    conn.executemany(
        "INSERT INTO application_niks (application_id, nik, member_name) VALUES (?, ?, ?)",
        [(application_id, nik, name) for nik, name in _members(snapshot).items()],
    )


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" * len(values))


def flag_on_submission(
    conn: sqlite3.Connection, application_id: str, snapshot: str, *, at: str
) -> list[DuplicateFlag]:
    """Recompute the application's flags (see the module docstring); returns them."""
    members = _members(snapshot)
    own_kk = family_kk_number(snapshot)
    conn.execute("DELETE FROM duplicate_flags WHERE application_id = ?", (application_id,))
    if not members:
        return []
    niks = tuple(members)
    rows = conn.execute(
        "SELECT n.nik, n.member_name, a.application_id, a.state, a.snapshot, "
        "d.kk_number AS card_number, d.superseded_at AS card_superseded "
        "FROM application_niks n JOIN applications a ON a.application_id = n.application_id "
        "LEFT JOIN kk_documents d ON d.application_id = a.application_id "
        f"WHERE n.nik IN ({_marks(niks)}) AND n.application_id != ? "
        "ORDER BY a.created_at, a.application_id",
        (*niks, application_id),
    ).fetchall()
    flags: list[DuplicateFlag] = []
    for row in rows:
        state = row["state"]
        if row["card_number"] is not None or state in _CLOSED:
            # A signed KK: it counts while active and of another family. A closed
            # application without one (withdrawn) counts for nothing.
            other_kk = row["card_number"] or ""
            same_family = bool(own_kk) and other_kk == own_kk
            if not other_kk or row["card_superseded"] or same_family:
                continue
            kind = ISSUED_KK
        else:
            other_kk = family_kk_number(row["snapshot"])
            kind = OPEN_APPLICATION
        flag = DuplicateFlag(
            application_id=application_id,
            nik=row["nik"],
            member_name=members[row["nik"]],
            other_application_id=row["application_id"],
            kind=kind,
            other_state=state,
            other_kk_number=other_kk,
            other_member_name=row["member_name"],
            flagged_at=at,
        )
        _insert(conn, flag)
        flags.append(flag)
        if state in _AT_CENTRE:
            _insert(
                conn,
                DuplicateFlag(
                    application_id=flag.other_application_id,
                    nik=flag.nik,
                    member_name=flag.other_member_name,
                    other_application_id=application_id,
                    kind=OPEN_APPLICATION,
                    other_state=State.SUBMITTED.value,
                    other_kk_number=own_kk,
                    other_member_name=flag.member_name,
                    flagged_at=at,
                ),
            )
    return flags


def _insert(conn: sqlite3.Connection, flag: DuplicateFlag) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO duplicate_flags (application_id, nik, member_name, "
        "other_application_id, kind, other_state, other_kk_number, other_member_name, "
        "flagged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            flag.application_id,
            flag.nik,
            flag.member_name,
            flag.other_application_id,
            flag.kind,
            flag.other_state,
            flag.other_kk_number,
            flag.other_member_name,
            flag.flagged_at,
        ),
    )


def flags_of(conn: sqlite3.Connection, application_id: str) -> list[DuplicateFlag]:
    """The application's flags, by NIK then other application, with the other application's
    current state and kecamatan."""
    rows = conn.execute(
        "SELECT f.*, a.state AS other_state_now, a.kecamatan AS other_kecamatan "
        "FROM duplicate_flags f JOIN applications a ON a.application_id = f.other_application_id "
        "WHERE f.application_id = ? ORDER BY f.nik, f.other_application_id",
        (application_id,),
    ).fetchall()
    return [DuplicateFlag(**dict(row)) for row in rows]


def flag_counts(conn: sqlite3.Connection, application_ids: list[str]) -> dict[str, int]:
    """How many flags each of the applications has (absent: none)."""
    if not application_ids:
        return {}
    rows = conn.execute(
        "SELECT application_id, count(*) FROM duplicate_flags "
        f"WHERE application_id IN ({_marks(tuple(application_ids))}) GROUP BY application_id",
        tuple(application_ids),
    ).fetchall()
    return {row[0]: int(row[1]) for row in rows}
