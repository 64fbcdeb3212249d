"""Device enrollment against a real server: POST /api/v1/devices/enroll."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from protocol.events import parse_timestamp
from signing.keys import generate_key, load_private_key, public_key_b64
from sync_server.config import ServerConfig
from sync_server.context import init_data_dir
from sync_server.services.enrollment import CODE_ALPHABET
from tests.integration.conftest import (
    ENROLL_PATH,
    LAIS,
    enroll_device,
    issue_code,
    start_server,
    table_count,
)
from tests.support.http import problem


def _enroll(client, code, key=None, label=""):
    key = key or generate_key()
    return client.post(
        ENROLL_PATH, json={"code": code, "public_key": public_key_b64(key), "label": label}
    )


def _error(response) -> dict:
    return problem(response)


def test_enrollment_returns_the_device_id_and_the_server_key_to_pin(server, client):
    code = issue_code(server, LAIS, label="Loket 1 Lais")
    assert len(code) == 14 and code[4] == code[9] == "-"
    assert all(c in CODE_ALPHABET for c in code.replace("-", ""))
    key = generate_key()

    response = _enroll(client, code, key)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "device_id",
        "kecamatan",
        "server_public_key",
        "server_time",
        "scan_public_key",
        "scan_key_signature",
    }
    assert body["kecamatan"] == LAIS
    assert body["device_id"].startswith(f"dev-{LAIS}-")
    server_key = load_private_key(server.config.key_path)
    assert body["server_public_key"] == public_key_b64(server_key)
    server_time = parse_timestamp(body["server_time"])
    assert server_time is not None
    assert abs(datetime.now(UTC) - server_time) < timedelta(seconds=30)
    with server.db.read() as conn:
        device = dict(conn.execute("SELECT * FROM devices").fetchone())
        code_row = dict(conn.execute("SELECT * FROM enroll_codes").fetchone())
    assert device["device_id"] == body["device_id"]
    assert device["public_key"] == public_key_b64(key)
    assert device["label"] == "Loket 1 Lais"  # the code's label when the device sends none
    assert device["revoked_at"] is None
    assert code_row["device_id"] == body["device_id"] and code_row["used_at"]
    # Only the code's hash is stored.
    assert code.replace("-", "") not in str(code_row)


def test_a_code_may_be_typed_loosely(server, client):
    code = issue_code(server)
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    response = _enroll(client, typed, label="Loket 2")
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("code", ["ABCD-EFGH-JKMN", "tidak-ada", "", "X" * 64])
def test_unknown_codes_are_refused(server, client, code):
    response = _enroll(client, code)
    if code == "":
        assert response.status_code == 400
        assert _error(response)["code"] == "request.invalid_body"
        return
    assert response.status_code == 400
    assert _error(response)["code"] == "enroll.code_unknown"
    assert table_count(server, "devices") == 0


def test_an_expired_code_is_refused_with_410(server, client):
    code = issue_code(server, ttl=timedelta(hours=1), now=datetime.now(UTC) - timedelta(hours=2))
    response = _enroll(client, code)
    assert response.status_code == 410
    assert _error(response)["code"] == "enroll.code_expired"
    assert table_count(server, "devices") == 0


def test_a_used_code_is_refused_with_409(server, client):
    code = issue_code(server)
    assert _enroll(client, code).status_code == 201
    response = _enroll(client, code)
    assert response.status_code == 409
    assert _error(response)["code"] == "enroll.code_used"
    assert table_count(server, "devices") == 1


IDENTITY_POINT = base64.b64encode(bytes([1]) + bytes(31)).decode()  # forgeable: R=1, S=0


@pytest.mark.parametrize(
    "public_key",
    [
        "bm90IGEga2V5",
        "!!!",
        "A" * 42 + "==",
        public_key_b64(generate_key()) + "AA",
        IDENTITY_POINT,
        base64.b64encode(bytes(32)).decode(),  # a point of order 4
        base64.b64encode(b"\xff" * 32).decode(),  # not a canonical encoding
    ],
)
def test_a_bad_key_is_refused_and_the_code_is_kept(server, client, public_key):
    code = issue_code(server)
    response = client.post(ENROLL_PATH, json={"code": code, "public_key": public_key})
    assert response.status_code == 400
    assert _error(response)["code"] == "key.invalid"
    assert _enroll(client, code).status_code == 201  # the code was not consumed


def test_one_key_cannot_enroll_two_devices(server, client):
    key = generate_key()
    assert _enroll(client, issue_code(server), key).status_code == 201
    code = issue_code(server)
    response = _enroll(client, code, key)
    assert response.status_code == 409
    assert _error(response)["code"] == "enroll.key_in_use"
    assert _enroll(client, code).status_code == 201  # the code survives the refusal


def test_one_code_used_concurrently_enrolls_exactly_one_device(server):
    code = issue_code(server)
    contenders = 8
    barrier = threading.Barrier(contenders)
    statuses: list[int] = []
    codes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        key = generate_key()
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            barrier.wait()
            response = _enroll(http, code, key)
        with lock:
            statuses.append(response.status_code)
            if response.status_code != 201:
                codes.append(response.json()["code"])

    threads = [threading.Thread(target=attempt) for _ in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(statuses) == [201] + [409] * (contenders - 1)
    assert codes == ["enroll.code_used"] * (contenders - 1)
    assert table_count(server, "devices") == 1


def test_failed_attempts_are_throttled_per_client_ip(tmp_path):
    config = ServerConfig(data_dir=tmp_path / "server", enroll_max_failures=3)
    init_data_dir(config)
    running = start_server(config)
    try:
        with httpx.Client(base_url=running.base_url, timeout=30) as http:
            for _ in range(3):
                assert _enroll(http, "ABCD-EFGH-JKMN").status_code == 400
            valid = issue_code(running)
            response = _enroll(http, valid)
            assert response.status_code == 429
            error = _error(response)
            assert error["code"] == "enroll.throttled"
            assert error["retry_after"] >= 1
            assert response.headers["Retry-After"] == str(error["retry_after"])
            assert table_count(running, "devices") == 0
            # Bad keys and bad bodies are no guesses; they do not count (nor are throttled
            # attempts recorded, so a flood cannot fill the refusals table).
            with running.db.read() as conn:
                recorded = [r[0] for r in conn.execute("SELECT code FROM refusals")]
            assert recorded == ["enroll.code_unknown"] * 3
    finally:
        running.stop()


def test_enrollment_bodies_are_checked(server, client):
    response = client.post(
        ENROLL_PATH, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "request.malformed_json"

    response = client.post(ENROLL_PATH, json={"code": issue_code(server)})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "request.invalid_body"
    assert error["fields"] == ["public_key"]
    assert "public_key wajib diisi" in error["detail"]

    response = client.post(ENROLL_PATH, content=b"{" + b" " * 20_000 + b"}")
    assert response.status_code == 413
    assert _error(response)["code"] == "request.too_large"


def test_every_error_is_the_same_json_shape(server, client):
    response = client.get("/api/v1/tidak-ada")
    assert response.status_code == 404
    assert _error(response)["code"] == "http.not_found"
    response = client.get(ENROLL_PATH)
    assert response.status_code == 405
    assert _error(response)["code"] == "http.method_not_allowed"


def test_an_enrolled_device_is_listed_with_its_kecamatan(server, client):
    device = enroll_device(server, client)
    with server.db.read() as conn:
        row = conn.execute(
            "SELECT kecamatan, enrolled_ip FROM devices WHERE device_id = ?", (device.device_id,)
        ).fetchone()
    assert tuple(row) == (device.kecamatan, "127.0.0.1")


def test_the_api_describes_itself(server, client):
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/health", "/api/v1/devices/enroll", "/api/v1/sync/push"} <= set(spec["paths"])
    enroll = spec["paths"]["/api/v1/devices/enroll"]["post"]
    assert "public_key" in json.dumps(enroll["requestBody"])
    assert {"201", "400", "409", "410", "429"} <= set(enroll["responses"])


def test_a_body_that_is_not_an_object_is_refused(server, client):
    response = client.post(ENROLL_PATH, json=["kode"])
    assert response.status_code == 400
    assert _error(response)["code"] == "request.invalid_body"
