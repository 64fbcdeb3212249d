"""Duplicate-NIK checks at submission, on a real uvicorn server: a member already in another
open application or in the current issued KK of another family is flagged, and the
verifier sees the flag and the other record in the queue and the read."""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import re
from typing import Any

import httpx

from protocol.application import Application
from protocol.workflow import Reasons, Role
from sync_server.services.access_log import entries
from sync_server.storage import db as server_db
from sync_server.storage.db import Database
from tests.factories import CHILD_NIK, HEAD_NIK, WIFE_NIK, application_dict, member_dict
from tests.integration.conftest import TTE_PASSPHRASE
from tests.integration.test_pull import Terminal
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    counter,
    decide,
    operator,
    server_config,
    staff,
    tokens,
)

FAMILY_KK = "1606011502100007"
RUSAK = {"service_type": "HILANG_RUSAK", "sub_type": 2, "peristiwa": None}


TAKING_IN = ["f102", "buku_nikah", "kk_lama", "surat_kuasa_pengasuhan"]
"""A family that takes in someone else's child brings the parents' power of care."""


def app_id(n: int) -> str:
    return f"0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8b{n:02d}"


def damaged_kk(n: int, **changes: Any) -> dict[str, Any]:
    """A damaged-KK application of family :data:`FAMILY_KK` (keeps its number)."""
    data = application_dict(
        id=app_id(n),
        service=RUSAK,
        kk_number=FAMILY_KK,
        attached_documents=["f102", "kk_rusak", "ktp_el"],
        **changes,
    )
    data["applicant"] = dict(data["applicant"], kk_number=FAMILY_KK)
    return data


def recorded(terminal: Terminal, client: httpx.Client, operator_id: str, data: dict) -> str:
    """Create the application at the counter and push it, not submitted."""
    terminal.pull(client)
    terminal.counter.create_application(Application.from_dict(data), operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied"]
    return data["id"]


def submitted(terminal: Terminal, client: httpx.Client, operator_id: str, data: dict) -> str:
    recorded(terminal, client, operator_id, data)
    terminal.counter.submit(data["id"], operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied"]
    return data["id"]


def issued(terminal: Terminal, client: httpx.Client, operator_id: str, tokens, data) -> str:
    """Through every step to ``issued``: the family's KK is out."""
    submitted(terminal, client, operator_id, data)
    for role, action, state in (
        (Role.VERIFIKATOR, "verify", "submitted"),
        (Role.KABID, "approve", "verified"),
        (Role.KEPALA_DINAS, "sign", "approved"),
    ):
        secret = {"passphrase": TTE_PASSPHRASE} if action == "sign" else {}
        response = decide(client, tokens[role], data["id"], action, state, **secret)
        assert response.status_code == 200, response.text
    terminal.pull(client)
    terminal.counter.issue(data["id"], operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied"]
    return data["id"]


def flags(client: httpx.Client, headers: dict[str, str], application_id: str) -> list[dict]:
    response = client.get(f"/api/v1/applications/{application_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["duplicates"]


def summary(found: list[dict]) -> set[tuple[str, str, str]]:
    return {(f["nik"], f["kind"], f["other"]["application_id"]) for f in found}


def queue_flags(client: httpx.Client, headers: dict[str, str]) -> dict[str, int]:
    page = client.get("/api/v1/queue", headers=headers).json()
    return {i["application_id"]: i["duplicate_flags"] for i in page["items"]}


def test_a_nik_in_another_open_application_flags_both_and_shows_the_other_record(
    server, client, staff, tokens, counter, operator
):
    verif = tokens[Role.VERIFIKATOR]
    first = submitted(counter, client, operator, application_dict(id=app_id(1)))
    assert flags(client, verif, first) == []

    # Another family's application with the wife under another name.
    wife = member_dict(1, nama="RINA MARLINA BINTI USMAN")
    other_head = member_dict(0, nik="1606011403950005", nama="JOKO SUSILO")
    second = submitted(
        counter,
        client,
        operator,
        application_dict(id=app_id(2), members=[other_head, dict(wife, shdk=3)]),
    )

    found = flags(client, verif, second)
    assert summary(found) == {(WIFE_NIK, "open_application", first)}
    [flag] = found
    assert flag["member_name"] == "RINA MARLINA BINTI USMAN"
    other = flag["other"]
    assert (other["member_name"], other["kecamatan"]) == ("RINA MARLINA", "160601")
    assert (other["state"], other["state_at_flag"], other["kk_number"]) == (
        "submitted",
        "submitted",
        "",
    )
    assert other["state_label"]
    # The first application waits at the centre too: it is flagged back.
    assert summary(flags(client, verif, first)) == {(WIFE_NIK, "open_application", second)}
    assert queue_flags(client, verif) == {first: 1, second: 1}

    # Showing the other record is a read of it, in the access log.
    with server.db.read() as conn:
        about_first = [(r.action, r.detail) for r in entries(conn, application_id=first)]
    assert ("application.read", f"duplicate flag of {second}") in about_first


def test_withdrawn_applications_do_not_count_and_flags_are_recomputed_on_resubmission(
    server, client, tokens, counter, operator
):
    verif = tokens[Role.VERIFIKATOR]
    draft = recorded(counter, client, operator, application_dict(id=app_id(1)))
    second = submitted(counter, client, operator, application_dict(id=app_id(2)))
    found = flags(client, verif, second)
    assert summary(found) == {
        (nik, "open_application", draft) for nik in (HEAD_NIK, WIFE_NIK, CHILD_NIK)
    }
    assert {f["other"]["state"] for f in found} == {"draft"}

    # The draft is withdrawn; the second goes back and comes again: no flag is left.
    counter.counter.withdraw(draft, Reasons(text="Pemohon membatalkan"), operator_id=operator)
    assert [r["status"] for r in counter.push(client)] == ["applied"]
    reasons = {"items": ["kk_lama"], "text": "Foto KK lama buram"}
    assert decide(client, verif, second, "return", "submitted", reasons).status_code == 200
    counter.pull(client)
    counter.counter.resubmit(second, operator_id=operator)
    assert [r["status"] for r in counter.push(client)] == ["applied"]
    assert flags(client, verif, second) == []
    assert queue_flags(client, verif) == {second: 0}


def test_the_issued_kk_of_another_family_flags_but_the_familys_own_does_not(
    server, client, tokens, counter, operator
):
    verif = tokens[Role.VERIFIKATOR]
    old_card = issued(counter, client, operator, tokens, damaged_kk(1))

    # The same family replaces its card again: its own issued KK is no clash.
    again = submitted(counter, client, operator, damaged_kk(2))
    assert flags(client, verif, again) == []

    # A new family with the child of that family: the issued KK and the open one clash.
    child = dict(member_dict(2), shdk=4)
    newcomer = application_dict(id=app_id(3), attached_documents=TAKING_IN, members=[
        member_dict(0, nik="1606011403950005", nama="JOKO SUSILO"),
        member_dict(1, nik="1606016108970004", nama="SITI AMINAH"), child])  # fmt: skip
    new_family = submitted(counter, client, operator, newcomer)
    found = flags(client, verif, new_family)
    assert summary(found) == {
        (CHILD_NIK, "issued_kk", old_card),
        (CHILD_NIK, "open_application", again),
    }
    card = next(f for f in found if f["kind"] == "issued_kk")["other"]
    assert (card["kk_number"], card["state"], card["state_at_flag"]) == (
        FAMILY_KK,
        "issued",
        "issued",
    )


def test_a_superseded_kk_no_longer_counts(server, client, tokens, counter, operator):
    verif = tokens[Role.VERIFIKATOR]
    issued(counter, client, operator, tokens, damaged_kk(1))
    # The family's newer card no longer lists the child (moved out)...
    newer = issued(counter, client, operator, tokens, damaged_kk(2, members=[
        member_dict(0), member_dict(1)]))  # fmt: skip

    # ... so a family taking the child in clashes with nothing issued.
    child = dict(member_dict(2), shdk=4)
    head = member_dict(0, nik="1606011403950005", nama="JOKO SUSILO")
    taking_in = application_dict(id=app_id(3), members=[head, child], attached_documents=TAKING_IN)
    taker = submitted(counter, client, operator, taking_in)
    assert flags(client, verif, taker) == []
    # The head of the family is still on the newer card: that one counts.
    siti = member_dict(1, nik="1606016108970004", nama="SITI AMINAH")
    joiner = submitted(
        counter, client, operator, application_dict(id=app_id(4), members=[member_dict(0), siti])
    )
    assert summary(flags(client, verif, joiner)) == {(HEAD_NIK, "issued_kk", newer)}


def test_upgrading_a_database_indexes_the_niks_of_stored_applications(
    server, client, counter, operator
):
    first = recorded(counter, client, operator, application_dict(id=app_id(1)))
    db: Database = server.db
    # As a file from before this migration: none of the tables it and later ones create.
    start = server_db._MIGRATIONS.index(server_db._SCHEMA_CLAIMS_DUPLICATES)
    later = " ".join(s for m in server_db._MIGRATIONS[start:] for s in m)
    with db.write() as conn:
        for table in re.findall(r"CREATE TABLE (\w+)", later):
            conn.execute(f"DROP TABLE {table}")
        for table, column in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", later):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute(f"PRAGMA user_version = {start}")

    db.migrate()

    with db.read() as conn:
        rows = conn.execute(
            "SELECT application_id, nik, member_name FROM application_niks ORDER BY nik"
        ).fetchall()
    assert [tuple(r) for r in rows] == sorted(
        [(first, HEAD_NIK, "AHMAD FAUZI"), (first, WIFE_NIK, "RINA MARLINA"),
         (first, CHILD_NIK, "MUHAMMAD RIZKI")], key=lambda r: r[1])  # fmt: skip
