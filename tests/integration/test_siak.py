"""SIAK export and entry records over HTTP, on a real uvicorn server: an approved
application goes out as JSON and CSV, the entry into SIAK is recorded once, and what is
still to enter is listed."""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import csv
import io

import httpx

from protocol.application import Application
from protocol.workflow import Role
from sync_server.services.access_log import entries
from sync_server.services.siak_format import CSV_COLUMNS
from tests.factories import CHILD_NIK, HEAD_NIK, WIFE_NIK, application_dict
from tests.integration.test_pull import submitted_application
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    counter,
    decide,
    operator,
    staff,
    tokens,
)
from tests.support.http import problem

PENDING = "/api/v1/siak/pending"


def export(client: httpx.Client, headers: dict[str, str], app_id: str, **params: str):
    return client.get(f"/api/v1/applications/{app_id}/siak-export", headers=headers, params=params)


def enter(client: httpx.Client, headers: dict[str, str], app_id: str, reference: str):
    return client.post(
        f"/api/v1/applications/{app_id}/siak-entry",
        headers=headers,
        json={"siak_reference": reference},
    )


def pending_ids(client: httpx.Client, headers: dict[str, str], **params: int) -> list[str]:
    response = client.get(PENDING, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [item["application_id"] for item in response.json()["items"]]


def approved(client: httpx.Client, tokens, counter, operator) -> str:
    app_id = submitted_application(counter, client, operator)
    assert decide(client, tokens[Role.VERIFIKATOR], app_id, "verify", "submitted").is_success
    assert decide(client, tokens[Role.KABID], app_id, "approve", "verified").is_success
    return app_id


def test_an_approved_application_exports_as_json_and_csv_and_its_entry_is_recorded(
    server, client, staff, tokens, counter, operator
):
    verif = tokens[Role.VERIFIKATOR]
    app_id = submitted_application(counter, client, operator)
    # Not before the Kabid's approval.
    refused = problem(export(client, verif, app_id), 409, "siak.not_approved")
    assert refused["state"] == "submitted"
    problem(enter(client, verif, app_id, "SIAK-1"), 409, "siak.not_approved")
    assert decide(client, verif, app_id, "verify", "submitted").is_success
    assert decide(client, tokens[Role.KABID], app_id, "approve", "verified").is_success
    assert pending_ids(client, verif) == [app_id]

    response = export(client, verif, app_id)

    assert response.status_code == 200, response.text
    record = response.json()
    assert (record["format"], record["version"], record["application_id"]) == (
        "kk-online/siak-export",
        1,
        app_id,
    )
    assert (record["state"], record["approved_by"]) == ("approved", "Hendra Gunawan")
    assert record["service"]["form_code"] == "A.1" and record["service"]["creates_family"]
    assert record["kk_number"] == ""
    assert record["address"]["kecamatan"].upper() == "SEKAYU"
    members = record["members"]
    assert [(m["no"], m["nik"]) for m in members] == [
        (1, HEAD_NIK),
        (2, WIFE_NIK),
        (3, CHILD_NIK),
    ]
    head = members[0]
    assert head["jenis_kelamin"] == {"kode": 1, "label": "LAKI-LAKI"}
    assert head["shdk"]["label"] == "KEPALA KELUARGA"
    assert head["tanggal_lahir"] == "1995-03-14"

    as_csv = export(client, verif, app_id, format="csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert f'filename="siak-{app_id}.csv"' in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [r["nik"] for r in rows] == [HEAD_NIK, WIFE_NIK, CHILD_NIK]
    assert (rows[0]["tanggal_lahir"], rows[0]["shdk_kode"], rows[0]["shdk"]) == (
        "14-03-1995",
        "1",
        "KEPALA KELUARGA",
    )
    assert {r["application_id"] for r in rows} == {app_id}

    entered = enter(client, verif, app_id, "SIAK-1606-000123")
    assert entered.status_code == 201, entered.text
    assert (entered.json()["reference"], entered.json()["username"]) == (
        "SIAK-1606-000123",
        "sri.verif",
    )
    assert pending_ids(client, verif) == []
    read = client.get(f"/api/v1/applications/{app_id}", headers=tokens[Role.KABID]).json()
    assert read["siak_entry"]["reference"] == "SIAK-1606-000123"
    again = problem(enter(client, tokens[Role.KABID], app_id, "SIAK-LAIN"), 409)
    assert again["code"] == "siak.already_entered"
    assert again["siak_entry"]["reference"] == "SIAK-1606-000123"
    assert "sri.verif" in again["detail"]

    with server.db.read() as conn:
        logged = [(r.action, r.detail) for r in entries(conn, application_id=app_id)]
    assert logged.count(("application.exported", "SIAK export")) == 2
    assert ("application.siak_entered", "SIAK reference SIAK-1606-000123") in logged


def test_pending_pages_oldest_approval_first_and_the_admin_sees_no_personal_data(
    server, client, tokens, counter, operator
):
    verif = tokens[Role.VERIFIKATOR]
    first = approved(client, tokens, counter, operator)
    # a second application (another id), approved later
    other = application_dict(id="0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8c01")
    counter.counter.create_application(Application.from_dict(other), operator_id=operator)
    counter.counter.submit(other["id"], operator_id=operator)
    assert [r["status"] for r in counter.push(client)] == ["applied", "applied"]
    assert decide(client, verif, other["id"], "verify", "submitted").is_success
    assert decide(client, tokens[Role.KABID], other["id"], "approve", "verified").is_success

    assert pending_ids(client, verif) == [first, other["id"]]
    page = client.get(PENDING, headers=verif, params={"limit": 1, "offset": 1}).json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [i["application_id"] for i in page["items"]] == [other["id"]]
    assert page["items"][0]["approved_at"].endswith("Z")
    problem(client.get(PENDING, headers=verif, params={"limit": 0}), 400, "request.invalid_body")

    admin = tokens[Role.ADMIN]
    problem(export(client, admin, first), 403, "auth.forbidden_role")
    problem(client.get(PENDING, headers=admin), 403, "auth.forbidden_role")
    bad = client.post(
        f"/api/v1/applications/{first}/siak-entry",
        headers=verif,
        json={"siak_reference": "<script>"},
    )
    problem(bad, 400, "request.invalid_body")
    problem(export(client, verif, first, format="xls"), 400, "request.invalid_body")
