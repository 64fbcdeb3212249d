"""Central decisions over HTTP (``POST /api/v1/applications/{id}/decisions``), on a real
uvicorn server: the SOP path from the counter's push to the Kepala Dinas's signature, a
return reaching the counter and coming back, the refusals, and two staff deciding at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from protocol.workflow import Action, Reasons, Role, State
from tests.integration.conftest import (
    OPERATOR_PASSWORD,
    TTE_PASSPHRASE,
    RunningServer,
    add_operator,
    table_count,
    tte_config,
)
from tests.integration.test_pull import (
    Terminal,
    open_terminal,
    server_app,
    submitted_application,
)

QUEUE = "/api/v1/queue"
STAFF = {
    Role.VERIFIKATOR: ("sri.verif", "Sri Wahyuni, S.Sos"),
    Role.KABID: ("hendra.kabid", "Hendra Gunawan"),
    Role.KEPALA_DINAS: ("kadis", "Kepala Dinas"),
    Role.ADMIN: ("admin", "Admin Dinas"),
}


def decisions_path(application_id: str) -> str:
    return f"/api/v1/applications/{application_id}/decisions"


@pytest.fixture
def server_config(tmp_path, demo_pki):
    """The server of these tests can sign: "sign" is the TTE (demo PKI). It sends no
    WhatsApp message (as the default test server): a notice stays ``queued``, not sent by
    the outbox worker between a decision and the counter's pull."""
    return tte_config(tmp_path, demo_pki, whatsapp_transport="off")


@pytest.fixture
def staff(server: RunningServer) -> dict[Role, str]:
    return {
        role: add_operator(server, username, None, role=role.value, full_name=name)
        for role, (username, name) in STAFF.items()
    }


@pytest.fixture
def tokens(client: httpx.Client, staff: dict[Role, str]) -> dict[Role, dict[str, str]]:
    """``Authorization`` headers by role."""
    headers = {}
    for role, (username, _) in STAFF.items():
        response = client.post(
            "/api/v1/auth/login", json={"username": username, "password": OPERATOR_PASSWORD}
        )
        assert response.status_code == 200, response.text
        headers[role] = {"Authorization": f"Bearer {response.json()['token']}"}
    return headers


@pytest.fixture
def counter(server: RunningServer, client: httpx.Client, tmp_path) -> Iterator[Terminal]:
    """A counter terminal: an enrolled device with its own store file."""
    terminal = open_terminal(server, client, tmp_path / "counter.db")
    yield terminal
    terminal.store.close()


@pytest.fixture
def operator(server: RunningServer) -> str:
    return add_operator(server)


def decide(
    client: httpx.Client,
    headers: dict[str, str],
    application_id: str,
    action: str,
    expected_state: str,
    reasons: dict[str, Any] | None = None,
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"action": action, "expected_state": expected_state, **extra}
    if reasons is not None:
        body["reasons"] = reasons
    return client.post(decisions_path(application_id), json=body, headers=headers)


def at_once(
    server: RunningServer, calls: list[Callable[[httpx.Client], httpx.Response]]
) -> list[httpx.Response]:
    """Run each call in its own thread with its own connection, released together."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def run(call: Callable[[httpx.Client], httpx.Response]) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as own:
            barrier.wait()
            response = call(own)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(answers) == len(calls), "a call did not finish"
    return answers


def queue_ids(client: httpx.Client, headers: dict[str, str]) -> list[str]:
    response = client.get(QUEUE, headers=headers)
    assert response.status_code == 200, response.text
    return [item["application_id"] for item in response.json()["items"]]


def test_the_sop_path_verify_approve_sign_through_http(
    server, client, staff, tokens, counter, operator
):
    app_id = submitted_application(counter, client, operator)
    assert queue_ids(client, tokens[Role.VERIFIKATOR]) == [app_id]

    steps = [
        (Role.VERIFIKATOR, "verify", "submitted", "verified"),
        (Role.KABID, "approve", "verified", "approved"),
        (Role.KEPALA_DINAS, "sign", "approved", "signed"),
    ]
    for role, action, before, after in steps:
        assert queue_ids(client, tokens[role]) == [app_id], role
        # Each step is claimed first, so colleagues see who works on it.
        claimed = client.post(f"/api/v1/applications/{app_id}/claim", headers=tokens[role])
        assert claimed.status_code == 200, claimed.text
        [item] = client.get(QUEUE, headers=tokens[role]).json()["items"]
        assert item["claimed_by"]["username"] == STAFF[role][0]
        secret = {"passphrase": TTE_PASSPHRASE} if action == "sign" else {}
        response = decide(client, tokens[role], app_id, action, before, **secret)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"application_id", "from_state", "to_state", "action", "at"}
        assert (body["application_id"], body["action"]) == (app_id, action)
        assert (body["from_state"], body["to_state"]) == (before, after)
        assert body["at"].endswith("Z")
        assert server_app(server, app_id)["state"] == after
        assert queue_ids(client, tokens[role]) == []

    with server.db.read() as conn:
        trail = conn.execute(
            "SELECT actor_id, role, action, from_state, to_state FROM application_events "
            "WHERE application_id = ? AND device_id IS NULL ORDER BY id",
            (app_id,),
        ).fetchall()
    assert [tuple(r) for r in trail] == [
        (staff[Role.VERIFIKATOR], "verifikator", "verify", "submitted", "verified"),
        (staff[Role.KABID], "kabid", "approve", "verified", "approved"),
        (staff[Role.KEPALA_DINAS], "kepala_dinas", "sign", "approved", "signed"),
    ]

    assert counter.pull(client) == 4  # three decisions and "KK ready"
    assert counter.store.get_application(app_id).state is State.SIGNED
    assert counter.store.kk_document(app_id) is not None
    made = counter.store.decisions(app_id)
    assert [(d.action, d.role, d.actor_name) for d in made] == [
        (Action.VERIFY, Role.VERIFIKATOR, "Sri Wahyuni, S.Sos"),
        (Action.APPROVE, Role.KABID, "Hendra Gunawan"),
        (Action.SIGN, Role.KEPALA_DINAS, "Kepala Dinas"),
    ]

    # Into SIAK: the export carries the number the KK was signed with; the entry is recorded.
    verif = tokens[Role.VERIFIKATOR]
    pending = client.get("/api/v1/siak/pending", headers=verif).json()
    assert [i["application_id"] for i in pending["items"]] == [app_id]
    with server.db.read() as conn:
        number = conn.execute(
            "SELECT kk_number FROM kk_documents WHERE application_id = ?", (app_id,)
        ).fetchone()[0]
    export = client.get(f"/api/v1/applications/{app_id}/siak-export", headers=verif)
    assert (export.json()["kk_number"], export.json()["state"]) == (number, "signed")
    entry = client.post(
        f"/api/v1/applications/{app_id}/siak-entry",
        headers=verif,
        json={"siak_reference": "SIAK-1606-000001"},
    )
    assert entry.status_code == 201, entry.text
    assert client.get("/api/v1/siak/pending", headers=verif).json()["total"] == 0


def test_a_return_reaches_the_counter_and_the_resubmission_queues_again(
    server, client, tokens, counter, operator
):
    app_id = submitted_application(counter, client, operator)
    reasons = {"items": ["kk_lama"], "text": "Foto KK lama buram, mohon pindai ulang"}

    response = decide(client, tokens[Role.VERIFIKATOR], app_id, "return", "submitted", reasons)

    assert response.status_code == 200, response.text
    assert response.json()["to_state"] == "returned"
    assert queue_ids(client, tokens[Role.VERIFIKATOR]) == []
    assert counter.pull(client) == 2  # the decision, and the WhatsApp notice queued
    assert counter.store.get_application(app_id).state is State.RETURNED
    assert [m.status for m in counter.store.message_statuses(app_id)] == ["queued"]
    [decision] = counter.store.decisions(app_id)
    assert (decision.action, decision.role) == (Action.RETURN, Role.VERIFIKATOR)
    assert decision.reasons == Reasons(items=("kk_lama",), text=reasons["text"])
    assert (decision.from_state, decision.to_state) == (State.SUBMITTED, State.RETURNED)

    counter.counter.resubmit(app_id, operator_id=operator)
    assert [r["status"] for r in counter.push(client)] == ["applied"]

    assert server_app(server, app_id)["state"] == "submitted"
    assert queue_ids(client, tokens[Role.VERIFIKATOR]) == [app_id]
    again = decide(client, tokens[Role.VERIFIKATOR], app_id, "verify", "submitted")
    assert again.status_code == 200, again.text


def test_refused_decisions_change_nothing(server, client, tokens, counter, operator):
    app_id = submitted_application(counter, client, operator)
    tables = ("feed", "application_events")
    before = {t: table_count(server, t) for t in tables}
    verif, kabid = tokens[Role.VERIFIKATOR], tokens[Role.KABID]

    def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
        return response.json()

    # wrong role: the Kabid may not verify; admin may not decide at all
    error = refused(
        decide(client, kabid, app_id, "verify", "submitted"), 403, "workflow.role_not_permitted"
    )
    assert "Verifikator" in error["detail"]
    refused(
        decide(client, tokens[Role.ADMIN], app_id, "verify", "submitted"),
        403,
        "auth.forbidden_role",
    )
    # wrong state: nothing to approve before verification
    refused(
        decide(client, kabid, app_id, "approve", "submitted"), 409, "workflow.illegal_transition"
    )
    # a state the caller no longer sees
    error = refused(decide(client, kabid, app_id, "approve", "verified"), 409, "decision.conflict")
    assert (error["current_state"], error["expected_state"]) == ("submitted", "verified")
    assert app_id in error["detail"] and "Diajukan" in error["detail"]
    # a return needs reasons, and known checklist items
    refused(decide(client, verif, app_id, "return", "submitted"), 422, "workflow.reason_required")
    refused(
        decide(client, verif, app_id, "return", "submitted", {"items": [], "text": "abc"}),
        422,
        "workflow.reason_required",
    )
    error = refused(
        decide(client, verif, app_id, "return", "submitted", {"items": ["bukan_butir"]}),
        422,
        "workflow.unknown_reason_item",
    )
    assert error["issues"][0]["field"] == "reasons.items[0]"
    # unknown application, unknown action, counter-only action
    refused(decide(client, verif, "tidak-ada", "verify", "submitted"), 404, "application.unknown")
    for action in ("submit", "bogus"):
        refused(decide(client, verif, app_id, action, "submitted"), 400, "request.invalid_body")
    refused(decide(client, verif, app_id, "verify", "entah"), 400, "request.invalid_body")

    assert server_app(server, app_id)["state"] == "submitted"
    assert {t: table_count(server, t) for t in tables} == before
    assert counter.pull(client) == 0


def test_two_staff_deciding_at_once_exactly_one_wins(
    server, client, staff, tokens, counter, operator
):
    app_id = submitted_application(counter, client, operator)
    second = add_operator(server, "dewi.verif", None, role="verifikator", full_name="Dewi")
    login = client.post(
        "/api/v1/auth/login", json={"username": "dewi.verif", "password": OPERATOR_PASSWORD}
    )
    callers = [tokens[Role.VERIFIKATOR], {"Authorization": f"Bearer {login.json()['token']}"}]
    answers = at_once(
        server, [lambda own, h=h: decide(own, h, app_id, "verify", "submitted") for h in callers]
    )

    assert sorted(r.status_code for r in answers) == [200, 409]
    loser = next(r for r in answers if r.status_code == 409)
    assert loser.json()["code"] == "decision.conflict"
    assert loser.json()["current_state"] == "verified"
    assert server_app(server, app_id)["state"] == "verified"
    with server.db.read() as conn:
        central = conn.execute(
            "SELECT actor_id FROM application_events "
            "WHERE application_id = ? AND device_id IS NULL",
            (app_id,),
        ).fetchall()
    assert len(central) == 1 and central[0][0] in (staff[Role.VERIFIKATOR], second)
    assert counter.pull(client) == 1
