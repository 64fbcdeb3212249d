"""The counter store on real SQLite files: actions, refusals, the signed outbox, crashes.

The log checks read the database with plain ``sqlite3``, not through the Store, so a bug in
the Store's own queries cannot hide a broken file.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter as Tally
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from field_client.actions import Counter
from field_client.errors import (
    ApplicationExists,
    ApplicationNotFound,
    ApplicationOutsideKecamatan,
    DeviceAlreadyEnrolled,
    DeviceKeyMismatch,
    DeviceNotEnrolled,
    OperatorNotPermitted,
    PushResultError,
    StoreError,
)
from field_client.schema import SCHEMA_VERSION
from field_client.store import Device, Operator, Store, SyncStatus
from protocol.application import Application
from protocol.canonical import canonical_json
from protocol.errors import IllegalTransition, ReasonRequired, ValidationError
from protocol.events import (
    GENESIS_HASH,
    ChangeEvent,
    EventKind,
    check_successor,
    reasons_from_body,
)
from protocol.workflow import Action, Reasons, Role, State, transition
from signing.events import verify_event
from signing.keys import generate_key, public_key_b64, save_private_key
from signing.passwords import hash_password
from tests.factories import CHILD_NIK, WIFE_NIK, application_dict, member_dict
from tests.integration.counter_crash_worker import OPERATOR_ID, Walk, WorkerStats, random_step

WORKER = Path(__file__).with_name("counter_crash_worker.py")
START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 08:00 WIB
PASSWORD = "rahasia-loket-1"
FAST_HASH = hash_password(PASSWORD, log2_n=10)  # the real cost (2**15) would slow every test
APP_ID = application_dict()["id"]
OTHER_ID = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


class Clock:
    """A device clock that moves one second per reading."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        moment = self.now
        self.now += timedelta(seconds=1)
        return moment


@dataclass
class Env:
    path: Path
    store: Store
    key: Ed25519PrivateKey
    counter: Counter


def operator(op_id: str = OPERATOR_ID, username: str = "operator.sekayu", **changes) -> Operator:
    fields = {
        "id": op_id,
        "username": username,
        "full_name": "Rina Operator",
        "kecamatan": "160601",
        "password_hash": FAST_HASH,
        "active": True,
        "updated_at": "2026-11-24T02:00:00.000Z",
        **changes,
    }
    return Operator(**fields)


def enroll(store: Store, key: Ed25519PrivateKey) -> None:
    store.record_enrollment(
        Device(
            device_id="dev-160601-a",
            kecamatan="160601",
            server_url="https://kk.example.invalid",
            server_public_key=public_key_b64(generate_key()),
            public_key=public_key_b64(key),
            enrolled_at="2026-11-24T02:00:00.000Z",
        )
    )
    store.upsert_operators([operator()])


@pytest.fixture
def env(tmp_path):
    key = generate_key()
    store = Store.open(tmp_path / "counter.db")
    enroll(store, key)
    yield Env(tmp_path / "counter.db", store, key, Counter(store, key, now=Clock()))
    store.close()


def app(**changes) -> Application:
    return Application.from_dict(application_dict(**changes))


def snapshot(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, read through a separate connection."""
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}
    finally:
        conn.close()


# -- an independent reader of the log ---------------------------------------------------


@dataclass
class LogCheck:
    events: int
    applications: int
    by_application: dict[str, list[ChangeEvent]]


def check_log(path: Path, public_key: Ed25519PublicKey) -> LogCheck:
    """Assert the file is sound and its outbox a contiguous, chained, signed log from seq 1
    whose columns agree with the signed wire form; every application has exactly one
    created event, first, and every event names a stored application."""
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute(
            "SELECT seq, hash, prev_hash, kind, application_id, operator_id, created_at, wire"
            " FROM outbox ORDER BY seq"
        ).fetchall()
        stored = {r[0] for r in conn.execute("SELECT id FROM applications")}
    finally:
        conn.close()
    previous_seq, previous_hash = 0, GENESIS_HASH
    by_app: dict[str, list[ChangeEvent]] = defaultdict(list)
    for seq, hash_, prev_hash, kind, app_id, op_id, created_at, wire in rows:
        event = ChangeEvent.from_wire(json.loads(wire))
        check_successor(previous_seq, previous_hash, event)
        previous_seq, previous_hash = event.seq, event.hash()
        verify_event(event, public_key)
        assert wire == canonical_json(event.to_wire()).decode()
        assert (seq, hash_, prev_hash, kind, app_id, op_id, created_at) == (
            event.seq,
            event.hash(),
            event.prev_hash,
            event.kind.value,
            event.application_id,
            event.operator_id,
            event.created_at,
        )
        by_app[app_id].append(event)
    assert set(by_app) == stored, "an application without events, or events without one"
    for events in by_app.values():
        kinds = [e.kind for e in events]
        assert kinds[0] is EventKind.APPLICATION_CREATED
        assert kinds.count(EventKind.APPLICATION_CREATED) == 1
    return LogCheck(len(rows), len(stored), dict(by_app))


def check_states_replay(path: Path, log: LogCheck) -> None:
    """Assert each stored application is exactly what its events say: the state replayed
    through the workflow, the data of the last created/edited event, the last seq."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT id, state, data, last_seq FROM applications").fetchall()
    finally:
        conn.close()
    for app_id, state, data, last_seq in rows:
        replayed, body = None, None
        for event in log.by_application[app_id]:
            reasons = None
            if event.kind in (EventKind.MARKED_INCOMPLETE, EventKind.WITHDRAWN):
                reasons = reasons_from_body(event.body)
            replayed = transition(replayed, event.action, Role.OPERATOR, reasons)
            if event.kind in (EventKind.APPLICATION_CREATED, EventKind.APPLICATION_EDITED):
                body = event.body["application"]
        assert state == replayed
        assert json.loads(data) == body
        assert last_seq == log.by_application[app_id][-1].seq


# -- the store file ---------------------------------------------------------------------


def test_store_file_is_wal_with_full_sync_busy_timeout_and_foreign_keys(env):
    pragma = {
        name: env.store.db.execute(f"PRAGMA {name}").fetchone()[0]
        for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
    }
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "busy_timeout": 5000,
        "foreign_keys": 1,
    }
    assert env.store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )


def test_a_database_from_a_newer_app_is_refused(tmp_path):
    Store.open(tmp_path / "c.db").close()
    conn = sqlite3.connect(tmp_path / "c.db")
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as caught:
        Store.open(tmp_path / "c.db")
    assert caught.value.code == "store.schema_too_new"
    assert "Perbarui aplikasi loket" in caught.value.message


def test_a_device_enrolls_once(env):
    with pytest.raises(DeviceAlreadyEnrolled) as caught:
        enroll(env.store, generate_key())
    assert "dev-160601-a" in caught.value.message
    assert env.store.device().public_key == public_key_b64(env.key)


def test_the_outbox_refuses_writes_that_would_break_the_chain(env):
    env.counter.create_application(app(), operator_id=OPERATOR_ID)
    env.counter.submit(APP_ID, operator_id=OPERATOR_ID)
    db = sqlite3.connect(env.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="chain head"):
            db.execute(
                "INSERT INTO outbox (seq, hash, prev_hash, kind, application_id, operator_id,"
                " created_at, wire) VALUES (5, 'h', ?, 'x', ?, 'o', 't', '{}')",
                [GENESIS_HASH, APP_ID],
            )
        with pytest.raises(sqlite3.IntegrityError, match="never change"):
            db.execute("UPDATE outbox SET wire = '{}' WHERE seq = 1")
        with pytest.raises(sqlite3.IntegrityError, match="kept"):
            db.execute("DELETE FROM outbox WHERE seq = 1")
        db.execute("UPDATE outbox SET status = 'applied' WHERE seq = 1")  # only sync status moves
        db.execute("DELETE FROM outbox WHERE seq = 1")  # synced and not the head: may be purged
        with pytest.raises(sqlite3.IntegrityError, match="kept"):
            db.execute("UPDATE outbox SET status = 'applied' WHERE seq = 2")
            db.execute("DELETE FROM outbox WHERE seq = 2")  # the head stays
        db.rollback()
    finally:
        db.close()


# -- actions ----------------------------------------------------------------------------


def assert_landed(env: Env, event: ChangeEvent, state: State, kind: EventKind) -> None:
    """The event is the outbox head and the application's state and last seq moved with it."""
    assert event.kind is kind
    assert env.store.chain_head() == (event.seq, event.hash())
    assert env.store.pending_events(limit=1000)[-1] == event
    stored = env.store.get_application(event.application_id)
    assert stored.state is state
    assert stored.last_seq == event.seq
    assert stored.updated_at == event.created_at
    verify_event(event, env.key.public_key())


def test_each_action_writes_its_state_and_its_event_together(env):
    c, op = env.counter, {"operator_id": OPERATOR_ID}
    draft = app(attached_documents=["f102", "kk_lama"])
    event = c.create_application(draft, **op)
    assert_landed(env, event, State.DRAFT, EventKind.APPLICATION_CREATED)
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)
    assert event.body == {"application": draft.to_dict()}
    assert event.operator_id == OPERATOR_ID and event.device_id == "dev-160601-a"
    assert event.created_at == "2026-11-25T01:00:00.000Z"

    reasons = Reasons(items=("buku_nikah",), text="Buku nikah belum dibawa")
    event = c.mark_incomplete(APP_ID, reasons, **op)
    assert_landed(env, event, State.INCOMPLETE, EventKind.MARKED_INCOMPLETE)
    assert event.body == {"reasons": {"items": ["buku_nikah"], "text": "Buku nikah belum dibawa"}}

    complete = app()
    event = c.edit_application(complete, **op)
    assert_landed(env, event, State.INCOMPLETE, EventKind.APPLICATION_EDITED)
    assert event.body == {"application": complete.to_dict()}
    assert env.store.get_application(APP_ID).application == complete

    event = c.submit(APP_ID, **op)
    assert_landed(env, event, State.SUBMITTED, EventKind.SUBMITTED)
    assert event.body == {}

    c.apply_server_state(APP_ID, State.RETURNED)  # the centre's decision, via the pull
    event = c.resubmit(APP_ID, **op)
    assert_landed(env, event, State.SUBMITTED, EventKind.RESUBMITTED)

    c.apply_server_state(APP_ID, State.SIGNED)
    event = c.issue(APP_ID, **op)
    assert_landed(env, event, State.ISSUED, EventKind.ISSUED)
    event = c.archive(APP_ID, **op)
    assert_landed(env, event, State.ARCHIVED, EventKind.ARCHIVED)

    c.create_application(app(id=OTHER_ID), **op)
    event = c.withdraw(OTHER_ID, Reasons(text="Pemohon pindah ke luar kabupaten"), **op)
    assert_landed(env, event, State.WITHDRAWN, EventKind.WITHDRAWN)
    assert event.body == {"reasons": {"items": [], "text": "Pemohon pindah ke luar kabupaten"}}

    assert [e.event.kind for e in env.store.history(APP_ID)] == [
        EventKind.APPLICATION_CREATED,
        EventKind.MARKED_INCOMPLETE,
        EventKind.APPLICATION_EDITED,
        EventKind.SUBMITTED,
        EventKind.RESUBMITTED,
        EventKind.ISSUED,
        EventKind.ARCHIVED,
    ]
    log = check_log(env.path, env.key.public_key())
    assert (log.events, log.applications) == (9, 2)


def test_server_state_changes_write_no_event(env):
    env.counter.create_application(app(), operator_id=OPERATOR_ID)
    head = env.store.chain_head()
    env.counter.apply_server_state(APP_ID, State.SUBMITTED)
    assert env.store.chain_head() == head
    assert env.store.application_state(APP_ID) is State.SUBMITTED
    assert env.store.get_application(APP_ID).last_seq == head.seq
    with pytest.raises(ApplicationNotFound):
        env.counter.apply_server_state(OTHER_ID, State.RETURNED)


def test_saving_an_unchanged_application_writes_nothing(env):
    env.counter.create_application(app(), operator_id=OPERATOR_ID)
    before = snapshot(env.path)
    assert env.counter.edit_application(app(), operator_id=OPERATOR_ID) is None
    assert snapshot(env.path) == before


def test_submit_judges_dates_by_the_office_day_not_utc(env):
    # 18:30 UTC on 24 November is 01:30 WIB on 25 November: a baby born that day is not
    # "born in the future".
    newborn = member_dict(2, nik="", nama="PUTRI AYU", jenis_kelamin=2, tanggal_lahir="2026-11-25")
    override = {
        "code": "member.nik_missing",
        "field": "members[2].nik",
        "reason": "Bayi baru lahir, NIK diterbitkan saat pencatatan",
    }
    baby = app(members=[member_dict(0), member_dict(1), newborn], overrides=[override])
    clock = Clock(datetime(2026, 11, 24, 18, 30, tzinfo=UTC))
    counter = Counter(env.store, env.key, now=clock)
    counter.create_application(baby, operator_id=OPERATOR_ID)
    assert counter.submit(APP_ID, operator_id=OPERATOR_ID).kind is EventKind.SUBMITTED


# Each refusal: (setup, action, expected error type, expected code).
def _create(env, **changes):
    env.counter.create_application(app(**changes), operator_id=OPERATOR_ID)


def _submitted(env):
    _create(env)
    env.counter.submit(APP_ID, operator_id=OPERATOR_ID)


OP = {"operator_id": OPERATOR_ID}
REFUSALS = {
    "issue_a_draft": (
        _create,
        lambda env: env.counter.issue(APP_ID, **OP),
        IllegalTransition,
        "workflow.illegal_transition",
    ),
    "archive_a_draft": (
        _create,
        lambda env: env.counter.archive(APP_ID, **OP),
        IllegalTransition,
        "workflow.illegal_transition",
    ),
    "resubmit_a_draft": (
        _create,
        lambda env: env.counter.resubmit(APP_ID, **OP),
        IllegalTransition,
        "workflow.illegal_transition",
    ),
    "edit_when_submitted": (
        _submitted,
        lambda env: env.counter.edit_application(
            app(applicant={**application_dict()["applicant"], "nama": "Siti Nurhaliza"}), **OP
        ),
        IllegalTransition,
        "workflow.illegal_transition",
    ),
    "withdraw_when_submitted": (
        _submitted,
        lambda env: env.counter.withdraw(APP_ID, Reasons(text="Pemohon membatalkan"), **OP),
        IllegalTransition,
        "workflow.illegal_transition",
    ),
    "submit_with_a_missing_document": (
        lambda env: _create(env, attached_documents=["f102", "kk_lama"]),
        lambda env: env.counter.submit(APP_ID, **OP),
        ValidationError,
        "requirement.missing",
    ),
    "duplicate_create": (
        _create,
        lambda env: env.counter.create_application(app(), **OP),
        ApplicationExists,
        "application.duplicate",
    ),
    "unknown_application": (
        _create,
        lambda env: env.counter.submit(OTHER_ID, **OP),
        ApplicationNotFound,
        "application.unknown",
    ),
    "incomplete_without_items": (
        _create,
        lambda env: env.counter.mark_incomplete(APP_ID, Reasons(text="Kurang berkas"), **OP),
        ReasonRequired,
        "workflow.reason_required",
    ),
    "incomplete_with_an_unknown_item": (
        _create,
        lambda env: env.counter.mark_incomplete(APP_ID, Reasons(items=("bukan_kode",)), **OP),
        ValidationError,
        "workflow.unknown_reason_item",
    ),
    "withdraw_without_a_reason": (
        _create,
        lambda env: env.counter.withdraw(APP_ID, Reasons(text="  ok "), **OP),
        ReasonRequired,
        "workflow.reason_required",
    ),
    "unknown_operator": (
        _create,
        lambda env: env.counter.submit(APP_ID, operator_id="op-nobody"),
        OperatorNotPermitted,
        "operator.not_registered",
    ),
    "disabled_operator": (
        lambda env: (_create(env), env.store.upsert_operators([operator(active=False)])),
        lambda env: env.counter.submit(APP_ID, **OP),
        OperatorNotPermitted,
        "operator.disabled",
    ),
    "operator_of_another_kecamatan": (
        lambda env: (_create(env), env.store.upsert_operators([operator(kecamatan="160602")])),
        lambda env: env.counter.submit(APP_ID, **OP),
        OperatorNotPermitted,
        "operator.wrong_kecamatan",
    ),
    "create_outside_the_kecamatan": (
        lambda env: None,
        lambda env: env.counter.create_application(
            app(address={**application_dict()["address"], "desa_code": "1606021001"}), **OP
        ),
        ApplicationOutsideKecamatan,
        "application.wrong_kecamatan",
    ),
    "edit_to_outside_the_kecamatan": (
        _create,
        lambda env: env.counter.edit_application(
            app(address={**application_dict()["address"], "desa_code": "1606021001"}), **OP
        ),
        ApplicationOutsideKecamatan,
        "application.wrong_kecamatan",
    ),
    "another_devices_key": (
        _create,
        lambda env: Counter(env.store, generate_key(), now=Clock()).submit(APP_ID, **OP),
        DeviceKeyMismatch,
        "device.key_mismatch",
    ),
    "an_id_that_is_not_a_uuid": (
        lambda env: None,
        lambda env: env.counter.create_application(app(id="permohonan-1"), **OP),
        ValidationError,
        "event.malformed",
    ),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refused_action_writes_nothing(env, name):
    setup, act, error, code = REFUSALS[name]
    setup(env)
    before = snapshot(env.path)
    with pytest.raises(error) as caught:
        act(env)
    assert caught.value.code == code
    assert caught.value.message  # Indonesian text for the operator
    assert snapshot(env.path) == before
    check_log(env.path, env.key.public_key())


def test_submit_lists_every_problem_at_once(env):
    bad = application_dict(attached_documents=["f102", "kk_lama"])
    bad["applicant"]["nama"] = "M. Yusuf"
    env.counter.create_application(Application.from_dict(bad), operator_id=OPERATOR_ID)
    with pytest.raises(ValidationError) as caught:
        env.counter.submit(APP_ID, operator_id=OPERATOR_ID)
    codes = {i.code for i in caught.value.issues}
    assert {"name.abbreviated", "requirement.missing"} <= codes


def test_actions_need_an_enrolled_device(tmp_path):
    with Store.open(tmp_path / "new.db") as store:
        store.upsert_operators([operator()])
        counter = Counter(store, generate_key(), now=Clock())
        before = snapshot(tmp_path / "new.db")
        with pytest.raises(DeviceNotEnrolled) as caught:
            counter.create_application(app(), operator_id=OPERATOR_ID)
        assert caught.value.code == "device.not_enrolled"
        assert "jaringan satu kali" in caught.value.message
        assert snapshot(tmp_path / "new.db") == before


def test_a_long_random_sequence_leaves_a_verifiable_chain(env):
    walk = Walk(random.Random(20261125))
    steps = [random_step(env.counter, env.store, walk, centre=True) for _ in range(700)]

    log = check_log(env.path, env.key.public_key())
    operator_ok = [s for s in steps if s.actor == "operator" and s.outcome == "ok"]
    assert log.events == len(operator_ok)
    # Replay the model (operator and centre steps in order) and compare with the store.
    expected: dict[str, State | None] = defaultdict(lambda: None)
    moves: dict[str, list[Action]] = defaultdict(list)
    for step in steps:
        if step.outcome != "ok":
            continue
        if step.actor == "centre":
            expected[step.application_id] = step.to_state
        else:
            expected[step.application_id] = transition(
                expected[step.application_id],
                step.action,
                Role.OPERATOR,
                Reasons(items=("buku_nikah",), text="alasan cukup panjang"),
            )
            moves[step.application_id].append(step.action)
    for app_id, state in expected.items():
        assert env.store.application_state(app_id) is state
        assert [e.action for e in log.by_application[app_id]] == moves[app_id]
    # The walk must have exercised every operator action and every kind of refusal.
    done = Tally(s.action for s in operator_ok)
    assert set(done) == {
        Action.CREATE,
        Action.EDIT,
        Action.MARK_INCOMPLETE,
        Action.SUBMIT,
        Action.RESUBMIT,
        Action.WITHDRAW,
        Action.ISSUE,
        Action.ARCHIVE,
    }, done
    refusals = Tally(s.outcome for s in steps if s.outcome not in ("ok", "noop"))
    assert {
        "workflow.illegal_transition",
        "workflow.reason_required",
        "workflow.unknown_reason_item",
        "application.duplicate",
        "application.unknown",
    } <= set(refusals), refusals
    assert refusals["requirement.missing"] + refusals["name.abbreviated"] > 0, refusals
    assert any(s.outcome == "noop" for s in steps)


# -- queries ----------------------------------------------------------------------------


def test_search_by_name_nik_and_kk_number_and_counts_per_state(env):
    c = env.counter
    first = application_dict()
    second = application_dict(id=OTHER_ID)
    second["applicant"] = {**second["applicant"], "nama": "Siti Nurhaliza"}
    second["members"] = [member_dict(1, nama="SITI NURHALIZA", shdk=1)]
    third_id = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"
    third = application_dict(id=third_id, kk_number="1606011502200003")
    third["applicant"] = {**third["applicant"], "nama": "Budi Santoso"}
    for data in (first, second, third):
        c.create_application(Application.from_dict(data), operator_id=OPERATOR_ID)
    c.submit(APP_ID, operator_id=OPERATOR_ID)

    def found(text, **kw):
        return {s.id for s in env.store.search_applications(text, **kw)}

    assert found("siti") == found("SITI NURHALIZA") == {OTHER_ID}
    assert found("rizki") == {APP_ID, third_id}  # a member's name
    assert found(CHILD_NIK) == {APP_ID, third_id}
    assert found(WIFE_NIK) == {APP_ID, OTHER_ID, third_id}
    assert found("1606 0161 0897") == {APP_ID, OTHER_ID, third_id}  # typed in groups
    assert found("1606011502200003") == {third_id}
    assert found("%") == found("_") == set()  # wildcards are literal
    assert found("") == {APP_ID, OTHER_ID, third_id}
    assert found("", state=State.DRAFT) == {OTHER_ID, third_id}
    assert found("fauzi", state=State.SUBMITTED) == {APP_ID}
    # Most recently changed first: the submitted one moved last.
    assert [s.id for s in env.store.search_applications()][0] == APP_ID
    assert len(env.store.search_applications(limit=2)) == 2
    summary = env.store.search_applications("budi")[0]
    assert (summary.applicant_name, summary.kk_number, summary.state) == (
        "Budi Santoso",
        "1606011502200003",
        State.DRAFT,
    )

    counts = env.store.count_by_state()
    assert counts[State.DRAFT] == 2 and counts[State.SUBMITTED] == 1
    assert sum(counts.values()) == 3 and set(counts) == set(State)


def test_offline_login(env):
    store = env.store
    assert store.authenticate("operator.sekayu", PASSWORD).id == OPERATOR_ID
    assert store.authenticate(" operator.sekayu ", PASSWORD).id == OPERATOR_ID
    assert store.authenticate("operator.sekayu", "salah-sandi") is None
    assert store.authenticate("tidak.ada", PASSWORD) is None
    assert "password_hash" not in repr(store.operator(OPERATOR_ID))

    store.upsert_operators([operator(active=False, updated_at="2026-11-25T00:00:00.000Z")])
    assert store.authenticate("operator.sekayu", PASSWORD) is None  # disabled centrally
    assert store.operator(OPERATOR_ID).updated_at == "2026-11-25T00:00:00.000Z"


def test_an_unknown_username_costs_a_full_password_check(env):
    # Real-cost hash for this one: an unknown user must take as long as a wrong password.
    env.store.upsert_operators([operator(password_hash=hash_password(PASSWORD))])
    started = time.perf_counter()
    assert env.store.authenticate("operator.sekayu", "salah-sandi") is None
    wrong_password = time.perf_counter() - started
    started = time.perf_counter()
    assert env.store.authenticate("tidak.ada", "salah-sandi") is None
    unknown_user = time.perf_counter() - started
    assert unknown_user > wrong_password / 3


def test_record_push_result(env):
    c, op = env.counter, {"operator_id": OPERATOR_ID}
    c.create_application(app(), **op)
    c.submit(APP_ID, **op)
    c.create_application(app(id=OTHER_ID), **op)
    refused = {
        "seq": 2,
        "status": "refused",
        "code": "device.not_owner",
        "message": "Permohonan sudah dipindahkan ke perangkat lain.",
    }
    env.store.record_push_result(2, [{"seq": 1, "status": "applied"}, refused])

    assert [e.seq for e in env.store.pending_events()] == [3]
    assert env.store.outbox_counts() == {
        SyncStatus.PENDING: 1,
        SyncStatus.APPLIED: 1,
        SyncStatus.REFUSED: 1,
    }
    entries = env.store.history(APP_ID)
    assert [(e.status, e.result_code) for e in entries] == [
        (SyncStatus.APPLIED, ""),
        (SyncStatus.REFUSED, "device.not_owner"),
    ]
    assert entries[1].result_message == refused["message"]
    assert env.store.server_acked_seq() == 2

    # The same answer again (a re-sent batch) changes nothing.
    before = snapshot(env.path)
    env.store.record_push_result(2, [refused])
    assert snapshot(env.path) == before

    bad_answers = [
        ("outbox.result_conflict", 3, {**refused, "status": "applied", "code": ""}),
        ("outbox.unknown_seq", 4, {"seq": 1, "status": "applied"}),  # server ahead of us
        ("outbox.bad_result", 2, {"seq": 3, "status": "applied"}),  # beyond acked_seq
        ("outbox.bad_result", 3, {"seq": 2, "status": "lost"}),
        ("outbox.bad_result", 3, {"seq": 2, "status": "refused", "code": ""}),
        ("outbox.bad_result", 3, {"seq": "2", "status": "applied"}),
    ]
    for code, acked, wrong in bad_answers:
        with pytest.raises(PushResultError) as caught:
            # A good result first: the whole answer must be refused, not half of it.
            env.store.record_push_result(acked, [{"seq": 3, "status": "applied"}, wrong])
        assert caught.value.code == code
        assert snapshot(env.path) == before


# -- crashes ----------------------------------------------------------------------------


@dataclass
class CrashSetup:
    db: Path
    key_path: Path
    key: Ed25519PrivateKey
    started: list[subprocess.Popen]

    def start_worker(self, seed: int, stats: Path) -> subprocess.Popen:
        """Start a worker and wait for its "ready" line, so the clock starts once it writes."""
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(self.db), str(self.key_path), str(seed), str(stats)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started.append(proc)
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        if line.strip() != "ready":
            os.kill(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            pytest.fail(f"worker did not start: {line!r} {err}")
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL, then assert the worker was running until then (not dead of an error)."""
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err


@pytest.fixture
def crash(tmp_path):
    key = generate_key()
    setup = CrashSetup(tmp_path / "counter.db", tmp_path / "device.key", key, [])
    save_private_key(key, setup.key_path)
    with Store.open(setup.db) as store:
        enroll(store, key)
    yield setup
    for proc in setup.started:  # a failed assertion must not leave a worker running
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate()


def test_sigkill_at_random_moments_never_breaks_the_store(crash, tmp_path):
    db, key = crash.db, crash.key
    rng = random.Random(7_2026)
    kills, where, landed_unreported = 20, Tally(), 0
    events_before = 0
    started = time.monotonic()
    for run in range(kills):
        stats = tmp_path / f"stats-{run}"
        WorkerStats.create(stats)
        proc = crash.start_worker(seed=1000 + run, stats=stats)
        time.sleep(rng.uniform(0.05, 0.4))
        crash.kill(proc)

        position, committed, refused = WorkerStats.read(stats)
        where[position] += 1
        log = check_log(db, key.public_key())
        check_states_replay(db, log)
        # Every action the worker saw commit is in the log; at most one more (killed after
        # COMMIT reached the disk but before the worker counted it).
        assert committed <= log.events - events_before <= committed + 1
        assert committed + refused > 0, "the worker was killed before doing anything"
        landed_unreported += log.events - events_before - committed
        events_before = log.events
    elapsed = time.monotonic() - started

    # Later runs continued the same log, and a normal open goes on from where it stopped.
    with Store.open(db) as store:
        counter = Counter(store, key)
        counter.create_application(app(id=OTHER_ID), operator_id=OPERATOR_ID)
    final = check_log(db, key.public_key())
    check_states_replay(db, final)
    assert final.events == events_before + 1
    assert final.events > 200
    # The kills must hit writes in progress, not only idle moments between them.
    assert where[WorkerStats.IN_TRANSACTION] + where[WorkerStats.COMMITTING] >= kills // 4, where
    print(
        f"\n{kills} kills, {final.events} events, {final.applications} applications,"
        f" {elapsed:.1f} s; killed idle/in transaction/committing: "
        f"{where[0]}/{where[1]}/{where[2]}; commits on disk the worker had not yet reported: "
        f"{landed_unreported}"
    )


def test_two_processes_on_one_store_keep_one_chain(crash, tmp_path):
    db, key = crash.db, crash.key
    stats = [tmp_path / "stats-a", tmp_path / "stats-b"]
    for path in stats:
        WorkerStats.create(path)
    procs = [crash.start_worker(seed, path) for seed, path in zip((1, 2), stats, strict=True)]
    # Run until each has committed 25 more actions since both were up, so they really
    # wrote side by side (SQLite's lock is not fair: a fixed sleep can starve one of them).
    baseline = [WorkerStats.read(path)[1] for path in stats]
    deadline = time.monotonic() + 20
    while any(WorkerStats.read(p)[1] - b < 25 for p, b in zip(stats, baseline, strict=True)):
        assert all(proc.poll() is None for proc in procs), "a worker died"
        assert time.monotonic() < deadline, [WorkerStats.read(p) for p in stats]
        time.sleep(0.01)
    for proc in procs:
        crash.kill(proc)
    log = check_log(db, key.public_key())
    check_states_replay(db, log)
    committed = [WorkerStats.read(path)[1] for path in stats]
    assert sum(committed) <= log.events <= sum(committed) + 2
