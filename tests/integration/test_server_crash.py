"""The REAL server process is SIGKILLed again and again while counters push: afterwards every
event is stored exactly once, the stored chain verifies, the database is intact, the
applications are what the accepted events make them, and re-sending returns the same answers.

``kk-server serve`` runs as a subprocess on its own data directory, prepared with the CLI
(``init``, ``device enroll-code``, ``user add``). Three counters enroll over HTTP and push
their pre-built, signed logs concurrently, in batches of random size, each request signed
afresh (new nonce). Meanwhile the test kills the server with SIGKILL at random moments (fixed
seed), each time while at least one push is in flight, and starts it again on the same port
and data directory, waiting for ``GET /api/v1/health`` (no fixed sleeps).

A counter that loses its connection retries: it asks where the server is with an empty push
(which answers ``acked_seq``) and resends from there, exactly what the sync engine does. A
counter that has sent everything keeps re-sending earlier ranges until the kills end, so
every kill hits pushes in flight, duplicates included.

The logs mix outcomes the server decides: most events are applied, some are refused
(submitting an application whose documents are missing, editing a withdrawn one), so the
check that outcomes survive crashes covers both.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from protocol.events import EVENT_ACTIONS, GENESIS_HASH, ChangeEvent, EventKind
from protocol.workflow import Reasons, Role, State, transition
from signing.events import build_event, verify_event
from signing.keys import load_public_key_b64
from sync_server.config import ServerConfig
from sync_server.context import database
from tests.factories import application_dict
from tests.support.server_process import (
    Counter,
    ServerProcess,
    encode_events,
    enroll,
    prepare_data_dir,
    signed_push,
)

SEED = 20261125
KILLS = 15
DEVICES = 3
EVENTS_PER_DEVICE = 400
MAX_BATCH = 20
TIME_LIMIT_S = 60
SEKAYU = "160601"
COMPLETE = ["buku_nikah", "f102", "kk_lama"]
WITHDRAW_TEXT = "Pemohon pindah domisili sebelum berkas lengkap."


# -- the counters' logs ---------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the server must decide for one event."""

    status: str
    code: str | None = None


@dataclass
class Log:
    counter: Counter
    operator_id: str
    events: list[ChangeEvent] = field(default_factory=list)
    expected: list[Expected] = field(default_factory=list)
    final_states: dict[str, State] = field(default_factory=dict)

    def add(self, kind: EventKind, app_id: str, body: dict[str, Any], expect: Expected) -> None:
        last = self.events[-1] if self.events else None
        self.events.append(
            build_event(
                key=self.counter.key,
                device_id=self.counter.device_id,
                operator_id=self.operator_id,
                previous_seq=last.seq if last else 0,
                previous_hash=last.hash() if last else GENESIS_HASH,
                kind=kind,
                application_id=app_id,
                body=body,
                at=datetime.now(UTC),
            )
        )
        self.expected.append(expect)

    @property
    def wire(self) -> list[dict[str, Any]]:
        return [e.to_wire() for e in self.events]


APPLIED = Expected("applied")


def _application(rng: random.Random, documents: list[str]) -> dict[str, Any]:
    base = application_dict()
    return application_dict(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        applicant={**base["applicant"], "whatsapp": f"0812-{rng.randint(1000, 9999)}-1234"},
        address={**base["address"], "rt": f"{rng.randint(1, 20):03d}"},
        attached_documents=documents,
    )


def _edited(app: dict[str, Any], rng: random.Random, **changes: Any) -> dict[str, Any]:
    return {
        **app,
        "address": {**app["address"], "alamat": f"Jl. Merdeka No. {rng.randint(1, 99)}"},
        **changes,
    }


def build_log(counter: Counter, operator_id: str, rng: random.Random) -> Log:
    """About :data:`EVENTS_PER_DEVICE` events: applications created, edited, completed,
    submitted or withdrawn, with a few events the server must refuse."""
    log = Log(counter, operator_id)
    while len(log.events) < EVENTS_PER_DEVICE:
        roll = rng.random()
        if roll < 0.5:  # the usual: create, correct, submit
            app = _application(rng, COMPLETE)
            log.add(EventKind.APPLICATION_CREATED, app["id"], {"application": app}, APPLIED)
            app = _edited(app, rng)
            log.add(EventKind.APPLICATION_EDITED, app["id"], {"application": app}, APPLIED)
            log.add(EventKind.SUBMITTED, app["id"], {}, APPLIED)
            final = State.SUBMITTED
        elif roll < 0.7:  # documents missing: marked incomplete, completed, submitted
            app = _application(rng, ["f102", "kk_lama"])
            log.add(EventKind.APPLICATION_CREATED, app["id"], {"application": app}, APPLIED)
            reasons = {"reasons": {"items": ["buku_nikah"], "text": ""}}
            log.add(EventKind.MARKED_INCOMPLETE, app["id"], reasons, APPLIED)
            app = _edited(app, rng, attached_documents=COMPLETE)
            log.add(EventKind.APPLICATION_EDITED, app["id"], {"application": app}, APPLIED)
            log.add(EventKind.SUBMITTED, app["id"], {}, APPLIED)
            final = State.SUBMITTED
        elif roll < 0.85:  # submitted too early: refused, then completed and submitted
            app = _application(rng, ["f102"])
            log.add(EventKind.APPLICATION_CREATED, app["id"], {"application": app}, APPLIED)
            log.add(
                EventKind.SUBMITTED, app["id"], {}, Expected("refused", "application.not_ready")
            )
            app = _edited(app, rng, attached_documents=COMPLETE)
            log.add(EventKind.APPLICATION_EDITED, app["id"], {"application": app}, APPLIED)
            log.add(EventKind.SUBMITTED, app["id"], {}, APPLIED)
            final = State.SUBMITTED
        else:  # withdrawn, then an edit that comes too late
            app = _application(rng, COMPLETE)
            log.add(EventKind.APPLICATION_CREATED, app["id"], {"application": app}, APPLIED)
            log.add(EventKind.WITHDRAWN, app["id"], {"reasons": {"text": WITHDRAW_TEXT}}, APPLIED)
            app = _edited(app, rng)
            log.add(
                EventKind.APPLICATION_EDITED,
                app["id"],
                {"application": app},
                Expected("refused", "workflow.illegal_transition"),
            )
            final = State.WITHDRAWN
        log.final_states[app["id"]] = final
    return log


# -- pushing through crashes ----------------------------------------------------------------


@dataclass
class Traffic:
    """Shared between the counters and the killer."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    killing_done: threading.Event = field(default_factory=threading.Event)
    pushes: int = 0
    refused_connections: int = 0
    """Attempts while the server was down (connection refused)."""
    cut: int = 0
    """Pushes whose connection broke mid-way: the server died with them in flight."""
    committed_unanswered: int = 0
    """Cut pushes the server had committed before dying: the answer was lost."""
    resends: int = 0
    failures: list[str] = field(default_factory=list)


def run_counter(base_url: str, log: Log, traffic: Traffic, rng: random.Random) -> dict[int, Any]:
    """Push the whole log through crashes; then re-send earlier ranges until the kills end.

    Returns the first acknowledgement received for each seq (lost answers leave a gap)."""
    wire = log.wire
    total = len(wire)
    first_results: dict[int, Any] = {}
    acked: int | None = None  # unknown: ask the server first
    cut: tuple[int, int] | None = None  # the new events of a push cut by a kill
    deadline = time.monotonic() + TIME_LIMIT_S

    def push(events: list[dict[str, Any]]) -> httpx.Response | None:
        with traffic.lock:
            traffic.in_flight += 1
        try:
            return signed_push(http, log.counter, encode_events(events))
        except httpx.ConnectError:
            with traffic.lock:
                traffic.refused_connections += 1
            return None
        except httpx.TransportError:
            with traffic.lock:
                traffic.cut += 1
            return None
        finally:
            with traffic.lock:
                traffic.in_flight -= 1
                traffic.pushes += 1

    with httpx.Client(base_url=base_url, timeout=20) as http:
        while time.monotonic() < deadline:
            if acked is None:
                response = push([])
                if response is None:
                    time.sleep(0.02)  # the server is restarting: back off, then ask again
                    continue
                assert response.status_code == 200, response.text
                acked = response.json()["acked_seq"]
                if cut is not None:  # all of the cut push was stored, or none of it
                    assert acked in (cut[0] - 1, cut[1]), (acked, cut)
                    if acked == cut[1]:
                        with traffic.lock:
                            traffic.committed_unanswered += 1
                    cut = None
                continue
            if acked < total:
                start, resend = acked + 1, False
            elif traffic.killing_done.is_set():
                return first_results
            else:  # all sent, kills still coming: re-send a random earlier range
                start, resend = rng.randint(1, total), True
            stop = min(start + rng.randint(1, MAX_BATCH) - 1, total)
            response = push(wire[start - 1 : stop])
            if response is None:
                if not resend:
                    cut = (start, stop)
                acked = None
                continue
            if response.status_code != 200:
                traffic.failures.append(f"{log.counter.device_id}: {response.text[:300]}")
                acked = None
                continue
            body = response.json()
            results = body["results"]
            assert [r["seq"] for r in results] == list(range(start, stop + 1)), body
            for result in results:
                if result["seq"] in first_results:
                    assert first_results[result["seq"]] == result, "a re-send answered otherwise"
                else:
                    first_results[result["seq"]] = result
            if resend:
                with traffic.lock:
                    traffic.resends += 1
                assert body["acked_seq"] == total, body
            else:
                assert body["acked_seq"] == stop, body
            acked = body["acked_seq"]
    raise AssertionError(f"{log.counter.device_id} did not finish within {TIME_LIMIT_S} s")


def kill_loop(server: ServerProcess, traffic: Traffic, rng: random.Random) -> list[int]:
    """SIGKILL the server :data:`KILLS` times, each while pushes are in flight, restarting it
    each time; returns the number of pushes in flight at each kill."""
    in_flight_at_kill: list[int] = []
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.02, 0.3))  # let it work a random while after readiness
        deadline = time.monotonic() + 5
        while traffic.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        in_flight_at_kill.append(traffic.in_flight)
        server.kill()
        server.start()
    traffic.killing_done.set()
    return in_flight_at_kill


# -- checking what the server kept ----------------------------------------------------------


def _replay(rows: list[dict[str, Any]]) -> tuple[State, str]:
    """The state and snapshot the applied events of one application lead to."""
    state: State | None = None
    snapshot = ""
    for row in rows:
        event = ChangeEvent.from_wire(json.loads(row["wire"]))
        reasons = None
        if event.kind in (EventKind.MARKED_INCOMPLETE, EventKind.WITHDRAWN):
            reasons = Reasons(
                items=tuple(event.body["reasons"].get("items", ())),
                text=event.body["reasons"].get("text", ""),
            )
        state = transition(state, EVENT_ACTIONS[event.kind], Role.OPERATOR, reasons)
        if "application" in event.body:
            snapshot = json.dumps(event.body["application"], sort_keys=True)
    assert state is not None
    return state, snapshot


def check_database(db_path: Path, logs: list[Log]) -> None:
    db = database(ServerConfig(data_dir=db_path.parent))
    with db.read() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall()[0][0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT count(*) FROM forks").fetchone()[0] == 0
        for log in logs:
            device_id = log.counter.device_id
            key_text = conn.execute(
                "SELECT public_key FROM devices WHERE device_id = ?", (device_id,)
            ).fetchone()[0]
            key = load_public_key_b64(key_text)
            rows = [
                dict(r)
                for r in conn.execute(
                    "SELECT * FROM events WHERE device_id = ? ORDER BY seq", (device_id,)
                )
            ]
            # exactly once: the seqs sent, each once, each as sent
            assert [r["seq"] for r in rows] == [e.seq for e in log.events]
            previous_hash = GENESIS_HASH
            for row, sent, expected in zip(rows, log.events, log.expected, strict=True):
                stored = ChangeEvent.from_wire(json.loads(row["wire"]))
                assert stored == sent
                verify_event(stored, key)  # raises unless the device signed exactly this
                assert row["prev_hash"] == stored.prev_hash == previous_hash
                assert row["hash"] == stored.hash()
                previous_hash = row["hash"]
                assert (row["status"], row["code"]) == (expected.status, expected.code), row
        # the applications are what replaying the applied events gives
        applied: dict[str, list[dict[str, Any]]] = {}
        for row in conn.execute(
            "SELECT * FROM events WHERE status = 'applied' ORDER BY device_id, seq"
        ):
            applied.setdefault(row["application_id"], []).append(dict(row))
        apps = {r["application_id"]: dict(r) for r in conn.execute("SELECT * FROM applications")}
        expected_states = {a: s for log in logs for a, s in log.final_states.items()}
        assert set(apps) == set(applied) == set(expected_states)
        for app_id, row in apps.items():
            state, snapshot = _replay(applied[app_id])
            assert row["state"] == state.value == expected_states[app_id].value
            assert json.dumps(json.loads(row["snapshot"]), sort_keys=True) == snapshot
        trail = conn.execute("SELECT count(*) FROM application_events").fetchone()[0]
        assert trail == sum(len(rows) for rows in applied.values())


# -- the test -------------------------------------------------------------------------------


def test_sigkilled_server_loses_nothing_and_doubles_nothing(tmp_path):
    began = time.monotonic()
    rng = random.Random(SEED)
    prepared = prepare_data_dir(
        tmp_path / "server", {SEKAYU: DEVICES}, operators_per_kecamatan=DEVICES
    )
    server = ServerProcess(prepared.data_dir, log=tmp_path / "server.log")
    with server:
        server.start()
        with httpx.Client(base_url=server.base_url, timeout=20) as http:
            counters = [enroll(http, code) for code in prepared.codes[SEKAYU]]
        logs = [
            build_log(counter, operator, random.Random(rng.random()))
            for counter, operator in zip(counters, prepared.operators[SEKAYU], strict=True)
        ]

        traffic = Traffic()
        outcomes: dict[str, dict[int, Any]] = {}
        errors: list[BaseException] = []

        def counter_thread(log: Log, seed: float) -> None:
            try:
                outcomes[log.counter.device_id] = run_counter(
                    server.base_url, log, traffic, random.Random(seed)
                )
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [
            threading.Thread(target=counter_thread, args=(log, rng.random())) for log in logs
        ]
        for thread in threads:
            thread.start()
        try:
            in_flight_at_kill = kill_loop(server, traffic, rng)
        finally:
            traffic.killing_done.set()
            for thread in threads:
                thread.join(timeout=TIME_LIMIT_S)
        if errors:
            raise errors[0]
        assert not traffic.failures, traffic.failures
        assert server.starts == KILLS + 1
        assert all(n > 0 for n in in_flight_at_kill), in_flight_at_kill

        # re-sending everything returns the same acknowledgements
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            for log in logs:
                total = len(log.events)
                first = outcomes[log.counter.device_id]
                for start in range(0, total, 500):
                    response = signed_push(
                        http, log.counter, encode_events(log.wire[start : start + 500])
                    )
                    assert response.status_code == 200, response.text
                    body = response.json()
                    assert body["acked_seq"] == total
                    for result, expected in zip(
                        body["results"], log.expected[start : start + 500], strict=True
                    ):
                        assert (result["status"], result["code"]) == (
                            expected.status,
                            expected.code,
                        )
                        if result["seq"] in first:
                            assert first[result["seq"]] == result
        assert server.stop() is not None

    check_database(prepared.data_dir / "server.db", logs)
    elapsed = time.monotonic() - began
    events = sum(len(log.events) for log in logs)
    print(
        f"\n{KILLS} SIGKILLs (pushes in flight at each: {in_flight_at_kill}), "
        f"{DEVICES} devices, {events} events stored exactly once; {traffic.pushes} pushes: "
        f"{traffic.cut} cut by a kill ({traffic.committed_unanswered} of them committed, answer "
        f"lost), {traffic.refused_connections} refused while down, {traffic.resends} re-sends; "
        f"{elapsed:.1f} s"
    )
    assert elapsed < TIME_LIMIT_S
