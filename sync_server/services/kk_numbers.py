"""KK numbers (design.md §1): which number a signed KK carries, allocated centrally.

* A service that creates a family (``SubType.creates_family``: new family, pisah KK,
  pindah datang...) gets a **new** number from the configured :class:`KKNumberAllocator`.
* A data change or a lost/damaged KK **keeps** the family's number (``Application.kk_number``);
  the earlier KK document of that number becomes "superseded" when the new one is signed
  (:mod:`sync_server.services.kk_documents`).

Allocators:

* :class:`DemoAllocator` (development, ``make run``): kecamatan code (6) + date DDMMYY in
  WIB (6) + serial (4), the shape of a real KK number. The serial advances inside the
  database's write transaction (``BEGIN IMMEDIATE``, one writer across threads and
  processes), and a number already in the registry (a SIAK or existing one) is skipped.
* :class:`SiakAllocator` (production): the number SIAK issued, typed in by central staff
  with :func:`enter_siak_number` before the Kepala Dinas signs.

Every number lands in ``kk_numbers``, whose primary key is the number: whatever the
allocator, a number is handed out once and never again, even when the application it was
given to is later withdrawn. An application gets its number once
(``application_kk_numbers``), at signing, in the same transaction as the signature record.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from protocol.application import Application
from protocol.errors import define_messages
from protocol.jurisdiction import WIB
from protocol.workflow import State
from sync_server.clock import stamp
from sync_server.errors import Refusal
from sync_server.storage import changelog as log_store
from sync_server.storage import kk_registry

__all__ = [
    "KKNumberAllocator",
    "DemoAllocator",
    "SiakAllocator",
    "Assignment",
    "make_allocator",
    "assign_kk_number",
    "enter_siak_number",
    "ALLOCATORS",
]

define_messages(
    {
        "kk_number.exhausted": "Nomor urut KK demo untuk kecamatan {kecamatan} hari ini sudah "
        "habis (9999); lanjutkan besok atau gunakan nomor dari SIAK.",
        "kk_number.siak_missing": "Nomor KK dari SIAK untuk permohonan {application_id} belum "
        "dimasukkan; masukkan nomor KK dari SIAK sebelum TTE.",
        "kk_number.taken": "Nomor KK {kk_number} sudah dipakai keluarga lain; satu nomor KK "
        "tidak pernah dipakai dua kali.",
        "kk_number.invalid": 'Nomor KK harus 16 angka, bukan "{value}".',
        "kk_number.wrong_kecamatan": "Nomor KK {kk_number} tidak diawali kode kecamatan "
        "alamat keluarga ({kecamatan}).",
        "kk_number.existing_missing": "Permohonan {application_id} mengubah KK yang sudah ada "
        "tetapi nomor KK lamanya tidak diisi; kembalikan ke operator untuk dilengkapi.",
        "kk_number.existing_kept": "Permohonan {application_id} ({service}) tetap memakai "
        "nomor KK keluarga; nomor dari SIAK hanya untuk keluarga baru.",
        "kk_number.locked": "Nomor KK permohonan {application_id} tidak dapat diubah lagi "
        "(status: {state}).",
    }
)

_KK_NUMBER = re.compile(r"^[0-9]{16}$")
_EDITABLE_STATES = frozenset({State.SUBMITTED, State.VERIFIED, State.APPROVED})
"""States in which staff may (re)enter a SIAK number: after the counter let go of the
application and before the KK is signed with it."""


class KKNumberAllocator(Protocol):
    """Gives a new family its KK number, inside the caller's write transaction."""

    source: str
    """What ``kk_numbers.source`` records for its numbers (``demo`` or ``siak``)."""

    def new_number(
        self, conn: sqlite3.Connection, *, application_id: str, kecamatan: str, now: datetime
    ) -> str:
        """A number never handed out before, already registered in ``kk_numbers``."""
        ...


class DemoAllocator:
    """Kecamatan code + DDMMYY (WIB) + 4-digit serial; unique under concurrency."""

    source = "demo"

    def new_number(
        self, conn: sqlite3.Connection, *, application_id: str, kecamatan: str, now: datetime
    ) -> str:
        day = now.astimezone(WIB).strftime("%d%m%y")
        while True:
            serial = kk_registry.next_serial(conn, kecamatan, day)
            if serial > 9999:
                raise Refusal("kk_number.exhausted", status=503, kecamatan=kecamatan)
            number = f"{kecamatan}{day}{serial:04d}"
            if kk_registry.number_source(conn, number) is None:  # skip SIAK/existing numbers
                _register(conn, number, kecamatan, self.source, application_id, now)
                return number


class SiakAllocator:
    """The number SIAK issued, entered by staff (:func:`enter_siak_number`)."""

    source = "siak"

    def new_number(
        self, conn: sqlite3.Connection, *, application_id: str, kecamatan: str, now: datetime
    ) -> str:
        number = kk_registry.siak_entry(conn, application_id)
        if number is None:
            raise Refusal("kk_number.siak_missing", status=409, application_id=application_id)
        if kk_registry.number_source(conn, number) is not None:
            raise Refusal("kk_number.taken", status=409, kk_number=number)
        _register(conn, number, kecamatan, self.source, application_id, now)
        return number


def _register(
    conn: sqlite3.Connection,
    number: str,
    kecamatan: str,
    source: str,
    application_id: str,
    now: datetime,
) -> None:
    kk_registry.register_number(
        conn,
        kk_number=number,
        kecamatan=kecamatan,
        source=source,
        application_id=application_id,
        at=stamp(now),
    )


ALLOCATORS = {"demo": DemoAllocator, "siak": SiakAllocator}
"""Allocator by configuration name (``KK_SERVER_KK_NUMBER_ALLOCATOR``)."""


def make_allocator(name: str) -> KKNumberAllocator:
    """The allocator configured as ``name`` (``demo`` or ``siak``)."""
    return ALLOCATORS[name]()


@dataclass(frozen=True, slots=True)
class Assignment:
    """The number an application's KK carries."""

    kk_number: str
    new_family: bool


def assign_kk_number(
    conn: sqlite3.Connection,
    allocator: KKNumberAllocator,
    app: Application,
    *,
    now: datetime,
) -> Assignment:
    """The KK number of ``app``: its earlier assignment, a new one, or the family's own.

    Runs in the caller's write transaction (the signing transaction), so a refused or failed
    signature leaves no number behind.
    """
    found = kk_registry.assigned_number(conn, app.id)
    if found is not None:
        return Assignment(*found)
    kecamatan = app.address.kecamatan_code
    if app.service.creates_family:
        number = allocator.new_number(conn, application_id=app.id, kecamatan=kecamatan, now=now)
    else:
        number = app.kk_number
        if not _KK_NUMBER.match(number):
            raise Refusal("kk_number.existing_missing", status=409, application_id=app.id)
        if kk_registry.number_source(conn, number) is None:  # issued before this system
            _register(conn, number, number[:6], "existing", app.id, now)
    kk_registry.assign_number(
        conn,
        application_id=app.id,
        kk_number=number,
        new_family=app.service.creates_family,
        at=stamp(now),
    )
    return Assignment(number, app.service.creates_family)


def enter_siak_number(
    conn: sqlite3.Connection,
    *,
    application_id: str,
    kk_number: str,
    actor_id: str,
    now: datetime,
) -> Application:
    """Record the number SIAK issued for a new family (before the KK is signed).

    Refuses a malformed number, one not starting with the family's kecamatan code, one
    already in the registry or entered for another application, a service that keeps the
    family's number, and an application past ``approved``.
    """
    record = log_store.get_application(conn, application_id)
    if record is None:
        raise Refusal("application.unknown", status=404, application_id=application_id)
    state = State(record.state)
    if state not in _EDITABLE_STATES or kk_registry.assigned_number(conn, application_id):
        raise Refusal(
            "kk_number.locked", status=409, application_id=application_id, state=state.label
        )
    app = Application.from_dict(json.loads(record.snapshot))
    if not app.service.creates_family:
        raise Refusal(
            "kk_number.existing_kept",
            status=409,
            application_id=application_id,
            service=app.service.label,
        )
    if not _KK_NUMBER.match(kk_number):
        raise Refusal("kk_number.invalid", status=422, value=kk_number[:40])
    kecamatan = app.address.kecamatan_code
    if not kk_number.startswith(kecamatan):
        raise Refusal(
            "kk_number.wrong_kecamatan", status=422, kk_number=kk_number, kecamatan=kecamatan
        )
    taken = kk_registry.number_source(conn, kk_number) is not None
    try:
        if taken:
            raise sqlite3.IntegrityError
        kk_registry.enter_siak_number(
            conn,
            application_id=application_id,
            kk_number=kk_number,
            actor_id=actor_id,
            at=stamp(now),
        )
    except sqlite3.IntegrityError:  # in the registry, or entered for another application
        raise Refusal("kk_number.taken", status=409, kk_number=kk_number) from None
    return app
