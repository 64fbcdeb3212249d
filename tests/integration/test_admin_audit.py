"""The admin's view of the access log over HTTP and ``kk-server audit verify`` as a real
subprocess, on a real uvicorn server and SQLite file: intact, then tampered with."""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import subprocess

import httpx

from protocol.workflow import Role
from tests.integration.test_pull import submitted_application
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    counter,
    decide,
    operator,
    staff,
    tokens,
)
from tests.support.http import problem
from tests.support.server_process import KK_SERVER, _clean_env

AUDIT = "/api/v1/admin/audit"
VERIFY = "/api/v1/admin/audit/verify"


def audit_verify(server) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KK_SERVER), "--data-dir", str(server.config.data_dir), "audit", "verify"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=60,
    )


def test_the_admin_pages_the_log_and_verifies_the_chain_as_the_cli_does(
    server, client, staff, tokens, counter, operator
):
    app_id = submitted_application(counter, client, operator)
    verif, admin = tokens[Role.VERIFIKATOR], tokens[Role.ADMIN]
    for _ in range(3):
        client.get(f"/api/v1/applications/{app_id}", headers=verif)
    assert client.post(f"/api/v1/applications/{app_id}/claim", headers=verif).is_success
    assert decide(client, verif, app_id, "verify", "submitted").is_success

    page = client.get(AUDIT, headers=admin, params={"limit": 2}).json()
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 0)
    assert [(r["seq"], r["action"]) for r in page["items"]] == [
        (5, "application.decided"),
        (4, "application.claimed"),
    ]
    assert page["items"][0]["actor_id"] == staff[Role.VERIFIKATOR]
    rest = client.get(AUDIT, headers=admin, params={"limit": 2, "offset": 4}).json()
    assert [r["seq"] for r in rest["items"]] == [1]
    of_app = client.get(AUDIT, headers=admin, params={"application_id": app_id}).json()
    assert of_app["total"] == 5
    none = client.get(AUDIT, headers=admin, params={"application_id": "lain"}).json()
    assert (none["total"], none["items"]) == (0, [])

    assert client.get(VERIFY, headers=admin).json() == {
        "intact": True,
        "rows": 5,
        "first_bad_seq": None,
    }
    done = audit_verify(server)
    assert done.returncode == 0, done.stderr
    assert "Jejak audit utuh: 5 catatan" in done.stdout

    with server.db.write() as conn:  # someone hides who read the file
        conn.execute("UPDATE access_log SET actor_id = 'orang-lain' WHERE seq = 2")

    assert client.get(VERIFY, headers=admin).json() == {
        "intact": False,
        "rows": 5,
        "first_bad_seq": 2,
    }
    done = audit_verify(server)
    assert done.returncode == 2, done.stdout
    assert "RUSAK mulai catatan nomor 2" in done.stderr
    assert "Traceback" not in done.stderr


def test_only_the_admin_reads_the_log(client, tokens):
    for role in (Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS):
        for path in (AUDIT, VERIFY):
            problem(client.get(path, headers=tokens[role]), 403, "auth.forbidden_role")
    problem(client.get(AUDIT), 401, "auth.token_missing")
    bad = client.get(AUDIT, headers=tokens[Role.ADMIN], params={"offset": -1})
    problem(bad, 400, "request.invalid_body")


def test_healthz_answers_while_the_database_does(server, client: httpx.Client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    # The database is gone (a wrong mount, a deleted volume): move it with its WAL aside.
    path = server.db.path
    for suffix in ("", "-wal", "-shm"):
        found = path.with_name(path.name + suffix)
        if found.exists():
            found.rename(path.with_name(f"moved-{path.name}{suffix}"))

    problem(client.get("/healthz"), 503, "server.unhealthy")
