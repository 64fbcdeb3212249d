"""Claims over HTTP (``/api/v1/applications/{id}/claim``) on a real uvicorn server: who
works on an application's step, what a claim blocks, who may take it over or release it,
and two staff claiming at once."""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import httpx
import pytest

from protocol.workflow import Role
from sync_server.services.access_log import entries, verify_audit_chain
from tests.integration.conftest import OPERATOR_PASSWORD, add_operator, table_count
from tests.integration.test_pull import server_app, submitted_application
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    at_once,
    counter,
    decide,
    operator,
    staff,
    tokens,
)
from tests.support.http import problem


def claim_path(app_id: str) -> str:
    return f"/api/v1/applications/{app_id}/claim"


def claim(client: httpx.Client, headers: dict[str, str], app_id: str, **body: Any):
    return client.post(claim_path(app_id), headers=headers, json=body or None)


def release(client: httpx.Client, headers: dict[str, str], app_id: str) -> httpx.Response:
    return client.delete(claim_path(app_id), headers=headers)


def queue_item(client: httpx.Client, headers: dict[str, str], app_id: str) -> dict[str, Any]:
    page = client.get("/api/v1/queue", headers=headers).json()
    [item] = [i for i in page["items"] if i["application_id"] == app_id]
    return item


def holder(client: httpx.Client, headers: dict[str, str], app_id: str) -> str | None:
    """Who the read shows as holding the step (username), checked against the queue."""
    read = client.get(f"/api/v1/applications/{app_id}", headers=headers)
    assert read.status_code == 200, read.text
    held = read.json()["claimed_by"]
    assert queue_item(client, headers, app_id)["claimed_by"] == held
    return held["username"] if held else None


@pytest.fixture
def colleague(server, client) -> dict[str, str]:
    """A second verifikator, logged in."""
    add_operator(server, "dewi.verif", None, role="verifikator", full_name="Dewi Lestari")
    login = client.post(
        "/api/v1/auth/login", json={"username": "dewi.verif", "password": OPERATOR_PASSWORD}
    )
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


def test_a_claim_shows_in_queue_and_read_and_blocks_others_decisions(
    server, client, staff, tokens, counter, operator, colleague
):
    app_id = submitted_application(counter, client, operator)
    verif = tokens[Role.VERIFIKATOR]
    assert holder(client, verif, app_id) is None

    response = claim(client, verif, app_id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["username"], body["full_name"], body["role"]) == (
        "sri.verif",
        "Sri Wahyuni, S.Sos",
        "verifikator",
    )
    assert (body["state"], body["user_id"], body["assigned_by"]) == (
        "submitted",
        staff[Role.VERIFIKATOR],
        staff[Role.VERIFIKATOR],
    )
    assert holder(client, colleague, app_id) == "sri.verif"

    # The colleague may not decide while Sri holds it; nothing changes.
    before = {t: table_count(server, t) for t in ("feed", "application_events")}
    blocked = problem(
        decide(client, colleague, app_id, "verify", "submitted"), 409, "claim.held_by_other"
    )
    assert blocked["claimed_by"]["username"] == "sri.verif"
    assert "Sri Wahyuni" in blocked["detail"]
    assert server_app(server, app_id)["state"] == "submitted"
    assert {t: table_count(server, t) for t in ("feed", "application_events")} == before

    # The holder decides; the decision ends the claim, the Kabid's step starts unclaimed.
    assert decide(client, verif, app_id, "verify", "submitted").status_code == 200
    with server.db.read() as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    assert holder(client, tokens[Role.KABID], app_id) is None
    # ... which any Kabid may decide without claiming first.
    assert decide(client, tokens[Role.KABID], app_id, "approve", "verified").status_code == 200

    with server.db.read() as conn:
        claimed = [r for r in entries(conn) if r.action == "application.claimed"]
    assert [(r.actor_id, r.detail) for r in claimed] == [
        (staff[Role.VERIFIKATOR], "submitted: claimed by sri.verif")
    ]
    assert verify_audit_chain(server.db) == (True, None)


def test_taking_over_releasing_and_assigning_follow_the_roles(
    server, client, staff, tokens, counter, operator, colleague
):
    app_id = submitted_application(counter, client, operator)
    verif, kabid, admin = tokens[Role.VERIFIKATOR], tokens[Role.KABID], tokens[Role.ADMIN]
    assert claim(client, verif, app_id).status_code == 200
    # Claiming again changes nothing and records nothing.
    rows = table_count(server, "access_log")
    assert claim(client, verif, app_id).json()["username"] == "sri.verif"
    assert table_count(server, "access_log") == rows

    held = problem(claim(client, colleague, app_id), 409, "claim.held")
    assert held["claimed_by"]["username"] == "sri.verif"
    # A Kabid has nothing to do with the verifier's step: neither claim nor release, and
    # deciding it is the workflow's refusal, not the claim's.
    problem(
        decide(client, kabid, app_id, "verify", "submitted"), 403, "workflow.role_not_permitted"
    )
    problem(claim(client, kabid, app_id, reassign=True), 403, "claim.not_your_step")
    problem(release(client, kabid, app_id), 403, "claim.not_your_step")
    assert holder(client, verif, app_id) == "sri.verif"

    # A colleague of the same role takes it over on purpose.
    taken = claim(client, colleague, app_id, reassign=True)
    assert taken.status_code == 200, taken.text
    assert taken.json()["username"] == "dewi.verif"
    assert holder(client, verif, app_id) == "dewi.verif"
    problem(decide(client, verif, app_id, "verify", "submitted"), 409, "claim.held_by_other")

    # Sri releases Dewi's claim (same role); releasing nothing is fine too.
    assert release(client, verif, app_id).status_code == 204
    assert holder(client, verif, app_id) is None
    assert release(client, verif, app_id).status_code == 204

    # The admin assigns, naming a verifikator; never itself, never a Kabid.
    problem(claim(client, admin, app_id), 422, "claim.assignee_required")
    wrong = problem(
        claim(client, admin, app_id, user_id=staff[Role.KABID]), 422, "claim.assignee_wrong_role"
    )
    assert "hendra.kabid" in wrong["detail"]
    problem(claim(client, admin, app_id, user_id="tidak-ada"), 422, "claim.assignee_unknown")
    assigned = claim(client, admin, app_id, user_id=staff[Role.VERIFIKATOR])
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assigned_by"] == staff[Role.ADMIN]
    # ... and reassigns over a holder, then releases.
    dewi = client.get("/api/v1/auth/me", headers=colleague).json()["user_id"]
    problem(claim(client, admin, app_id, user_id=dewi), 409, "claim.held")
    assert claim(client, admin, app_id, user_id=dewi, reassign=True).status_code == 200
    assert holder(client, verif, app_id) == "dewi.verif"
    assert release(client, admin, app_id).status_code == 204
    assert holder(client, verif, app_id) is None

    with server.db.read() as conn:
        trail = [(r.action, r.detail) for r in entries(conn) if r.action != "application.read"]
    assert trail == [
        ("application.claimed", "submitted: claimed by sri.verif"),
        ("application.claimed", "submitted: claimed by dewi.verif, taken from sri.verif"),
        ("application.released", "submitted: released from dewi.verif"),
        ("application.claimed", "submitted: claimed by sri.verif"),
        ("application.claimed", "submitted: claimed by dewi.verif, taken from sri.verif"),
        ("application.released", "submitted: released from dewi.verif"),
    ]


def test_only_applications_waiting_at_the_centre_can_be_claimed(client, tokens, counter, operator):
    app_id = submitted_application(counter, client, operator)
    verif = tokens[Role.VERIFIKATOR]
    reasons = {"items": ["kk_lama"], "text": "Foto KK lama buram"}
    assert decide(client, verif, app_id, "return", "submitted", reasons).status_code == 200

    refused = problem(claim(client, verif, app_id), 409, "claim.not_claimable")
    assert refused["state"] == "returned"
    problem(claim(client, verif, "tidak-ada"), 404, "application.unknown")
    bad = client.post(claim_path(app_id), headers=verif, json={"reassign": "mungkin"})
    problem(bad, 400, "request.invalid_body")


def test_two_staff_claiming_at_once_exactly_one_holds_it(
    server, client, tokens, counter, operator, colleague
):
    app_id = submitted_application(counter, client, operator)
    callers = [tokens[Role.VERIFIKATOR], colleague]

    answers = at_once(server, [lambda own, h=h: claim(own, h, app_id) for h in callers])

    assert sorted(r.status_code for r in answers) == [200, 409]
    winner = next(r for r in answers if r.status_code == 200).json()["username"]
    loser = problem(next(r for r in answers if r.status_code == 409), 409, "claim.held")
    assert loser["claimed_by"]["username"] == winner
    assert holder(client, colleague, app_id) == winner
    with server.db.read() as conn:
        assert len([r for r in entries(conn) if r.action == "application.claimed"]) == 1
