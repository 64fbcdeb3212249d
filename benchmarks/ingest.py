"""Ingest benchmark: how many change-log events per second the central server verifies and
stores when the counters of Musi Banyuasin push at the same time.

Run from the repository root (details and measured figures: benchmarks/README.md)::

    .venv/bin/python benchmarks/ingest.py            # 15 devices x 2,000 events (default)
    .venv/bin/python benchmarks/ingest.py --quick    # a few seconds, for the test suite
    .venv/bin/python benchmarks/ingest.py --profile  # also profile the server (see below)

Set-up, not timed: a fresh data directory (``kk-server init``), one enrollment code and one
operator account per kecamatan, then a REAL ``kk-server serve`` subprocess on loopback (uvicorn,
SQLite in WAL with ``synchronous=FULL``). One counter per kecamatan
(:func:`protocol.wilayah.muba_kecamatan`: 15) enrolls over HTTP, plus a second Sekayu counter
for the baseline. Every counter's log is built and signed in advance: applications of families
living in a desa of that counter's kecamatan, each going through a realistic life at the
counter (created and edited with the full application snapshot, marked incomplete, submitted,
withdrawn), every event valid for the server's rules so it is applied, not refused. The log is
cut into batches of 50 events, each JSON-encoded and gzip-compressed as counters send it.

Timed: only the server's work. A phase starts with the first request and ends with the last
acknowledgement; each counter sends its batches one after the other (as the sync engine
does), signing each request at send time (fresh nonce, a few microseconds), and the counters
run concurrently, one thread and one keep-alive connection each. Measured per phase:

* events/s: events acknowledged / (last acknowledgement - first request);
* push latency: request sent to acknowledgement received, per push (p50 and p99);
* server CPU: the server process's CPU seconds over the phase (``/proc/PID/stat``), per event
  and as cores kept busy; with the client's and every other process's, so a disturbed run
  shows itself.

Phases: the baseline (one counter alone), then all counters at once. Every acknowledgement is
checked: HTTP 200, ``acked_seq`` = the batch's last seq, every event ``applied``.

Profile (``--profile``, or automatically when the target is missed; not in ``--quick`` unless
asked): two more runs against a server started under :mod:`benchmarks.profiled_server`, which
wraps functions of the push path from the outside and measures only between two signals:
stage timers on thread CPU time (all counters; shares of the CPU by step: signature checks,
canonical JSON, application rules, SQLite...; SQLite statement wall times; the writer lock)
and cProfile (one counter; the hottest functions).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import re
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from protocol.events import GENESIS_HASH, EventKind  # noqa: E402
from protocol.identity import build_nik  # noqa: E402
from protocol.wilayah import Region, desa_in, muba_kecamatan  # noqa: E402
from signing.events import build_event  # noqa: E402
from sync_server.clock import utc_now  # noqa: E402
from sync_server.config import ServerConfig  # noqa: E402
from sync_server.context import database, init_data_dir  # noqa: E402
from sync_server.services import accounts, enrollment  # noqa: E402
from tests.support.server_process import (  # noqa: E402
    Counter,
    ServerProcess,
    encode_events,
    enroll,
    signed_push,
)

TARGET_EVENTS_PER_S = 2_000
PROFILER = Path(__file__).resolve().with_name("profiled_server.py")
OPERATOR_PASSWORD = "rahasia-loket-1"


@dataclass(frozen=True)
class Settings:
    devices: int = 15
    events: int = 2_000
    """Events per counter in the all-counters phase."""
    baseline_events: int = 2_000
    """Events of the single counter of the baseline phase."""
    batch: int = 50
    profile: str = "auto"
    """``auto`` (when the target is missed), ``always`` or ``never``."""
    profile_events: int = 400
    """Events per counter in the profiled run with stage timers (all counters)."""
    cprofile_events: int = 1_000
    """Events of the single counter of the cProfile run."""
    seed: int = 20261125
    keep: Path | None = None


QUICK = Settings(
    events=100, baseline_events=200, profile_events=50, cprofile_events=150, profile="never"
)


# -- realistic applications ---------------------------------------------------------------

_MEN = ["AHMAD FAUZI", "BUDI SANTOSO", "RAHMAT HIDAYAT", "DEDI KURNIAWAN", "MUHAMMAD YUSUF",
        "HENDRA GUNAWAN", "ARIF RAHMAN", "SAPRUDIN ALAMSYAH", "JUNAIDI SAPUTRA", "EKO PRASETYO",
        "KGS MUHAMMAD ROZI", "ZULKIFLI HASAN", "SUPRIADI WIJAYA", "ANDRI FIRMANSYAH"]  # fmt: skip
_WOMEN = ["RINA MARLINA", "SITI NURHALIZA", "DEWI LESTARI", "NURUL HIDAYAH", "YULIANA SARI",
          "FITRI HANDAYANI", "MSY AISYAH", "ENDANG SUSILAWATI", "LENI MARLINA", "ROSMALA DEWI",
          "SRI WAHYUNI", "MARIANA PUTRI", "HERLINA WATI", "NOVI ANGGRAINI"]  # fmt: skip
_BOYS = ["MUHAMMAD RIZKI", "AHMAD FADIL", "RAFI PRATAMA", "DIMAS SAPUTRA", "ILHAM MAULANA",
         "FAJAR RAMADHAN", "ALDI NUGROHO"]  # fmt: skip
_GIRLS = ["AISYAH PUTRI", "NAYLA ZAHRA", "SALSABILA RAHMA", "AZZAHRA NUR", "KEISHA AULIA",
          "ANISA FITRIANI", "ZAHRA AMELIA"]  # fmt: skip
_FATHERS = ["SUPARMAN", "DARMAWAN", "ABDUL MANAF", "SYAMSUL BAHRI", "ROSIDI", "HASANUDIN"]
_MOTHERS = ["SITI AMINAH", "MARYATI", "ROSNAH", "ZAINAB", "NURHAYATI", "SAMSIAH"]
_STREETS = ["Jl. Merdeka", "Jl. Kolonel Wahid Udin", "Jl. Lintas Timur", "Lrg. Damai",
            "Jl. Sudirman", "Dusun II", "Jl. Talang Jawa", "Lrg. Mawar"]  # fmt: skip
_COMPLETE = ["buku_nikah", "f102", "kk_lama"]
_WITHDRAW_TEXT = "Pemohon membatalkan, akan mengurus KK di kecamatan lain bulan depan."


def _title(name: str) -> str:
    return " ".join(w.capitalize() for w in name.split())


def _phone(rng: random.Random) -> str:
    prefix = f"08{rng.choice('1257')}{rng.randint(1, 9)}"
    return f"{prefix}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"


class FamilyMaker:
    """Families living in one kecamatan: NIKs of that kecamatan, consistent with birth dates
    and sex, a desa of that kecamatan; the shape of :mod:`tests.factories`."""

    def __init__(self, kecamatan: Region, rng: random.Random) -> None:
        self.kecamatan = kecamatan
        self.desa = desa_in(kecamatan.code)
        self.rng = rng
        self.serial = rng.randint(1, 3000)
        self.today = utc_now().date() - timedelta(days=2)

    def _nik(self, born: date, sex: int) -> str:
        self.serial = self.serial % 9999 + 1
        return build_nik(self.kecamatan.code, born, sex, self.serial)

    def _born(self, first_year: int, last_year: int) -> date:
        start = date(first_year, 1, 1).toordinal()
        end = min(date(last_year, 12, 31), self.today).toordinal()
        return date.fromordinal(self.rng.randint(start, end))

    def application(self, *, documents: Sequence[str] = _COMPLETE) -> dict[str, Any]:
        rng = self.rng
        place = self.kecamatan.name.upper()
        head_born = self._born(1965, 1998)
        wife_born = self._born(head_born.year, min(head_born.year + 6, 2000))
        married = self._born(wife_born.year + 20, wife_born.year + 24)
        head_name, wife_name = rng.choice(_MEN), rng.choice(_WOMEN)
        head_nik, wife_nik = self._nik(head_born, 1), self._nik(wife_born, 2)
        members: list[dict[str, Any]] = [
            {"nama": head_name, "nik": head_nik, "jenis_kelamin": 1, "tempat_lahir": place,
             "tanggal_lahir": head_born.isoformat(), "agama": 1, "pendidikan": rng.randint(3, 8),
             "pekerjaan": rng.choice([8, 9, 15, 19, 20]),
             "golongan_darah": rng.choice([1, 2, 4, 13]),
             "status_perkawinan": 5, "tanggal_perkawinan": married.isoformat(), "shdk": 1,
             "kewarganegaraan": 1, "nama_ayah": rng.choice(_FATHERS),
             "nama_ibu": rng.choice(_MOTHERS)},
            {"nama": wife_name, "nik": wife_nik, "jenis_kelamin": 2,
             "tempat_lahir": rng.choice([place, "PALEMBANG"]),
             "tanggal_lahir": wife_born.isoformat(), "agama": 1, "pendidikan": rng.randint(3, 8),
             "pekerjaan": 2, "golongan_darah": 13, "status_perkawinan": 5,
             "tanggal_perkawinan": married.isoformat(), "shdk": 3, "kewarganegaraan": 1,
             "nama_ayah": rng.choice(_FATHERS), "nama_ibu": rng.choice(_MOTHERS)},
        ]  # fmt: skip
        for _ in range(rng.randint(0, 3)):
            born = self._born(married.year + 1, married.year + 14)
            sex = rng.randint(1, 2)
            members.append(
                {"nama": rng.choice(_BOYS if sex == 1 else _GIRLS), "nik": self._nik(born, sex),
                 "jenis_kelamin": sex, "tempat_lahir": place, "tanggal_lahir": born.isoformat(),
                 "agama": 1, "pendidikan": 1, "pekerjaan": 1, "golongan_darah": 13,
                 "status_perkawinan": 1, "shdk": 4, "kewarganegaraan": 1,
                 "nama_ayah": head_name, "nama_ibu": wife_name, "nik_ayah": head_nik,
                 "nik_ibu": wife_nik}
            )  # fmt: skip
        desa = rng.choice(self.desa)
        return {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "service": {"service_type": "BARU", "sub_type": 1, "peristiwa": None},
            "applicant": {"nama": _title(head_name), "nik": head_nik, "whatsapp": _phone(rng),
                          "kk_number": ""},
            "kk_number": "",
            "address": {"alamat": f"{rng.choice(_STREETS)} No. {rng.randint(1, 150)}",
                        "rt": f"{rng.randint(1, 30):03d}", "rw": f"{rng.randint(1, 9):03d}",
                        "desa_code": desa.code, "kode_pos": f"30{rng.randint(700, 799)}"},
            "members": members,
            "attached_documents": sorted(documents),
            "overrides": [],
        }  # fmt: skip

    def edit(self, app: dict[str, Any]) -> dict[str, Any]:
        """What an operator corrects after the first save: a phone number or the address."""
        edited = copy.deepcopy(app)
        if self.rng.random() < 0.5:
            edited["applicant"]["whatsapp"] = _phone(self.rng)
        else:
            street = self.rng.choice(_STREETS)
            edited["address"]["alamat"] = f"{street} No. {self.rng.randint(1, 150)}"
            edited["address"]["rt"] = f"{self.rng.randint(1, 30):03d}"
        return edited


Step = tuple[EventKind, str, dict[str, Any]]


def life_of_an_application(maker: FamilyMaker) -> list[Step]:
    """One application's events at the counter, every one of them legal and applied."""
    rng = maker.rng
    roll = rng.random()
    if roll < 0.25:  # documents missing at first: marked incomplete, completed, submitted
        app = maker.application(documents=["f102", "kk_lama"])
        done = dict(app, attached_documents=_COMPLETE)
        return [
            (EventKind.APPLICATION_CREATED, app["id"], {"application": app}),
            (EventKind.MARKED_INCOMPLETE, app["id"],
             {"reasons": {"items": ["buku_nikah"], "text": ""}}),
            (EventKind.APPLICATION_EDITED, app["id"], {"application": done}),
            (EventKind.SUBMITTED, app["id"], {}),
        ]  # fmt: skip
    app = maker.application()
    steps: list[Step] = [(EventKind.APPLICATION_CREATED, app["id"], {"application": app})]
    edited = maker.edit(app)
    steps.append((EventKind.APPLICATION_EDITED, app["id"], {"application": edited}))
    if roll < 0.35:
        steps.append((EventKind.WITHDRAWN, app["id"], {"reasons": {"text": _WITHDRAW_TEXT}}))
    else:
        steps.append((EventKind.SUBMITTED, app["id"], {}))
    return steps


@dataclass
class Batch:
    body: bytes
    """Gzip-compressed JSON, as the counter sends it."""
    first_seq: int
    last_seq: int

    @property
    def size(self) -> int:
        return self.last_seq - self.first_seq + 1


@dataclass
class DeviceLog:
    counter: Counter
    batches: list[Batch]
    kinds: Tally[str]
    json_bytes: int

    @property
    def events(self) -> int:
        return sum(b.size for b in self.batches)

    def split(self) -> tuple[DeviceLog, DeviceLog]:
        """The first batch (to warm the server up, untimed) and the rest."""
        return (
            DeviceLog(self.counter, self.batches[:1], self.kinds, self.json_bytes),
            DeviceLog(self.counter, self.batches[1:], self.kinds, self.json_bytes),
        )


def build_log(
    counter: Counter, operator_id: str, kecamatan: Region, events: int, batch: int, seed: int
) -> DeviceLog:
    """The counter's signed log of ``events`` events, cut into encoded batches."""
    maker = FamilyMaker(kecamatan, random.Random(seed))
    wire: list[dict[str, Any]] = []
    previous_seq, previous_hash = 0, GENESIS_HASH
    kinds: Tally[str] = Tally()
    while len(wire) < events:
        for kind, app_id, body in life_of_an_application(maker)[: events - len(wire)]:
            event = build_event(
                key=counter.key,
                device_id=counter.device_id,
                operator_id=operator_id,
                previous_seq=previous_seq,
                previous_hash=previous_hash,
                kind=kind,
                application_id=app_id,
                body=body,
                at=datetime.now(UTC),
            )
            previous_seq, previous_hash = event.seq, event.hash()
            wire.append(event.to_wire())
            kinds[kind.value] += 1
    batches = [
        Batch(encode_events(wire[i : i + batch]), i + 1, min(i + batch, len(wire)))
        for i in range(0, len(wire), batch)
    ]
    size = sum(len(json.dumps(e)) for e in wire)
    return DeviceLog(counter, batches, kinds, size)


# -- set-up ---------------------------------------------------------------------------------


@dataclass
class Fleet:
    """The counters of one run, with their prepared logs."""

    baseline: DeviceLog | None
    devices: list[DeviceLog]


def prepare_data_dir(
    data_dir: Path, kecamatan: Sequence[Region], extra_sekayu: int
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """``kk-server init`` and, per kecamatan, enrollment codes and one operator account (the
    same service calls the CLI makes, in-process because scrypt for 16 accounts via 46 CLI runs
    would dominate a quick run)."""
    config = ServerConfig(data_dir=data_dir)
    init_data_dir(config)
    db = database(config)
    now = utc_now()
    codes: dict[str, list[str]] = {}
    for region in kecamatan:
        count = 1 + (extra_sekayu if region.code == "160601" else 0)
        codes[region.code] = [
            enrollment.issue_code(
                db, kecamatan=region.code, ttl=timedelta(hours=2), label=f"Loket {n + 1}", now=now
            ).code
            for n in range(count)
        ]

    def add(region: Region) -> tuple[str, str]:
        user = accounts.add_user(
            db,
            username=f"op{region.code}",
            full_name=f"Operator {region.name}",
            role="operator",
            kecamatan=region.code,
            password=OPERATOR_PASSWORD,
            now=now,
        )
        return region.code, user.user_id

    with ThreadPoolExecutor(max_workers=4) as pool:  # scrypt releases the GIL
        operators = dict(pool.map(add, kecamatan))
    return codes, operators


def enroll_fleet(
    server: ServerProcess, settings: Settings, *, events: int, with_baseline: bool
) -> Fleet:
    kecamatan = list(muba_kecamatan())[: settings.devices]
    codes, operators = prepare_data_dir(server.data_dir, kecamatan, int(with_baseline))
    server.start()
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        counters = {
            r.code: enroll(http, codes[r.code][0], label=f"Loket 1 {r.name}") for r in kecamatan
        }
        extra = enroll(http, codes["160601"][1], label="Loket 2 Sekayu") if with_baseline else None
    jobs: list[tuple[Counter, str, Region, int, int]] = [
        (counters[r.code], operators[r.code], r, events, settings.seed + i)
        for i, r in enumerate(kecamatan)
    ]
    if extra is not None:
        # One batch more: the first is pushed untimed, so lazy imports and caches of the
        # server (region tables...) are warm before the clock runs.
        jobs.append(
            (extra, operators["160601"], kecamatan[0], settings.baseline_events + settings.batch, 7)
        )
    logs = [build_log(c, op, r, n, settings.batch, seed) for c, op, r, n, seed in jobs]
    return Fleet(logs[-1] if extra else None, logs[: len(kecamatan)])


# -- pushing --------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used so far (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    name: str
    devices: int
    events: int
    seconds: float
    latencies: list[float]
    server_cpu: float
    client_cpu: float
    other_cpu: float
    """CPU seconds of every other process of the machine during the phase (disturbance)."""
    refused: int
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the push latencies, in seconds."""
        ordered = sorted(self.latencies)
        rank = max(1, -(-len(ordered) * p // 100))
        return ordered[int(rank) - 1]


def push_all(server: ServerProcess, name: str, logs: Sequence[DeviceLog]) -> Phase:
    """All ``logs`` concurrently, each counter's batches in order; timed from the first
    request to the last acknowledgement."""
    starts: list[float] = []
    ends: list[float] = []
    latencies: list[float] = []
    errors: list[str] = []
    refused = 0
    lock = threading.Lock()
    ready = threading.Barrier(len(logs) + 1)

    def counter_loop(log: DeviceLog) -> None:
        nonlocal refused
        with httpx.Client(base_url=server.base_url, timeout=120) as http:
            http.get("/api/v1/health")  # open the keep-alive connection before the clock runs
            ready.wait()
            for batch in log.batches:
                began = time.perf_counter()
                response = signed_push(http, log.counter, batch.body)
                ended = time.perf_counter()
                problem = _check_ack(response, batch)
                with lock:
                    starts.append(began)
                    ends.append(ended)
                    latencies.append(ended - began)
                    if problem:
                        errors.append(f"{log.counter.device_id} seq {batch.first_seq}: {problem}")
                    if response.status_code == 200:
                        refused += sum(r["status"] != "applied" for r in response.json()["results"])
                if problem and response.status_code != 200:
                    return

    threads = [threading.Thread(target=counter_loop, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
    ready.wait()
    assert server.pid is not None
    cpu_before, client_before = _cpu_seconds(server.pid), time.process_time()
    machine_before = _machine_busy_seconds()
    for thread in threads:
        thread.join()
    cpu_after, client_after = _cpu_seconds(server.pid), time.process_time()
    machine = _machine_busy_seconds() - machine_before
    return Phase(
        name=name,
        devices=len(logs),
        events=sum(log.events for log in logs),
        seconds=max(ends) - min(starts),
        latencies=latencies,
        server_cpu=cpu_after - cpu_before,
        client_cpu=client_after - client_before,
        other_cpu=max(machine - (cpu_after - cpu_before) - (client_after - client_before), 0.0),
        refused=refused,
        errors=errors,
    )


def _check_ack(response: httpx.Response, batch: Batch) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code} {response.text[:300]}"
    body = response.json()
    if body["acked_seq"] != batch.last_seq or len(body["results"]) != batch.size:
        return f"acked_seq {body['acked_seq']} for a batch ending at {batch.last_seq}"
    bad = [r for r in body["results"] if r["status"] != "applied"]
    if bad:
        return f"{len(bad)} refused, first: {bad[0]['code']} {bad[0]['message']}"
    return None


# -- the profiled run -----------------------------------------------------------------------

_IDLE = ("select.epoll", "'acquire' of '_thread", "time.sleep", "threading.py", "queue.py",
         "_lsprof")  # fmt: skip
"""cProfile entries that are waiting for work (event loop, idle workers) or the profiler's
own snapshot, not work."""


def profile_run(
    settings: Settings, work: Path, *, mode: str, devices: int, events: int
) -> dict[str, Any]:
    """All counters again against a server started under :mod:`benchmarks.profiled_server`;
    only the pushes after each counter's first batch are in the measured window."""
    out = work / f"profile-{mode}.json"
    server = ServerProcess(
        work / f"profiled-{mode}",
        log=work / f"profiled-{mode}.log",
        command=(sys.executable, str(PROFILER), str(out)),
        env={"KK_PROFILE_MODE": mode},
    )
    chosen = Settings(**{**settings.__dict__, "devices": devices})
    with server:
        fleet = enroll_fleet(server, chosen, events=events + settings.batch, with_baseline=False)
        logs = [log.split() for log in fleet.devices]
        push_all(server, "warm-up", [first for first, _ in logs])
        assert server.process is not None
        server.process.send_signal(signal.SIGUSR1)
        _wait_for(lambda: out.with_suffix(".started").exists(), "profiler start")
        phase = push_all(server, f"profiled ({mode})", [rest for _, rest in logs])
        server.process.send_signal(signal.SIGUSR2)
        _wait_for(out.exists, "profile")
        server.stop()
    data = json.loads(out.read_text())
    data["phase"] = phase
    return data


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for the {what}")
        time.sleep(0.01)


def stage_hint(data: dict[str, Any]) -> list[str]:
    """Server CPU per event by step of the push path, from the stage timers."""
    phase: Phase = data["phase"]
    cpu = data["process_cpu"] or 1e-9
    per_event = 1000 / phase.events
    pushes = max(len(phase.latencies), 1)

    def calls(n: int) -> str:
        return (
            f"{n / phase.events:.1f}/event" if n >= phase.events / 2 else f"{n / pushes:.1f}/push"
        )

    rows = [(f"{label} [{calls(v['calls'])}]", v["cpu"]) for label, v in data["stages"].items()]
    rows.append(
        ("rest, not timed: HTTP stack, routing, response encoding, logging, threads",
         max(cpu - data["top_level_cpu"], 0.0))
    )  # fmt: skip
    lines = [
        f"Where the server's time goes: {phase.devices} devices x "
        f"{phase.events // phase.devices:,} events with stage timers "
        f"({phase.rate:,.0f} events/s); server CPU {cpu * per_event:.2f} ms per event, "
        f"{cpu / data['wall_seconds']:.2f} of {os.cpu_count()} cores busy:",
    ]
    for label, seconds in sorted(rows, key=lambda r: -r[1]):
        if seconds / cpu >= 0.005:
            lines.append(f"  {100 * seconds / cpu:5.1f}%  {seconds * per_event:.3f} ms  {label}")
    sql = data.get("sqlite", {})
    if sql:
        commit = sum(v["seconds"] for k, v in sql.items() if k.startswith("COMMIT"))
        other = sum(v["seconds"] for k, v in sql.items() if not k.startswith("COMMIT"))
        statements_cpu = data["stages"].get("SQLite statements (CPU)", {}).get("cpu", 0.0)
        lines.append(
            f"  SQLite wall time per push of {phase.events // pushes}: COMMIT (fsync, "
            f"synchronous=FULL) {1000 * commit / pushes:.1f} ms, other statements "
            f"{1000 * other / pushes:.1f} ms for {1000 * statements_cpu / pushes:.1f} ms of CPU "
            "(the difference: waiting to get the GIL back after each statement)"
        )
    lock = data.get("write_lock")
    if lock and data["wall_seconds"]:
        lines.append(
            f"  writer lock held {100 * lock['held'] / data['wall_seconds']:.0f}% of the time, "
            f"{1000 * lock['held'] / pushes:.1f} ms per push"
        )
    if data.get("not_instrumented"):
        lines.append(f"  (not instrumented: {', '.join(data['not_instrumented'])})")
    return lines


def hottest_hint(data: dict[str, Any], count: int = 8) -> list[str]:
    """The functions with the most self time under cProfile (waiting excluded)."""
    busy = {k: s for k, s in data["functions"].items() if not any(w in k for w in _IDLE)}
    total = sum(busy.values()) or 1.0
    top = sorted(busy.items(), key=lambda kv: -kv[1])[:count]
    phase: Phase = data["phase"]
    return [
        f"  hottest functions (cProfile, 1 device x {phase.events:,} events, self time; "
        "cProfile inflates Python code against C):",
        "    " + "; ".join(f"{_short(k)} {100 * s / total:.0f}%" for k, s in top),
    ]


def _short(key: str) -> str:
    function = re.match(r"<function (\S+) at 0x", key)
    if function:
        return function.group(1).replace("_timed.<locals>.", "")
    match = re.match(r"(.*?):(\d+)\((.*)\)$", key)
    if match:
        path, _, func = match.groups()
        return f"{Path(path).name}:{func}"
    return key.replace("<built-in method ", "").replace("<method ", "").rstrip(">")[:60]


# -- report ---------------------------------------------------------------------------------


def _describe(phase: Phase) -> str:
    return (
        f"{phase.events:,} events in {phase.seconds:.2f} s = {phase.rate:,.0f} events/s; "
        f"push p50 {1000 * phase.percentile(50):.0f} ms, p99 {1000 * phase.percentile(99):.0f} ms"
        f" ({len(phase.latencies)} pushes); server CPU {1000 * phase.server_cpu / phase.events:.2f}"
        f" ms/event, {phase.server_cpu / phase.seconds:.2f} cores busy (client "
        f"{phase.client_cpu / phase.seconds:.2f}, other processes "
        f"{phase.other_cpu / phase.seconds:.2f})"
    )


def run(settings: Settings, work: Path) -> int:
    print(f"Ingest benchmark {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(
        f"  machine: {os.cpu_count()} CPU, load average {os.getloadavg()[0]:.2f}; "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{platform.system()} {platform.release()}"
    )
    server = ServerProcess(work / "server", log=work / "server.log")
    with server:
        began = time.monotonic()
        fleet = enroll_fleet(server, settings, events=settings.events, with_baseline=True)
        assert fleet.baseline is not None
        all_logs = [fleet.baseline, *fleet.devices]
        kinds = sum((log.kinds for log in all_logs), Tally())
        count = sum(kinds.values())
        body = sum(len(b.body) for log in all_logs for b in log.batches)
        batches = sum(len(log.batches) for log in all_logs)
        print(
            f"  workload: {len(fleet.devices)} devices x {settings.events:,} events + baseline "
            f"{settings.baseline_events:,}; batches of {settings.batch}; average event "
            f"{sum(log.json_bytes for log in all_logs) / count / 1024:.1f} KiB of JSON, "
            f"average push body {body / batches / 1024:.1f} KiB gzip"
        )
        print(
            "  event mix: "
            + ", ".join(
                f"{k.split('.')[-1]} {100 * n / count:.0f}%" for k, n in kinds.most_common()
            )
        )
        setup = time.monotonic() - began
        print(f"  set-up (not timed: init, enrollment, signing the logs): {setup:.1f} s")

        warm_up, timed = fleet.baseline.split()
        push_all(server, "warm-up", [warm_up])
        single = push_all(server, "1 device", [timed])
        many = push_all(server, f"{len(fleet.devices)} devices", fleet.devices)
        server.stop()
    print(f"  1 device  : {_describe(single)}")
    print(f"  {len(fleet.devices)} devices: {_describe(many)}")
    print(f"  total events: {single.events + many.events:,}")
    ratio = many.rate / single.rate if single.rate else 0.0
    print(f"  ratio {len(fleet.devices)} devices / 1 device: {ratio:.2f}")
    met = many.rate >= TARGET_EVENTS_PER_S
    print(
        f"  target >= {TARGET_EVENTS_PER_S:,} events/s with {len(fleet.devices)} devices: "
        + ("met" if met else "NOT met")
    )
    problems = single.errors + many.errors
    if single.refused or many.refused:
        problems.append(f"{single.refused + many.refused} events refused by the server")
    for problem in problems[:10]:
        print(f"  ERROR {problem}")
    if settings.profile == "always" or (settings.profile == "auto" and not met):
        stages = profile_run(
            settings, work, mode="stages", devices=settings.devices, events=settings.profile_events
        )
        hottest = profile_run(
            settings, work, mode="cprofile", devices=1, events=settings.cprofile_events
        )
        for line in [*stage_hint(stages), *hottest_hint(hottest)]:
            print(line)
    elif not met:
        print("  (profile skipped; run with --profile to see where the time goes)")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run of a few seconds")
    parser.add_argument("--devices", type=int, help="counters in the concurrent phase (<= 15)")
    parser.add_argument("--events", type=int, help="events per counter")
    parser.add_argument("--baseline-events", type=int, help="events of the 1-device baseline")
    parser.add_argument("--batch", type=int, help="events per push")
    parser.add_argument("--profile", action="store_true", help="always run the profiled pass")
    parser.add_argument("--no-profile", action="store_true", help="never run it")
    parser.add_argument(
        "--profile-events", type=int, help="events per counter of the stage-timer run"
    )
    parser.add_argument("--cprofile-events", type=int, help="events of the cProfile run")
    parser.add_argument("--keep", type=Path, help="keep data directories and logs here")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "devices": args.devices,
            "events": args.events,
            "baseline_events": args.baseline_events,
            "batch": args.batch,
            "profile_events": args.profile_events,
            "cprofile_events": args.cprofile_events,
        }.items()
        if v is not None
    }
    if args.profile:
        overrides["profile"] = "always"
    elif args.no_profile:
        overrides["profile"] = "never"
    settings = Settings(**{**settings.__dict__, **overrides})
    if not 1 <= settings.devices <= len(muba_kecamatan()):
        parser.error(f"--devices must be 1..{len(muba_kecamatan())}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(settings, args.keep)
    with tempfile.TemporaryDirectory(prefix="kk-bench-") as tmp:
        return run(settings, Path(tmp))


if __name__ == "__main__":
    sys.exit(main())
