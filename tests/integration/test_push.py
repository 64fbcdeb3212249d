"""POST /api/v1/sync/push against a real server: signed requests, batch checks, atomicity,
idempotence, and the server's authority over each event."""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from protocol.events import EventKind
from signing.events import sign_event
from signing.keys import generate_key
from signing.requests import sign_request
from sync_server.clock import utc_now
from sync_server.services import accounts, enrollment
from tests.factories import application_dict
from tests.integration.conftest import (
    LAIS,
    PUSH_PATH,
    SEKAYU,
    DeviceLog,
    EnrolledDevice,
    add_operator,
    encode_push,
    enroll_device,
    push,
    signed_post,
    start_server,
    stored_events,
    table_count,
)
from tests.support.http import problem

LAIS_DESA = "1606022001"
NOT_READY_DOCS: list[str] = ["f102"]  # no buku nikah nor old KK: the checklist is not met


@pytest.fixture
def device(server, client) -> EnrolledDevice:
    return enroll_device(server, client)


@pytest.fixture
def operator(server) -> str:
    return add_operator(server)


@pytest.fixture
def log(device, operator) -> DeviceLog:
    return DeviceLog(device, operator)


def _error(response, status: int, code: str) -> dict:
    return problem(response, status, code)


def _app_row(server, app_id: str) -> dict | None:
    with server.db.read() as conn:
        row = conn.execute(
            "SELECT state, owner_device_id, snapshot FROM applications WHERE application_id = ?",
            (app_id,),
        ).fetchone()
    return dict(row) if row else None


def _nothing_stored(server, device: EnrolledDevice, *, up_to: int = 0) -> None:
    """Assert that the device's log on the server ends at ``up_to`` and no application or
    trail entry exists beyond what that log made."""
    assert [e["seq"] for e in stored_events(server, device.device_id)] == list(range(1, up_to + 1))
    if up_to == 0:
        assert table_count(server, "applications") == 0
        assert table_count(server, "application_events") == 0


def _refusal_codes(server) -> list[str]:
    with server.db.read() as conn:
        return [r[0] for r in conn.execute("SELECT code FROM refusals ORDER BY id")]


# -- the happy path -----------------------------------------------------------------------


def test_applied_events_are_stored_with_an_audit_trail(server, client, device, log, operator):
    app = application_dict()
    log.create(app)
    edited = application_dict(applicant={**app["applicant"], "whatsapp": "0813-1111-2222"})
    log.append(EventKind.APPLICATION_EDITED, app["id"], {"application": edited})
    log.append(EventKind.SUBMITTED, app["id"])

    response = push(client, device, log.wire())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["acked_seq"] == 3
    assert body["results"] == [
        {"seq": s, "status": "applied", "code": None, "message": None, "params": {}}
        for s in (1, 2, 3)
    ]
    row = _app_row(server, app["id"])
    assert row["state"] == "submitted"
    assert row["owner_device_id"] == device.device_id
    assert json.loads(row["snapshot"])["applicant"]["whatsapp"] == "0813-1111-2222"
    with server.db.read() as conn:
        trail = [dict(r) for r in conn.execute("SELECT * FROM application_events ORDER BY id")]
    assert [(t["action"], t["from_state"], t["to_state"]) for t in trail] == [
        ("create", None, "draft"),
        ("edit", "draft", "draft"),
        ("submit", "draft", "submitted"),
    ]
    for entry, event in zip(trail, log.events, strict=True):
        assert entry["actor_id"] == operator and entry["role"] == "operator"
        assert entry["device_id"] == device.device_id and entry["seq"] == event.seq
        assert entry["device_time"] == event.created_at and entry["server_time"]


def test_an_uncompressed_push_is_accepted_too(server, client, device, log):
    log.create()
    response = push(client, device, log.wire(), gzip_encoded=False)
    assert response.status_code == 200, response.text
    assert response.json()["acked_seq"] == 1


def test_an_empty_push_tells_where_the_server_is(server, client, device, log):
    response = push(client, device, [])
    assert response.status_code == 200
    assert response.json() == {"acked_seq": 0, "results": []}
    log.create()
    assert push(client, device, log.wire()).status_code == 200
    assert push(client, device, []).json() == {"acked_seq": 1, "results": []}


def test_resending_returns_the_same_acknowledgement(server, client, device, log):
    app = application_dict(attached_documents=NOT_READY_DOCS)
    log.create(app)
    log.append(EventKind.SUBMITTED, app["id"])  # refused: not ready
    first = push(client, device, log.wire())
    assert first.status_code == 200

    again = push(client, device, log.wire())

    assert again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["results"][1]["status"] == "refused"
    assert [e["seq"] for e in stored_events(server, device.device_id)] == [1, 2]
    assert table_count(server, "application_events") == 1

    # An overlapping batch: old events answer with their stored outcome, new ones apply.
    log.append(
        EventKind.MARKED_INCOMPLETE, app["id"], {"reasons": {"items": ["kk_lama"], "text": ""}}
    )
    overlap = push(client, device, log.wire(start=2))
    assert overlap.status_code == 200
    assert overlap.json()["acked_seq"] == 3
    assert overlap.json()["results"][0] == first.json()["results"][1]
    assert overlap.json()["results"][1]["status"] == "applied"
    assert _app_row(server, app["id"])["state"] == "incomplete"


def test_concurrent_pushes_of_one_batch_store_it_once(server, device, log):
    for _ in range(5):
        log.create(application_dict(id=str(uuid.uuid4())))
    answers: list[httpx.Response] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            barrier.wait()
            answers.append(push(http, device, log.wire()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert [a.status_code for a in answers] == [200] * 4
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    assert [e["seq"] for e in stored_events(server, device.device_id)] == [1, 2, 3, 4, 5]
    assert table_count(server, "applications") == 5


# -- chain and sequence -------------------------------------------------------------------


def test_a_gap_answers_with_the_expected_seq(server, client, device, log):
    log.create()
    log.append(EventKind.SUBMITTED)
    log.append(EventKind.WITHDRAWN, body={"reasons": {"items": [], "text": "Pemohon batal"}})
    assert push(client, device, log.wire(1, 1)).status_code == 200

    error = _error(push(client, device, log.wire(3)), 409, "event.seq_gap")

    assert error["expected_seq"] == 2
    assert error["acked_seq"] == 1
    assert error["seq"] == 3
    _nothing_stored(server, device, up_to=1)
    assert "event.seq_gap" in _refusal_codes(server)


def test_a_first_event_that_is_not_seq_1_is_a_gap(server, client, device, log):
    log.create()
    log.append(EventKind.SUBMITTED)
    error = _error(push(client, device, log.wire(2)), 409, "event.seq_gap")
    assert error["expected_seq"] == 1
    _nothing_stored(server, device)


def test_a_broken_chain_is_refused(server, client, device, log):
    log.create()
    log.append(EventKind.SUBMITTED)
    log.events[1] = sign_event(replace(log.events[1], prev_hash="f" * 64), device.key)

    _error(push(client, device, log.wire()), 409, "event.chain_broken")

    _nothing_stored(server, device)


def test_a_forked_history_is_refused_and_kept_for_the_admin(server, client, device, log):
    app = application_dict()
    log.create(app)
    log.append(EventKind.SUBMITTED, app["id"])
    assert push(client, device, log.wire()).status_code == 200
    original = stored_events(server, device.device_id)
    other = DeviceLog(device, log.operator_id, events=log.events[:1])
    other.append(EventKind.WITHDRAWN, app["id"], {"reasons": {"items": [], "text": "Dibatalkan"}})
    other.append(EventKind.APPLICATION_EDITED, app["id"], {"application": app})

    error = _error(push(client, device, other.wire()), 409, "event.forked")

    assert error["seq"] == 2
    assert stored_events(server, device.device_id) == original
    assert _app_row(server, app["id"])["state"] == "submitted"
    with server.db.read() as conn:
        fork = dict(conn.execute("SELECT * FROM forks").fetchone())
    assert fork["device_id"] == device.device_id and fork["seq"] == 2
    assert fork["received_hash"] == other.events[1].hash()
    assert fork["stored_hash"] == log.events[1].hash()
    assert json.loads(fork["received_event"])["kind"] == "application.withdrawn"


def test_events_must_ascend_within_a_batch(server, client, device, log):
    log.create()
    log.append(EventKind.SUBMITTED)
    error = _error(push(client, device, list(reversed(log.wire()))), 400, "push.unordered")
    assert error["seq"] == 1
    _nothing_stored(server, device)


# -- event checks -------------------------------------------------------------------------


def test_a_forged_event_signature_refuses_the_whole_batch(server, client, device, log):
    log.create()
    log.append(EventKind.SUBMITTED)
    log.events[1] = sign_event(log.events[1], generate_key())  # someone else's key

    error = _error(push(client, device, log.wire()), 400, "signature.invalid")

    assert error["seq"] == 2
    _nothing_stored(server, device)  # event 1 was valid, yet nothing is stored


def test_events_of_another_device_are_refused(server, client, device, log):
    other = enroll_device(server, client)
    log.create()

    error = _error(push(client, other, log.wire()), 403, "event.wrong_device")

    assert error["seq"] == 1
    _nothing_stored(server, device)
    _nothing_stored(server, other)


def test_an_unknown_kind_is_refused_with_its_seq(server, client, device, log):
    log.create()
    log.append(EventKind.SUBMITTED)
    wire = log.wire()
    wire[1]["kind"] = "application.teleported"

    error = _error(push(client, device, wire), 400, "event.unknown_kind")

    assert error["seq"] == 2 and error["index"] == 1
    assert error["issues"][0]["code"] == "event.unknown_kind"
    _nothing_stored(server, device)


def test_a_malformed_event_names_the_failing_field(server, client, device, log):
    log.create()
    wire = log.wire()
    wire[0]["body"]["application"]["members"] = "semua"

    error = _error(push(client, device, wire), 400, "field.invalid_type")

    assert error["seq"] == 1
    assert error["issues"][0]["field"] == "body.application.members"
    _nothing_stored(server, device)


# -- body limits and shape ----------------------------------------------------------------


def test_a_gzip_bomb_is_refused_quickly_and_the_server_stays_responsive(server, client, device):
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    bomb = b"".join(compressor.compress(zeros) for _ in range(100)) + compressor.flush()
    assert len(bomb) < 200 * 1024  # 100 MiB of zeros in ~100 KiB

    started = time.monotonic()
    error = _error(signed_post(client, device, bomb), 413, "request.too_large")
    elapsed = time.monotonic() - started

    assert error["max_bytes"] == server.config.max_decompressed_bytes
    assert elapsed < 5
    started = time.monotonic()
    assert client.get("/api/v1/health").status_code == 200
    assert time.monotonic() - started < 1
    _nothing_stored(server, device)


def test_a_body_over_4_mib_is_refused(server, client, device):
    body = gzip.compress(b"x") + bytes(4 * 1024 * 1024)
    error = _error(signed_post(client, device, body), 413, "request.too_large")
    assert error["max_bytes"] == 4 * 1024 * 1024
    assert client.get("/api/v1/health").status_code == 200


def test_a_chunked_body_over_the_limit_is_refused_while_streaming(server, client, device):
    body = bytes(5 * 1024 * 1024)
    headers = sign_request(device.key, device.device_id, "POST", PUSH_PATH, body, now=utc_now())

    def chunks():
        for i in range(0, len(body), 256 * 1024):
            yield body[i : i + 256 * 1024]

    try:
        response = client.post(PUSH_PATH, content=chunks(), headers=headers)
    except httpx.TransportError:
        return  # the server may close the connection before the client finished sending
    _error(response, 413, "request.too_large")


def test_an_unsupported_encoding_is_refused(server, client, device, log):
    log.create()
    response = signed_post(
        client,
        device,
        encode_push(log.wire()),
        gzip_encoded=False,
        extra_headers={"Content-Encoding": "br"},
    )
    _error(response, 415, "request.unsupported_encoding")
    _nothing_stored(server, device)


def test_a_broken_gzip_stream_is_refused(server, client, device, log):
    log.create()
    truncated = encode_push(log.wire())[:-20]
    _error(signed_post(client, device, truncated), 400, "request.bad_gzip")
    _error(signed_post(client, device, b"not gzip at all"), 400, "request.bad_gzip")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"events": [', "request.malformed_json"),
        (b"\xff\xfe", "request.malformed_json"),
        (b'{"events": [NaN]}', "request.malformed_json"),
        (b"[]", "push.malformed"),
        (b'{"events": {}}', "push.malformed"),
        (b'{"events": [], "more": 1}', "push.malformed"),
    ],
)
def test_malformed_bodies_are_refused(server, client, device, body, code):
    _error(signed_post(client, device, gzip.compress(body)), 400, code)
    _nothing_stored(server, device)


def test_too_many_events_are_refused(server, client, device):
    body = encode_push([{}] * 501)
    error = _error(signed_post(client, device, body), 413, "push.too_many_events")
    assert error["max_events"] == 500
    _nothing_stored(server, device)


# -- request authentication ---------------------------------------------------------------


def test_a_modified_body_under_valid_headers_is_refused(server, client, device, log):
    log.create()
    signed_body = encode_push([])
    headers = sign_request(
        device.key, device.device_id, "POST", PUSH_PATH, signed_body, now=utc_now()
    )
    headers["Content-Encoding"] = "gzip"

    response = client.post(PUSH_PATH, content=encode_push(log.wire()), headers=headers)

    _error(response, 401, "request.bad_signature")
    _nothing_stored(server, device)


def test_a_request_signed_by_another_key_is_refused(server, client, device, log):
    log.create()
    response = push(client, device, log.wire(), key=generate_key())
    _error(response, 401, "request.bad_signature")
    _nothing_stored(server, device)


def test_a_replayed_request_is_refused_even_after_a_restart(server_config, device_factory):
    running, device, log = device_factory()
    log.create()
    body = encode_push(log.wire())
    headers = sign_request(device.key, device.device_id, "POST", PUSH_PATH, body, now=utc_now())
    headers["Content-Encoding"] = "gzip"
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        assert http.post(PUSH_PATH, content=body, headers=headers).status_code == 200
        _error(http.post(PUSH_PATH, content=body, headers=headers), 401, "request.replayed")
    running.stop()

    restarted = start_server(server_config)
    try:
        with httpx.Client(base_url=restarted.base_url, timeout=30) as http:
            response = http.post(PUSH_PATH, content=body, headers=headers)
        _error(response, 401, "request.replayed")
    finally:
        restarted.stop()


@pytest.fixture
def device_factory(server_config):
    """A server this test may stop itself, with an enrolled device and its log."""
    started = []

    def make():
        running = start_server(server_config)
        started.append(running)
        with httpx.Client(base_url=running.base_url, timeout=30) as http:
            device = enroll_device(running, http)
        return running, device, DeviceLog(device, add_operator(running))

    yield make
    for running in started:
        if running._thread.is_alive():
            running.stop()


@pytest.mark.parametrize("offset", [timedelta(minutes=-10), timedelta(minutes=6)])
def test_a_skewed_clock_is_refused_with_the_server_time(server, client, device, log, offset):
    log.create()
    error = _error(
        push(client, device, log.wire(), now=datetime.now(UTC) + offset), 401, "request.clock_skew"
    )
    server_time = datetime.fromisoformat(error["server_time"].replace("Z", "+00:00"))
    assert abs(server_time - datetime.now(UTC)) < timedelta(seconds=30)
    _nothing_stored(server, device)
    # The client corrects its clock by the server's and the same events go through.
    assert push(client, device, log.wire()).status_code == 200


def test_an_unknown_device_is_refused(server, client, device, log):
    log.create()
    stranger = EnrolledDevice("dev-160601-ffffffffff", SEKAYU, generate_key(), "")
    _error(push(client, stranger, log.wire()), 401, "device.unknown")
    _nothing_stored(server, device)


def test_a_revoked_device_is_refused(server, client, device, log):
    log.create()
    enrollment.revoke_device(server.db, device.device_id, now=utc_now())
    _error(push(client, device, log.wire()), 403, "device.revoked")
    _nothing_stored(server, device)
    assert _refusal_codes(server) == ["device.revoked"]


@pytest.mark.parametrize(
    "missing", ["X-KK-Device", "X-KK-Timestamp", "X-KK-Nonce", "X-KK-Signature"]
)
def test_an_unsigned_request_is_refused(server, client, device, missing):
    body = encode_push([])
    headers = sign_request(device.key, device.device_id, "POST", PUSH_PATH, body, now=utc_now())
    del headers[missing]
    error = _error(client.post(PUSH_PATH, content=body, headers=headers), 401, "request.unsigned")
    assert error["header"] == missing


# -- the server's authority over each event -----------------------------------------------


def test_a_disabled_operators_events_are_refused_but_stored_and_acked(server, client, device, log):
    accounts.disable_user(server.db, "budi", now=utc_now())
    app = application_dict()
    log.create(app)
    log.append(EventKind.SUBMITTED, app["id"])

    response = push(client, device, log.wire())

    assert response.status_code == 200
    body = response.json()
    assert body["acked_seq"] == 2
    assert [(r["status"], r["code"]) for r in body["results"]] == [
        ("refused", "operator.disabled"),
        ("refused", "operator.disabled"),
    ]
    assert "dinonaktifkan" in body["results"][0]["message"]
    assert [(e["status"], e["code"]) for e in stored_events(server, device.device_id)] == [
        ("refused", "operator.disabled"),
        ("refused", "operator.disabled"),
    ]
    assert _app_row(server, app["id"]) is None
    assert table_count(server, "application_events") == 0


def test_operators_must_exist_and_belong_to_the_devices_kecamatan(server, client, device, log):
    lais_operator = add_operator(server, "sari", LAIS, full_name="Sari Dewi")
    kabid = add_operator(server, "kabid", None, role="kabid", full_name="Kabid Dafduk")
    log.create(operator_id="usr-000000000000")
    log.create(operator_id=lais_operator)
    log.create(operator_id=kabid)
    log.create()  # the device's own operator: applied

    results = push(client, device, log.wire()).json()["results"]

    assert [(r["status"], r["code"]) for r in results] == [
        ("refused", "operator.not_registered"),
        ("refused", "operator.wrong_kecamatan"),
        ("refused", "operator.wrong_role"),
        ("applied", None),
    ]
    assert results[1]["params"] == {
        "operator_id": lais_operator,
        "operator_kecamatan": LAIS,
        "kecamatan": SEKAYU,
    }


def test_an_application_of_another_kecamatan_is_refused(server, client, device, log):
    app = application_dict(address={**application_dict()["address"], "desa_code": LAIS_DESA})
    log.create(app)
    log.append(EventKind.SUBMITTED, app["id"])

    results = push(client, device, log.wire()).json()["results"]

    assert [(r["status"], r["code"]) for r in results] == [
        ("refused", "application.wrong_kecamatan"),
        ("refused", "application.unknown"),
    ]
    assert _app_row(server, app["id"]) is None
    assert [e["seq"] for e in stored_events(server, device.device_id)] == [1, 2]


def test_only_the_owning_device_may_move_an_application(server, client, device, log):
    app = application_dict()
    log.create(app)
    assert push(client, device, log.wire()).status_code == 200
    second = enroll_device(server, client)
    other = DeviceLog(second, log.operator_id)
    other.create(app)  # same id from another terminal
    other.append(EventKind.SUBMITTED, app["id"])

    results = push(client, second, other.wire()).json()["results"]

    assert [r["code"] for r in results] == ["application.duplicate", "application.not_owner"]
    assert _app_row(server, app["id"])["state"] == "draft"


def test_the_workflow_judges_every_move(server, client, device, log):
    app = application_dict()
    log.create(app)
    log.append(EventKind.ISSUED, app["id"])  # draft cannot be issued
    log.append(EventKind.WITHDRAWN, app["id"], {"reasons": {"items": [], "text": ""}})
    log.append(
        EventKind.MARKED_INCOMPLETE, app["id"], {"reasons": {"items": ["tidak_ada"], "text": ""}}
    )
    log.append(EventKind.SUBMITTED, app["id"])
    log.append(EventKind.APPLICATION_EDITED, app["id"], {"application": app})  # centre owns it

    results = push(client, device, log.wire()).json()["results"]

    assert [(r["status"], r["code"]) for r in results] == [
        ("applied", None),
        ("refused", "workflow.illegal_transition"),
        ("refused", "workflow.reason_required"),
        ("refused", "workflow.unknown_reason_item"),
        ("applied", None),
        ("refused", "workflow.illegal_transition"),
    ]
    assert _app_row(server, app["id"])["state"] == "submitted"
    assert table_count(server, "application_events") == 2


def test_a_submission_that_is_not_ready_is_refused_with_the_issue_codes(
    server, client, device, log
):
    app = application_dict(attached_documents=NOT_READY_DOCS)
    log.create(app)
    log.append(EventKind.SUBMITTED, app["id"])
    ready = application_dict()
    log.append(EventKind.APPLICATION_EDITED, app["id"], {"application": ready})
    log.append(EventKind.SUBMITTED, app["id"])

    results = push(client, device, log.wire()).json()["results"]

    refused = results[1]
    assert (refused["status"], refused["code"]) == ("refused", "application.not_ready")
    assert refused["params"]["codes"] == ["requirement.missing"]
    assert refused["params"]["count"] == len(refused["params"]["issues"]) >= 1
    assert "requirement.missing" in refused["message"]
    assert [r["status"] for r in results] == ["applied", "refused", "applied", "applied"]
    assert _app_row(server, app["id"])["state"] == "submitted"


def test_an_edit_may_not_move_the_address_out_of_the_kecamatan(server, client, device, log):
    app = application_dict()
    log.create(app)
    moved = application_dict(address={**app["address"], "desa_code": LAIS_DESA})
    log.append(EventKind.APPLICATION_EDITED, app["id"], {"application": moved})
    results = push(client, device, log.wire()).json()["results"]
    assert results[1]["code"] == "application.wrong_kecamatan"
    assert (
        json.loads(_app_row(server, app["id"])["snapshot"])["address"]["desa_code"]
        == (app["address"]["desa_code"])
    )
