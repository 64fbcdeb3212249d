"""Random operator actions on a counter store, forever: the process the crash test kills.

Run as ``python counter_crash_worker.py DB KEYFILE SEED [STATSFILE]``. The store must already
be enrolled and know the operator :data:`OPERATOR_ID`. The worker prints ``ready`` once its
imports are done and the store is open, then loops over random legal and illegal actions
(:func:`random_step`, a fixed sequence for a given seed) until it is killed.

STATSFILE, when given, is a small file the worker maps into memory and updates as it goes
(:class:`WorkerStats`). Writes to a shared file mapping live in the kernel's page cache, so
they survive SIGKILL: after the kill the test reads where the worker was (idle, inside a
transaction, committing) and how many actions it committed and saw refused.

:func:`random_step` is also imported by the in-process tests, with ``centre=True`` to let a
simulated centre move submitted applications on through :meth:`Counter.apply_server_state`.
"""

from __future__ import annotations

import copy
import mmap
import random
import struct
import sys
import uuid
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from field_client.actions import Counter
from field_client.store import Store
from protocol.application import Application
from protocol.errors import KKError
from protocol.workflow import Action, Reasons, Role, State, allowed_actions, transition
from signing.keys import load_private_key
from tests.factories import application_dict

OPERATOR_ID = "op-crash-1"

_NAMES = ["Ahmad Fauzi", "Siti Nurhaliza", "Budi Santoso", "Dewi Lestari", "Rahmat Hidayat"]
_BAD_NAME = "M. Yusuf"  # abbreviated: readiness reports it, so submit must refuse
_STREETS = ["Jl. Merdeka", "Jl. Kolonel Wahid Udin", "Jl. Sekayu Raya", "Lrg. Damai"]
_CENTRE_ROLES = (Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS)


@dataclass(frozen=True, slots=True)
class Step:
    """What one random step tried and how it ended."""

    actor: str
    """``"operator"`` or ``"centre"``."""
    action: Action
    application_id: str
    outcome: str
    """``"ok"``, ``"noop"`` (an edit that changed nothing) or the refusal's error code."""
    to_state: State | None = None
    """For a centre step: the state the server decided."""


def sample_application(rng: random.Random, app_id: str) -> Application:
    """A variant of the sample family: mostly ready to submit, sometimes not."""
    data: dict[str, Any] = application_dict(id=app_id)
    data["applicant"]["nama"] = rng.choice(_NAMES)
    data["address"]["alamat"] = f"{rng.choice(_STREETS)} No. {rng.randint(1, 120)}"
    roll = rng.random()
    if roll < 0.15:
        data["attached_documents"] = ["f102", "kk_lama"]  # buku nikah missing
    elif roll < 0.2:
        data["applicant"]["nama"] = _BAD_NAME
    return Application.from_dict(data)


def _edited(rng: random.Random, app: Application) -> Application:
    if rng.random() < 0.1:
        return app  # unchanged: the counter writes nothing
    changed = sample_application(rng, app.id).to_dict()
    if rng.random() < 0.5:  # sometimes keep the address, so edits are not all alike
        changed["address"] = copy.deepcopy(app.to_dict()["address"])
    return Application.from_dict(changed)


def _new_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_OPERATOR_MOVES = (
    (Action.CREATE, 18),
    (Action.EDIT, 18),
    (Action.MARK_INCOMPLETE, 10),
    (Action.SUBMIT, 20),
    (Action.RESUBMIT, 8),
    (Action.WITHDRAW, 6),
    (Action.ISSUE, 6),
    (Action.ARCHIVE, 4),
)


@dataclass
class Walk:
    """The random walk's memory: its generator, what it believes each application's state
    to be (refreshed after every step on it), and the few applications it touched last."""

    rng: random.Random
    states: dict[str, State] = field(default_factory=dict)
    recent: list[str] = field(default_factory=list)

    RECENT = 40
    """Like a counter's day: most work is on a handful of open files, so some of them travel
    the whole workflow. It also keeps each step's cost flat as the store grows."""

    @classmethod
    def resume(cls, store: Store, seed: int) -> Walk:
        """Start from what an existing store already holds."""
        found = store.search_applications(limit=1_000_000)
        # Sorted: the search order depends on timestamps; the seed alone must fix the walk.
        walk = cls(random.Random(seed))
        for summary in sorted(found, key=lambda s: s.id):
            walk.saw(summary.id, summary.state)
        return walk

    def saw(self, app_id: str, state: State) -> None:
        self.states[app_id] = state
        if app_id in self.recent:
            self.recent.remove(app_id)
        self.recent = [*self.recent[-(self.RECENT - 1) :], app_id]

    def pick(self, action: Action) -> str:
        """Usually a recent application on which ``action`` is legal; sometimes any one (so
        illegal attempts happen too); rarely an unknown id."""
        roll = self.rng.random()
        if roll < 0.02 or not self.states:
            return _new_id(self.rng)
        legal = [i for i in self.recent if action in _OPERATOR_ALLOWED[self.states[i]]]
        if legal and roll < 0.7:
            return self.rng.choice(legal)
        if roll < 0.85:
            return self.rng.choice(self.recent)
        return self.rng.choice(list(self.states))


_OPERATOR_ALLOWED = {s: frozenset(allowed_actions(s, Role.OPERATOR)) for s in State}


def random_step(counter: Counter, store: Store, walk: Walk, *, centre: bool = False) -> Step:
    """Take one random action, legal or not, and report it.

    With ``centre=True`` about one step in four is a centre decision on an application the
    centre owns, applied through the server seam, so later operator steps (resubmit, issue,
    archive) can be legal too.
    """
    rng = walk.rng
    if centre and rng.random() < 0.25:
        step = _centre_step(counter, walk)
        if step is not None:
            return step
    moves, weights = zip(*_OPERATOR_MOVES, strict=True)
    action = rng.choices(moves, weights)[0]
    if action is Action.CREATE:
        duplicate = walk.states and rng.random() < 0.05
        app_id = rng.choice(list(walk.states)) if duplicate else _new_id(rng)
        new = sample_application(rng, app_id)
        call = partial(counter.create_application, new, operator_id=OPERATOR_ID)
    elif action is Action.EDIT:
        app_id = walk.pick(action)
        stored = store.get_application(app_id)
        base = stored.application if stored else sample_application(rng, app_id)
        call = partial(counter.edit_application, _edited(rng, base), operator_id=OPERATOR_ID)
    elif action is Action.MARK_INCOMPLETE:
        app_id = walk.pick(action)
        items = rng.choice([("buku_nikah",), ("bukti_perkawinan", "kk_lama"), (), ("bukan_kode",)])
        reasons = Reasons(items=items, text=rng.choice(["", "Buku nikah belum dibawa"]))
        call = partial(counter.mark_incomplete, app_id, reasons, operator_id=OPERATOR_ID)
    elif action is Action.WITHDRAW:
        app_id = walk.pick(action)
        reasons = Reasons(text=rng.choice(["Pemohon membatalkan permohonan", "", "batal"]))
        call = partial(counter.withdraw, app_id, reasons, operator_id=OPERATOR_ID)
    else:
        app_id = walk.pick(action)
        method = {
            Action.SUBMIT: counter.submit,
            Action.RESUBMIT: counter.resubmit,
            Action.ISSUE: counter.issue,
            Action.ARCHIVE: counter.archive,
        }[action]
        call = partial(method, app_id, operator_id=OPERATOR_ID)
    try:
        event = call()
    except KKError as exc:
        return Step("operator", action, app_id, exc.code)
    if event is None:
        return Step("operator", action, app_id, "noop")
    state = store.application_state(app_id)
    assert state is not None
    walk.saw(app_id, state)
    return Step("operator", action, app_id, "ok")


def _centre_step(counter: Counter, walk: Walk) -> Step | None:
    choices = [
        (app_id, action, role)
        for app_id in walk.recent
        for role in _CENTRE_ROLES
        for action in allowed_actions(walk.states[app_id], role)
    ]
    if not choices:
        return None
    app_id, action, role = walk.rng.choice(choices)
    reasons = Reasons(items=("dokumen_tidak_terbaca",), text="Pindaian buku nikah buram")
    to_state = transition(walk.states[app_id], action, role, reasons)
    counter.apply_server_state(app_id, to_state)
    walk.saw(app_id, to_state)
    return Step("centre", action, app_id, "ok", to_state)


class WorkerStats:
    """Counters in a shared file mapping: ``where`` (0 idle, 1 inside a write transaction,
    2 committing), committed actions, refused actions."""

    _FORMAT = "<III"
    IDLE, IN_TRANSACTION, COMMITTING = 0, 1, 2

    def __init__(self, path: Path) -> None:
        with open(path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), struct.calcsize(self._FORMAT))
        self.committed = self.refused = 0

    @classmethod
    def create(cls, path: Path) -> None:
        path.write_bytes(bytes(struct.calcsize(cls._FORMAT)))

    @classmethod
    def read(cls, path: Path) -> tuple[int, int, int]:
        return struct.unpack(cls._FORMAT, path.read_bytes())

    def _write(self, where: int) -> None:
        self._map[:] = struct.pack(self._FORMAT, where, self.committed, self.refused)

    def on_sql(self, sql: str) -> None:
        """sqlite3 trace callback: called as each statement starts."""
        head = sql.lstrip()[:16].upper()
        if head.startswith("BEGIN IMMEDIATE"):
            self._write(self.IN_TRANSACTION)
        elif head.startswith("COMMIT"):
            self._write(self.COMMITTING)

    def after(self, step: Step) -> None:
        if step.outcome == "ok":
            self.committed += 1
        elif step.outcome != "noop":
            self.refused += 1
        self._write(self.IDLE)


def main(argv: list[str]) -> None:
    db_path, key_path, seed = Path(argv[1]), Path(argv[2]), int(argv[3])
    stats = WorkerStats(Path(argv[4])) if len(argv) > 4 else None
    store = Store.open(db_path)
    counter = Counter(store, load_private_key(key_path))
    walk = Walk.resume(store, seed)
    if stats is not None:
        store.db.conn.set_trace_callback(stats.on_sql)
    print("ready", flush=True)
    while True:
        step = random_step(counter, store, walk)
        if stats is not None:
            stats.after(step)


if __name__ == "__main__":
    main(sys.argv)
