"""The archive package (design.md §1) on a real server: the whole SOP path through the HTTP
API (counter push, verify, approve, sign, issue, archive) ends in one immutable ZIP whose
manifest names every file's SHA-256, retrievable by staff with the read in the access log;
an application whose signed KK is gone cannot be archived and stays issued.
"""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import stat
import zipfile

import pytest

from protocol.workflow import Role, State
from signing.demo_pki import FILES
from signing.tte import verify_kk
from sync_server.services.access_log import entries
from sync_server.storage import documents
from tests.integration.test_pull import server_app
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    counter,
    operator,
    staff,
    tokens,
)
from tests.integration.test_tte_workflow import approved, server_config, sign_batch  # noqa: F401
from tests.support.http import problem


@pytest.fixture(autouse=True)
def _quiet_pyhanko() -> None:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)


def archive_path(app_id: str) -> str:
    return f"/api/v1/applications/{app_id}/archive.zip"


def test_the_sop_path_ends_in_one_immutable_archive_package(
    server, client, tokens, counter, operator, demo_pki
):
    app_id = approved(counter, client, tokens, operator)
    signed = sign_batch(client, tokens[Role.KEPALA_DINAS], [app_id]).json()["results"][0]
    counter.pull(client)
    assert counter.store.get_application(app_id).state is State.SIGNED
    problem(client.get(archive_path(app_id), headers=tokens[Role.KABID]), 404,
            "archive.not_found")  # fmt: skip

    counter.counter.issue(app_id, operator_id=operator)
    counter.counter.archive(app_id, operator_id=operator)
    assert [r["status"] for r in counter.push(client)] == ["applied", "applied"]

    assert server_app(server, app_id)["state"] == "archived"
    response = client.get(archive_path(app_id), headers=tokens[Role.VERIFIKATOR])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    digest = hashlib.sha256(response.content).hexdigest()
    assert response.headers["etag"] == f'"{digest}"'
    package = zipfile.ZipFile(io.BytesIO(response.content))
    manifest = json.loads(package.read("manifest.json"))
    names = [f["name"] for f in manifest["files"]]
    assert names == ["application.json", "biodata.pdf", "kk.pdf", "audit.json"]
    assert sorted(package.namelist()) == sorted(["manifest.json", *names])
    for entry in manifest["files"]:
        data = package.read(entry["name"])
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (entry["sha256"], entry["size"])
    assert (manifest["application_id"], manifest["kk_number"]) == (app_id, signed["kk_number"])

    kk = package.read("kk.pdf")
    assert verify_kk(kk, [demo_pki / FILES["root_cert"]]).valid
    assert kk == client.get(f"/api/v1/applications/{app_id}/kk.pdf",
                            headers=tokens[Role.KABID]).content  # fmt: skip
    data = json.loads(package.read("application.json"))
    assert data["state"] == "archived" and data["application"]["id"] == app_id
    audit = json.loads(package.read("audit.json"))
    assert [e["action"] for e in audit["trail"]] == [
        "create", "submit", "verify", "approve", "sign", "issue", "archive"
    ]  # fmt: skip
    assert [e["seq"] for e in audit["change_events"]] == [1, 2, 3, 4]  # signed by the counter
    kinds = [e["kind"] for e in audit["server_events"]]
    assert kinds.count("application.decided") == 3 and "application.kk_ready" in kinds
    assert {e["action"] for e in audit["access_log"]} >= {"application.decided"}

    # stored once, read-only, the manifest's hash recorded
    with server.db.read() as conn:
        row = conn.execute("SELECT * FROM archives WHERE application_id = ?", (app_id,)).fetchone()
        reads = [e for e in entries(conn, application_id=app_id) if e.detail == "paket arsip"]
    assert row["sha256"] == digest
    assert row["manifest_sha256"] == hashlib.sha256(package.read("manifest.json")).hexdigest()
    stored = documents.path_of(server.config.documents_dir, digest)
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o440
    assert [r.role for r in reads] == ["verifikator"]


def test_without_its_signed_kk_an_application_is_not_archived(
    server, client, tokens, counter, operator
):
    app_id = approved(counter, client, tokens, operator)
    sign_batch(client, tokens[Role.KEPALA_DINAS], [app_id])
    counter.pull(client)
    counter.counter.issue(app_id, operator_id=operator)
    assert [r["status"] for r in counter.push(client)] == ["applied"]
    with server.db.read() as conn:
        sha = conn.execute(
            "SELECT sha256 FROM kk_documents WHERE application_id = ?", (app_id,)
        ).fetchone()[0]
    documents.path_of(server.config.documents_dir, sha).unlink()  # a disk lost the file

    counter.counter.archive(app_id, operator_id=operator)
    [result] = counter.push(client)

    assert (result["status"], result["code"]) == ("refused", "archive.incomplete")
    assert server_app(server, app_id)["state"] == "issued"
    with server.db.read() as conn:
        assert conn.execute("SELECT count(*) FROM archives").fetchone()[0] == 0
        trail = conn.execute(
            "SELECT action FROM application_events WHERE application_id = ? ORDER BY id",
            (app_id,),
        ).fetchall()
    assert trail[-1][0] == "issue"  # the archive move was undone with the package
