"""KK number allocation (design.md §1): the demo allocator's numbers are unique when many
threads and processes allocate at once from one database file, skip numbers SIAK or an
earlier KK already took, and are never handed out twice; the SIAK allocator refuses to
invent a number staff have not entered.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sync_server.errors import Refusal
from sync_server.services.kk_numbers import DemoAllocator, SiakAllocator
from sync_server.storage import kk_registry
from sync_server.storage.db import Database
from tests.integration.kk_number_worker import KECAMATAN, MOMENT, allocate

WORKER = Path(__file__).with_name("kk_number_worker.py")
ROOT = Path(__file__).resolve().parents[2]
PREFIX = KECAMATAN + "251126"


@pytest.fixture
def db(tmp_path) -> Database:
    database = Database(tmp_path / "server.db", busy_timeout_ms=60_000)
    database.migrate()
    return database


def registry(db: Database) -> dict[str, str]:
    with db.read() as conn:
        rows = conn.execute("SELECT kk_number, first_application_id FROM kk_numbers").fetchall()
    return {r[0]: r[1] for r in rows}


def test_many_processes_and_threads_allocate_unique_numbers(db):
    processes, threads, each = 3, 3, 25
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(db.path), str(each), f"proc{n}"],
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        for n in range(processes)
    ]
    in_process: dict[str, list[str]] = {}

    def run(name: str) -> None:
        in_process[name] = allocate(db, each, name)

    pool = [threading.Thread(target=run, args=(f"thread{n}",)) for n in range(threads)]
    for t in pool:
        t.start()
    from_processes = []
    for proc in workers:
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        from_processes.extend(json.loads(out))
    for t in pool:
        t.join(timeout=300)
    numbers = from_processes + [n for found in in_process.values() for n in found]

    total = (processes + threads) * each
    assert len(numbers) == total
    assert len(set(numbers)) == total  # unique
    assert all(len(n) == 16 and n.startswith(PREFIX) for n in numbers)
    # serials 0001..total: none skipped, none doubled
    assert sorted(int(n[-4:]) for n in numbers) == list(range(1, total + 1))
    assert set(registry(db)) == set(numbers)


def test_numbers_taken_elsewhere_are_skipped_and_none_is_reused(db):
    with db.write() as conn:  # SIAK issued serial 0002 of today in Sekayu before us
        kk_registry.register_number(
            conn,
            kk_number=PREFIX + "0002",
            kecamatan=KECAMATAN,
            source="siak",
            application_id="earlier",
            at="2026-11-25T01:00:00.000Z",
        )
    first = allocate(db, 3, "a")
    assert first == [PREFIX + "0001", PREFIX + "0003", PREFIX + "0004"]
    # a number once allocated stays in the registry; the next never repeats it
    with db.write() as conn:
        conn.execute("DELETE FROM kk_serials")  # even if the counter were lost
    again = allocate(db, 2, "b")
    assert again == [PREFIX + "0005", PREFIX + "0006"]
    assert registry(db)[PREFIX + "0001"] == "a-0"


def test_the_serial_runs_out_at_9999_with_a_clear_refusal(db):
    with db.write() as conn:
        conn.execute(
            "INSERT INTO kk_serials (kecamatan, day, last_serial) VALUES (?, ?, 9999)",
            (KECAMATAN, "251126"),
        )
    with pytest.raises(Refusal) as caught, db.write() as conn:
        DemoAllocator().new_number(conn, application_id="x", kecamatan=KECAMATAN, now=MOMENT)
    assert caught.value.code == "kk_number.exhausted"
    assert caught.value.status == 503
    assert registry(db) == {}


def test_the_siak_allocator_never_invents_a_number(db):
    with pytest.raises(Refusal) as caught, db.write() as conn:
        SiakAllocator().new_number(conn, application_id="x", kecamatan=KECAMATAN, now=MOMENT)
    assert caught.value.code == "kk_number.siak_missing"
    assert registry(db) == {}
