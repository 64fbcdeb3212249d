"""The counter's sync engine against a REAL server (uvicorn on loopback) through the
faulty-link proxy: real SQLite files on both sides, real keys, real TCP. Nothing of ours is
mocked; faults come from the proxy (seeded), time limits keep every test bounded.

What must hold whatever the link does: every event of the outbox ends up stored on the
server exactly once, in one verifiable chain, and nothing is deleted on the counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from field_client.actions import Counter
from field_client.config import CounterConfig
from field_client.store import Device, Operator, Store
from field_client.store import SyncStatus as EventStatus
from field_client.sync import SyncEngine, SyncStatus, enroll_device
from protocol.errors import message_for
from protocol.events import GENESIS_HASH, ChangeEvent, check_successor
from signing.events import verify_event
from signing.keys import load_private_key, load_public_key_b64
from signing.passwords import hash_password
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.context import init_data_dir
from sync_server.services.decisions import record_decision
from sync_server.services.enrollment import revoke_device
from tests.factories import application_dict
from tests.integration.conftest import (
    OPERATOR_PASSWORD,
    SEKAYU,
    RunningServer,
    add_operator,
    issue_code,
    start_server,
    table_count,
)
from tests.support.faulty_link import FaultyLink

KK_COUNTER = Path(sys.executable).parent / "kk-counter"
FAST_HASH = hash_password(OPERATOR_PASSWORD, log2_n=10)  # the real cost would slow every test
SERVER_MAX_EVENTS = 50
"""The server's batch limit in this module: low enough to test the engine's answer to 413."""


@pytest.fixture
def server_config(tmp_path) -> ServerConfig:
    config = ServerConfig(data_dir=tmp_path / "server", max_events_per_batch=SERVER_MAX_EVENTS)
    init_data_dir(config)
    return config


@dataclass
class Site:
    """One kecamatan counter, enrolled, linked to the server through a faulty link."""

    server: RunningServer
    link: FaultyLink
    config: CounterConfig
    store: Store
    """The operator's own connection (the engine opens another, on its thread)."""
    key: Ed25519PrivateKey
    device: Device
    operator_id: str
    rng: random.Random

    def counter(self, now: Callable[[], datetime] | None = None) -> Counter:
        return Counter(self.store, self.key, **({"now": now} if now else {}))

    def create(self, n: int, *, operator_id: str | None = None) -> list[ChangeEvent]:
        """``n`` new applications, one event each, written as the counter app writes them."""
        counter = self.counter()
        events = []
        for _ in range(n):
            app_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            app = application_dict(id=app_id)
            events.append(
                counter.create_application(
                    _application(app), operator_id=operator_id or self.operator_id
                )
            )
        return events

    def engine(self, **settings: object) -> SyncEngine:
        """An engine for this counter with a seeded RNG; ``clock`` and ``sleep`` are passed
        to the engine, any other keyword overrides a setting."""
        injected = {k: settings.pop(k) for k in ("clock", "sleep") if k in settings}
        config = self.config.model_copy(update=settings)
        return SyncEngine(config, rng=random.Random(1), **injected)

    def outbox(self) -> list[tuple[int, str, str]]:
        rows = self.store.db.execute("SELECT seq, status, result_code FROM outbox ORDER BY seq")
        return [tuple(r) for r in rows.fetchall()]


def _application(data: dict):
    from protocol.application import Application

    return Application.from_dict(data)


def local_operator(op_id: str, username: str) -> Operator:
    return Operator(
        id=op_id,
        username=username,
        full_name="Budi Santoso",
        kecamatan=SEKAYU,
        password_hash=FAST_HASH,
        active=True,
        updated_at="2026-11-24T02:00:00.000Z",
    )


@pytest.fixture
async def site(server, tmp_path) -> AsyncIterator[Site]:
    host, port = server.base_url.removeprefix("http://").split(":")
    link = FaultyLink(host, int(port), seed=20261125).start()
    config = CounterConfig(
        data_dir=tmp_path / "counter",
        connect_timeout_s=3,
        read_timeout_s=10,
        write_timeout_s=10,
        request_deadline_s=20,
        backoff_base_s=0.02,
        backoff_cap_s=0.2,
        poll_interval_s=60,
        trust_env=False,
    )
    operator_id = add_operator(server)
    done = await enroll_device(config, server_url=link.url, code=issue_code(server))
    store = Store.open(config.db_path)
    # The operator account as the counter gets it from the server; seeded directly so push
    # is tested on its own (the pull test checks the real path).
    store.upsert_operators([local_operator(operator_id, "budi")])
    yield Site(
        server,
        link,
        config,
        store,
        load_private_key(config.key_path),
        done.device,
        operator_id,
        random.Random(42),
    )
    store.close()
    link.stop()


async def until(
    engine: SyncEngine, predicate: Callable[[SyncStatus], bool], timeout: float = 20
) -> SyncStatus:
    async with asyncio.timeout(timeout), contextlib.aclosing(engine.watch()) as statuses:
        async for status in statuses:
            if predicate(status):
                return status
    raise AssertionError("unreachable")


def settled(status: SyncStatus) -> bool:
    return (
        not status.syncing
        and status.last_error is None
        and status.last_success_at is not None
        and status.pending_events == 0
    )


def server_log(server: RunningServer, device: Device) -> list[dict]:
    with server.db.read() as conn:
        rows = conn.execute(
            "SELECT seq, hash, wire, status, code FROM events WHERE device_id = ? ORDER BY seq",
            (device.device_id,),
        ).fetchall()
    return [dict(r) for r in rows]


def assert_server_holds_exactly(server: RunningServer, device: Device, n: int) -> None:
    """Seqs 1..n, each once, one chain from genesis, every signature the device's."""
    rows = server_log(server, device)
    assert [r["seq"] for r in rows] == list(range(1, n + 1))
    key = load_public_key_b64(device.public_key)
    previous_seq, previous_hash = 0, GENESIS_HASH
    for row in rows:
        event = ChangeEvent.from_wire(json.loads(row["wire"]))
        verify_event(event, key)
        check_successor(previous_seq, previous_hash, event)
        assert event.hash() == row["hash"]
        previous_seq, previous_hash = event.seq, event.hash()


def refusal_codes(server: RunningServer) -> list[str]:
    with server.db.read() as conn:
        return [r[0] for r in conn.execute("SELECT code FROM refusals ORDER BY id")]


# -- push through a bad link ----------------------------------------------------------------


async def test_a_link_that_cuts_and_loses_answers_still_stores_each_event_once(site):
    site.create(120)
    site.link.set_profile(cut_probability=0.2, cut_after_request_probability=0.5)

    async with site.engine(push_max_events=30) as engine:
        engine.start()
        status = await until(engine, settled, timeout=30)

    assert site.link.stats.cuts > 0  # the link really failed, in both ways
    assert_server_holds_exactly(site.server, site.device, 120)
    assert {r["status"] for r in server_log(site.server, site.device)} == {"applied"}
    assert site.outbox() == [(seq, "applied", "") for seq in range(1, 121)]
    assert site.store.server_acked_seq() == 120
    # Answers were lost after the server stored a batch: the engine sent those again, and
    # the server (idempotent) answered them as before, never as a replay or a fork.
    assert table_count(site.server, "request_nonces") > 120 // 30
    assert not {"request.replayed", "event.forked"} & set(refusal_codes(site.server))
    assert status.online and status.pending_bytes == 0 and status.refused_events == 0


async def test_offline_then_online_flips_the_status_and_sends_everything(site):
    site.link.set_profile(offline=True)
    site.create(5)
    seen: list[SyncStatus] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # records the backoff, waits only briefly
        waits.append(seconds)
        await asyncio.sleep(min(seconds, 0.01))

    async with site.engine(sleep=sleep, backoff_base_s=2.0, backoff_cap_s=300.0) as engine:
        engine.subscribe(seen.append)
        status = await engine.run_once()  # never raises, whatever the link

        assert not status.online
        assert status.last_error_code == "sync.offline"
        assert status.last_error == (
            "Tidak ada jaringan ke server pusat; data tetap tersimpan di loket dan akan "
            "dikirim otomatis."
        )
        assert status.pending_events == 5 and status.pending_bytes > 5 * 1000
        assert status.last_success_at is None

        engine.start()
        await until(engine, lambda s: engine.failures >= 8)  # backing off, still offline
        site.link.set_profile(offline=False)
        status = await until(engine, settled)
        backoff = list(waits)

        # Offline again: the backoff starts over from its base after the success.
        site.link.set_profile(offline=True)
        waits.clear()
        engine.wake()
        await until(engine, lambda s: not s.online and s.next_attempt_at is not None)

    assert status.online and status.last_error is None and status.last_error_code is None
    online_at = next(i for i, s in enumerate(seen) if s.online)
    assert not seen[online_at - 1].online  # it flipped, offline -> online
    assert all(not s.online for s in seen[:online_at])
    assert_server_holds_exactly(site.server, site.device, 5)
    # Full jitter from the seeded RNG: after the n-th failure in a row, uniform in
    # [0, min(cap, base * 2**(n-1))]. The first failure was the run_once above.
    backoff = [w for w in backoff if w != site.config.poll_interval_s]
    expected = random.Random(1)
    assert backoff == [
        expected.uniform(0, min(300.0, 2.0 * 2 ** (n - 1))) for n in range(2, len(backoff) + 2)
    ]
    assert len(backoff) >= 7 and max(backoff) > 2.0 * 2**4  # it grew, up to the cap
    assert [w for w in waits if w != site.config.poll_interval_s][0] <= 2.0


async def test_a_new_event_wakes_the_engine_at_once(site):
    async with site.engine(poll_interval_s=600) as engine:
        engine.start()
        await until(engine, settled)
        site.create(1)
        started = time.monotonic()
        engine.wake()  # what the app does after an operator action
        await until(engine, lambda s: settled(s) and site.store.server_acked_seq() == 1)
    assert time.monotonic() - started < 5  # not the 10-minute poll
    assert_server_holds_exactly(site.server, site.device, 1)


async def test_a_2g_link_is_slow_but_gets_there_compressed(site):
    site.create(25)
    stored = site.store.db.execute("SELECT SUM(length(CAST(wire AS BLOB))) FROM outbox")
    json_bytes = stored.fetchone()[0]
    site.link.set_profile(rate_bytes_per_s=8_000, latency_s=0.05)  # 64 kbit/s
    async with site.engine() as engine:
        started = time.monotonic()
        status = await engine.run_once()
        elapsed = time.monotonic() - started

    assert settled(status), status
    assert_server_holds_exactly(site.server, site.device, 25)
    sent = site.link.stats.bytes_up
    assert sent < json_bytes / 3  # gzip: signed events compress several times
    assert elapsed >= 0.8 * sent / 8_000  # the link's rate was really the limit


async def test_a_batch_too_large_for_the_server_is_split(site):
    site.create(SERVER_MAX_EVENTS + 20)
    async with site.engine(push_max_events=SERVER_MAX_EVENTS * 2) as engine:
        status = await engine.run_once()
    assert settled(status), status
    assert_server_holds_exactly(site.server, site.device, SERVER_MAX_EVENTS + 20)
    assert "push.too_many_events" in refusal_codes(site.server)


# -- answers of the server ------------------------------------------------------------------


async def test_a_clock_two_hours_fast_is_corrected_from_the_server_time(site):
    def fast() -> datetime:
        return datetime.now(UTC) + timedelta(hours=2)

    site.create(3)
    async with site.engine(clock=fast) as engine:
        status = await engine.run_once()
        assert settled(status), status
        offset = engine.clock_offset.total_seconds()
        assert -2 * 3600 - 5 < offset < -2 * 3600 + 5
        site.create(2)
        status = await engine.run_once()
        assert settled(status), status

    assert_server_holds_exactly(site.server, site.device, 5)
    # One refusal taught the offset; later requests were signed with it.
    assert refusal_codes(site.server) == ["request.clock_skew"]


async def test_a_revoked_device_stops_syncing_and_says_so(site):
    site.create(2)
    async with site.engine() as engine:
        assert settled(await engine.run_once())
        revoke_device(site.server.db, site.device.device_id, now=utc_now())
        site.create(1)

        task = engine.start()
        await asyncio.wait_for(task, 10)  # the background task ends by itself

        status = engine.status
        assert status.device_revoked
        assert status.last_error_code == "device.revoked"
        assert "dicabut oleh admin Dinas" in status.last_error
        assert "Sinkronisasi loket ini dihentikan" in status.last_error
        assert status.pending_events == 1  # kept on the counter, never deleted
        connections = site.link.stats.connections
        assert (await engine.run_once()).device_revoked
        assert site.link.stats.connections == connections  # no more requests
    assert site.outbox()[-1] == (3, "pending", "")


async def test_refusals_of_single_events_reach_the_outbox(site):
    # An operator the counter knows but the server does not (e.g. removed centrally).
    site.store.upsert_operators([local_operator("usr-unknown-1", "siti")])
    site.create(2)
    refused = site.create(1, operator_id="usr-unknown-1")[0]

    async with site.engine() as engine:
        status = await engine.run_once()

    assert settled(status), status  # a refused event is an answer, not a sync failure
    assert status.refused_events == 1
    entry = site.store.history(refused.application_id)[0]
    assert entry.status is EventStatus.REFUSED
    assert entry.result_code == "operator.not_registered"
    assert entry.result_message == message_for(
        "operator.not_registered", operator_id="usr-unknown-1"
    )
    assert site.outbox()[:2] == [(1, "applied", ""), (2, "applied", "")]
    assert_server_holds_exactly(site.server, site.device, 3)


async def test_a_server_restored_from_backup_gets_the_lost_events_again(site, server):
    site.create(5)
    async with site.engine(push_max_events=4) as engine:
        assert settled(await engine.run_once())
        backup = site.server.config.data_dir / "backup.db"
        live, copy = sqlite3.connect(site.server.config.db_path), sqlite3.connect(backup)
        live.backup(copy)
        live.close()
        copy.close()
        site.create(5)
        assert settled(await engine.run_once())
        assert site.store.server_acked_seq() == 10

        # The server dies and comes back from the backup: it lost events 6..10.
        server.stop()
        data = server.config.data_dir
        for suffix in ("-wal", "-shm"):
            Path(f"{server.config.db_path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, data / "server.db")
        restored = start_server(server.config)
        try:
            site.link.upstream_port = int(restored.base_url.rsplit(":", 1)[1])
            site.create(3)
            status = await engine.run_once()
            assert settled(status), status
            assert_server_holds_exactly(restored, site.device, 13)
            assert "event.seq_gap" in refusal_codes(restored)
        finally:
            restored.stop()
    assert site.outbox() == [(seq, "applied", "") for seq in range(1, 14)]


# -- problems on the counter itself ----------------------------------------------------------


async def test_a_missing_key_file_is_reported_not_raised(site):
    site.create(1)
    site.config.key_path.unlink()
    async with site.engine() as engine:
        status = await engine.run_once()
    assert status.last_error_code == "key.file_missing"
    assert status.pending_events == 1 and not status.device_revoked


async def test_a_counter_that_never_enrolled_is_told_so_and_no_file_appears(tmp_path):
    config = CounterConfig(data_dir=tmp_path / "kosong")
    async with SyncEngine(config) as engine:
        status = await engine.run_once()
    assert status.last_error_code == "device.not_enrolled"
    assert status.last_error == message_for("device.not_enrolled")
    assert not config.db_path.exists()


async def test_an_unexpected_failure_is_logged_and_reported_never_raised(tmp_path, caplog):
    config = CounterConfig(data_dir=tmp_path / "rusak")
    config.data_dir.mkdir()
    config.db_path.write_bytes(b"this is not a SQLite database" * 100)
    async with SyncEngine(config) as engine:
        with caplog.at_level(logging.ERROR, logger="field_client.sync"):
            status = await engine.run_once()
    assert status.last_error_code == "sync.internal_error"
    assert "Laporkan ke admin" in status.last_error
    assert any(r.exc_info for r in caplog.records)  # the traceback is in the log


# -- the command line ------------------------------------------------------------------------


async def test_kk_counter_sync_once_sends_the_outbox(site):
    # Blocking subprocess calls are fine here: server and link run on their own threads.
    site.create(2)
    result = subprocess.run(
        [str(KK_COUNTER), "sync", "--once", "--data-dir", str(site.config.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_PROXY": "127.0.0.1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Terhubung ke server pusat; 0 catatan menunggu dikirim." in result.stdout
    assert_server_holds_exactly(site.server, site.device, 2)

    site.link.set_profile(offline=True)
    site.create(1)
    result = subprocess.run(
        [str(KK_COUNTER), "sync", "--once", "--data-dir", str(site.config.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "1 catatan menunggu dikirim" in result.stdout
    assert "(sync.offline)" in result.stdout


# -- pull -----------------------------------------------------------------------------------


async def test_pull_lets_operators_log_in_and_brings_central_decisions(site, tmp_path):
    # A second counter of the kecamatan, enrolled but given nothing by hand: its operator
    # accounts must come from the server's feed.
    config = site.config.model_copy(update={"data_dir": tmp_path / "loket-2"})
    await enroll_device(config, server_url=site.link.url, code=issue_code(site.server))
    site.link.set_profile(cut_after_request_probability=0.3)  # lost answers: pull again
    async with SyncEngine(config, rng=random.Random(3)) as engine:
        engine.start()
        await until(engine, settled)

        with Store.open(config.db_path) as store:
            operator = store.authenticate("budi", OPERATOR_PASSWORD)
            assert operator is not None and operator.id == site.operator_id
            counter = Counter(store, load_private_key(config.key_path))
            app = _application(application_dict(id=str(uuid.UUID(int=7, version=4))))
            counter.create_application(app, operator_id=operator.id)
            counter.submit(app.id, operator_id=operator.id)
            engine.wake()
            await until(engine, lambda s: settled(s) and store.server_acked_seq() == 2)

            verifier = add_operator(
                site.server, "vera", kecamatan=None, role="verifikator", full_name="Vera Dinas"
            )
            decision = record_decision(
                site.server.db,
                application_id=app.id,
                action="verify",
                role="verifikator",
                actor_id=verifier,
                actor_name="Vera Dinas",
                reasons=None,
                now=utc_now(),
            )
            cursor = store.pull_cursor()
            engine.wake()
            await until(engine, lambda s: settled(s) and store.pull_cursor() > cursor)

            assert store.application_state(app.id) is decision.to_state
            (seen,) = store.decisions(app.id)
            assert seen.actor_name == "Vera Dinas" and seen.action == "verify"


async def test_a_forged_server_event_is_refused_and_nothing_is_applied(site):
    async with site.engine() as engine:
        assert settled(await engine.run_once())
        cursor = site.store.pull_cursor()
        add_operator(site.server, "rudi", full_name="Rudi Hartono")
        # Someone with write access to the server's database (not its key) edits the feed.
        with site.server.db.write() as conn:
            row = conn.execute(
                "SELECT cursor, wire FROM feed WHERE audience = ? ORDER BY cursor DESC LIMIT 1",
                (site.device.device_id,),
            ).fetchone()
            wire = json.loads(row["wire"])
            wire["body"]["full_name"] = "Penyusup"  # well formed, but no longer signed
            conn.execute(
                "UPDATE feed SET wire = ? WHERE cursor = ?", (json.dumps(wire), row["cursor"])
            )

        status = await engine.run_once()

    assert status.last_error_code == "signature.server_invalid"
    assert status.online  # the server answered; its answer was refused
    assert site.store.pull_cursor() == cursor
    assert site.store.authenticate("rudi", OPERATOR_PASSWORD) is None
