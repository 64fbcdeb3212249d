"""Central staff reading one application (``GET /api/v1/applications/{id}``) on a real
uvicorn server, and the hash-chained access log that records every read and decision."""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import httpx

from protocol.workflow import Role
from sync_server.services.access_log import GENESIS, entries, verify_audit_chain
from tests.integration.conftest import OPERATOR_PASSWORD
from tests.integration.test_pull import submitted_application
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    counter,
    decide,
    operator,
    staff,
    tokens,
)


def read(client: httpx.Client, headers: dict[str, str], app_id: str, **params) -> httpx.Response:
    return client.get(f"/api/v1/applications/{app_id}", headers=headers, params=params)


def test_reading_returns_data_state_checklist_and_history(
    server, client, staff, tokens, counter, operator
):
    app_id = submitted_application(counter, client, operator)
    assert decide(client, tokens[Role.VERIFIKATOR], app_id, "verify", "submitted").is_success

    response = read(client, tokens[Role.KABID], app_id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["application_id"] == app_id
    assert (body["state"], body["scans"]) == ("verified", [])
    assert body["state_label"]
    assert body["data"]["id"] == app_id
    assert body["data"]["attached_documents"] == sorted(body["data"]["attached_documents"])
    checklist = body["checklist"]
    assert checklist, "a service always has requirements"
    attached = set(body["data"]["attached_documents"])
    for item in checklist:
        assert item["attached"] == bool(set(item["any_of"]) & attached)
        assert set(item["attached_documents"]) == set(item["any_of"]) & attached
    history = body["history"]
    assert [(h["action"], h["from_state"], h["to_state"]) for h in history][-1] == (
        "verify",
        "submitted",
        "verified",
    )
    last = history[-1]
    assert (last["actor_id"], last["role"], last["device_id"]) == (
        staff[Role.VERIFIKATOR],
        "verifikator",
        None,
    )
    assert history[0]["device_id"] == counter.device.device_id
    assert all(h["server_time"].endswith("Z") for h in history)
    for role in (Role.VERIFIKATOR, Role.KEPALA_DINAS):
        assert read(client, tokens[role], app_id).status_code == 200


def test_unknown_application_is_404_and_not_logged(server, client, tokens):
    response = read(client, tokens[Role.VERIFIKATOR], "tidak-ada")
    assert response.status_code == 404
    assert response.json()["code"] == "application.unknown"
    with server.db.read() as conn:
        assert entries(conn) == []


def test_operator_admin_device_and_no_token_are_refused(server, client, tokens, counter, operator):
    app_id = submitted_application(counter, client, operator)
    assert read(client, {}, app_id).status_code == 401
    admin = read(client, tokens[Role.ADMIN], app_id)
    assert (admin.status_code, admin.json()["code"]) == (403, "auth.forbidden_role")
    with server.db.read() as conn:
        username = conn.execute(
            "SELECT username FROM users WHERE user_id = ?", (operator,)
        ).fetchone()[0]
    login = client.post(
        "/api/v1/auth/login", json={"username": username, "password": OPERATOR_PASSWORD}
    )
    # An operator never holds a staff token: refused at login, so cannot read either.
    assert login.status_code == 403
    assert login.json()["code"] == "auth.operator_at_counter"
    with server.db.read() as conn:
        assert entries(conn) == []


def test_each_read_and_decision_appends_a_chained_row_with_reader_and_ip(
    server, client, staff, tokens, counter, operator
):
    app_id = submitted_application(counter, client, operator)
    first = read(client, tokens[Role.VERIFIKATOR], app_id, purpose="verifikasi berkas")
    assert decide(client, tokens[Role.VERIFIKATOR], app_id, "verify", "submitted").is_success
    second = read(client, tokens[Role.KABID], app_id)

    with server.db.read() as conn:
        rows = entries(conn)
        assert entries(conn, application_id=app_id) == rows
    assert [r.seq for r in rows] == [1, 2, 3]
    assert (first.json()["access_seq"], second.json()["access_seq"]) == (1, 3)
    assert [(r.action, r.actor_id, r.role) for r in rows] == [
        ("application.read", staff[Role.VERIFIKATOR], "verifikator"),
        ("application.decided", staff[Role.VERIFIKATOR], "verifikator"),
        ("application.read", staff[Role.KABID], "kabid"),
    ]
    assert {r.client_ip for r in rows} == {"127.0.0.1"}
    assert {r.application_id for r in rows} == {app_id}
    assert rows[0].detail == "verifikasi berkas"
    assert rows[1].detail == "verify: submitted -> verified"
    assert rows[2].detail == "detail view"
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert verify_audit_chain(server.db) == (True, None)

    # A refused decision records nothing.
    refused = decide(client, tokens[Role.KABID], app_id, "verify", "verified")
    assert refused.status_code >= 400
    with server.db.read() as conn:
        assert len(entries(conn)) == 3


def test_tampering_with_one_row_is_found_at_that_seq(server, client, tokens, counter, operator):
    app_id = submitted_application(counter, client, operator)
    for _ in range(4):
        assert read(client, tokens[Role.VERIFIKATOR], app_id).status_code == 200
    assert verify_audit_chain(server.db) == (True, None)

    with server.db.write() as conn:  # someone hides who read the file
        conn.execute("UPDATE access_log SET actor_id = 'orang-lain' WHERE seq = 2")
    assert verify_audit_chain(server.db) == (False, 2)

    with server.db.write() as conn:  # ... or deletes the row outright
        conn.execute("DELETE FROM access_log WHERE seq = 2")
    assert verify_audit_chain(server.db) == (False, 3)
