"""The Kepala Dinas's TTE through the HTTP API on a real server with the demo PKI: the
server numbers, renders and signs the KK at PAdES B-LT, stores it, and tells the counter;
a wrong passphrase signs nothing and never reaches a log; a kept number supersedes the
earlier KK; the SIAK allocator signs only with a number staff entered; the verifikator and
Kabid read the DRAF KK and Biodata with every read in the access log.
"""

# The fixtures are shared with test_staff_decisions; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pypdf import PdfReader

from protocol.application import Application
from protocol.workflow import Role, State
from signing.demo_pki import FILES
from signing.requests import sign_request
from signing.scan_cipher import open_scan
from signing.sealed_box import box_public_b64, generate_box_key
from signing.tte import verify_kk
from sync_server.config import ServerConfig
from sync_server.errors import Refusal
from sync_server.services import kk_signing
from sync_server.services.access_log import entries, verify_audit_chain
from tests.factories import application_dict
from tests.integration.conftest import (
    TTE_PASSPHRASE,
    RunningServer,
    enroll_device,
    table_count,
    tte_config,
)
from tests.integration.test_pull import Terminal, server_app, signed_get
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    counter,
    decide,
    operator,
    staff,
    tokens,
)
from tests.support.http import problem

SIGN_BATCH = "/api/v1/tte/sign-batch"
FAMILY_KK = "1606011503150007"  # the family's existing KK (issued before this system)
DATA_CHANGE = {"service_type": "PERUBAHAN_DATA", "sub_type": 3, "peristiwa": None}
LOST = {"service_type": "HILANG_RUSAK", "sub_type": 1, "peristiwa": None}
DATA_CHANGE_DOCS = ["f102", "kk_lama", "f106", "bukti_perubahan_data"]
LOST_DOCS = ["f102", "surat_hilang_polisi", "ktp_el"]


@pytest.fixture(autouse=True)
def _quiet_pyhanko() -> None:
    logging.getLogger("pyhanko").setLevel(logging.ERROR)


@pytest.fixture
def server_config(tmp_path, demo_pki, request):
    """A server signing with the demo PKI; ``indirect`` parameter: the KK number allocator."""
    return tte_config(tmp_path, demo_pki, kk_number_allocator=getattr(request, "param", "demo"))


def approved(
    terminal: Terminal,
    client: httpx.Client,
    tokens: dict[Role, dict[str, str]],
    operator: str,
    *,
    state: str = "approved",
    **changes: Any,
) -> str:
    """A new application pushed by the counter and moved by staff up to ``state``."""
    terminal.pull(client)
    app = Application.from_dict(application_dict(id=str(uuid.uuid4()), **changes))
    terminal.counter.create_application(app, operator_id=operator)
    terminal.counter.submit(app.id, operator_id=operator)
    assert [r["status"] for r in terminal.push(client)] == ["applied", "applied"]
    moves = [(Role.VERIFIKATOR, "verify", "submitted"), (Role.KABID, "approve", "verified")]
    for role, action, before in moves[: ["submitted", "verified", "approved"].index(state)]:
        response = decide(client, tokens[role], app.id, action, before)
        assert response.status_code == 200, response.text
    return app.id


def sign_batch(
    client: httpx.Client, headers: dict[str, str], ids: list[str], passphrase: str = TTE_PASSPHRASE
) -> httpx.Response:
    return client.post(
        SIGN_BATCH, json={"application_ids": ids, "passphrase": passphrase}, headers=headers
    )


def documents(server: RunningServer) -> list[dict[str, Any]]:
    with server.db.read() as conn:
        rows = conn.execute("SELECT * FROM kk_documents ORDER BY id").fetchall()
    return [dict(r) for r in rows]


def test_a_batch_is_signed_numbered_stored_and_reaches_the_counter(
    server, client, tokens, counter, operator, demo_pki
):
    ids = [approved(counter, client, tokens, operator) for _ in range(2)]

    response = sign_batch(client, tokens[Role.KEPALA_DINAS], ids)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["signed"], body["refused"]) == (2, 0)
    numbers = [r["kk_number"] for r in body["results"]]
    assert [r["application_id"] for r in body["results"]] == ids
    assert len(set(numbers)) == 2 and all(n.startswith("160601") for n in numbers)
    for app_id, result in zip(ids, body["results"], strict=True):
        assert server_app(server, app_id)["state"] == "signed"
        assert result["verification_url"].startswith("https://kk.mubakab.go.id/verifikasi/")
        pdf = client.get(f"/api/v1/applications/{app_id}/kk.pdf", headers=tokens[Role.KABID])
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["cache-control"] == "no-store"
        verdict = verify_kk(pdf.content, [demo_pki / FILES["root_cert"]])
        assert verdict.valid, verdict.message
        assert "Kepala Dinas" in verdict.signer
        reader = PdfReader(io.BytesIO(pdf.content))
        assert result["kk_number"] in reader.pages[0].extract_text()
        annots = [a.get_object() for a in reader.pages[0]["/Annots"]]
        links = [a["/A"]["/URI"] for a in annots if a.get("/Subtype") == "/Link"]
        assert result["verification_url"] in links  # the QR code's link annotation

    # the counter learns the KK is ready on its next pull, after the decision
    assert counter.pull(client) == 2 + 2 + 2  # app 2 verify/approve, two signs, two ready
    for app_id, number in zip(ids, numbers, strict=True):
        assert counter.store.get_application(app_id).state is State.SIGNED
        ready = counter.store.kk_document(app_id)
        assert ready is not None and ready.kk_number == number
        assert ready.document["media_type"] == "application/pdf"
        assert len(ready.document["sha256"]) == 64


def test_a_wrong_passphrase_signs_nothing_and_is_never_logged(
    server, client, tokens, counter, operator, caplog
):
    app_id = approved(counter, client, tokens, operator)
    before = {t: table_count(server, t) for t in ("feed", "kk_numbers", "access_log")}
    wrong = "salah-sandi-RAHASIA-42"
    caplog.set_level(logging.DEBUG)

    response = sign_batch(client, tokens[Role.KEPALA_DINAS], [app_id], wrong)

    problem(response, 422, "tte.key_unreadable")
    # a NUL in the passphrase (found by fuzzing: it crashed the PKCS#12 loader) is refused
    nul = sign_batch(client, tokens[Role.KEPALA_DINAS], [app_id], TTE_PASSPHRASE + "\x00")
    problem(nul, 422, "tte.key_unreadable")
    assert server_app(server, app_id)["state"] == "approved"
    assert {t: table_count(server, t) for t in before} == before
    # a malformed request with a passphrase does not echo it either
    bad = client.post(
        SIGN_BATCH,
        json={"application_ids": [], "passphrase": wrong},
        headers=tokens[Role.KEPALA_DINAS],
    )
    problem(bad, 400, "request.invalid_body")
    ok = sign_batch(client, tokens[Role.KEPALA_DINAS], [app_id])
    assert ok.json()["signed"] == 1
    for secret in (wrong, TTE_PASSPHRASE):
        assert secret not in caplog.text
        assert secret not in response.text + bad.text + ok.text
        assert secret.encode() not in server.config.db_path.read_bytes()


def test_one_refused_application_does_not_stop_the_batch(server, client, tokens, counter, operator):
    ready = approved(counter, client, tokens, operator)
    early = approved(counter, client, tokens, operator, state="verified")

    response = sign_batch(client, tokens[Role.KEPALA_DINAS], [early, ready, "tidak-ada"])

    body = response.json()
    assert (body["signed"], body["refused"]) == (1, 2)
    by_id = {r["application_id"]: r for r in body["results"]}
    assert by_id[ready]["status"] == "signed"
    assert (by_id[early]["code"], by_id[early]["http_status"]) == ("decision.conflict", 409)
    assert by_id["tidak-ada"]["code"] == "application.unknown"
    assert server_app(server, early)["state"] == "verified"
    assert [d["application_id"] for d in documents(server)] == [ready]
    # signing the same application again is a conflict, never a second KK
    again = sign_batch(client, tokens[Role.KEPALA_DINAS], [ready]).json()
    assert again["results"][0]["code"] == "decision.conflict"
    assert len(documents(server)) == 1


def test_a_kept_number_supersedes_the_earlier_kk(server, client, tokens, counter, operator):
    family = {"kk_number": FAMILY_KK}
    changed = approved(
        counter, client, tokens, operator,
        service=DATA_CHANGE, attached_documents=DATA_CHANGE_DOCS, **family,
    )  # fmt: skip
    first = sign_batch(client, tokens[Role.KEPALA_DINAS], [changed]).json()["results"][0]
    assert (first["kk_number"], first["superseded"]) == (FAMILY_KK, 0)
    lost = approved(
        counter, client, tokens, operator,
        service=LOST, attached_documents=LOST_DOCS, **family,
    )  # fmt: skip

    second = sign_batch(client, tokens[Role.KEPALA_DINAS], [lost]).json()["results"][0]

    assert (second["kk_number"], second["superseded"]) == (FAMILY_KK, 1)
    older, newer = documents(server)
    assert older["application_id"] == changed and newer["application_id"] == lost
    assert older["superseded_by"] == newer["id"] and older["superseded_at"] is not None
    assert newer["superseded_at"] is None
    with server.db.read() as conn:
        source = conn.execute(
            "SELECT source FROM kk_numbers WHERE kk_number = ?", (FAMILY_KK,)
        ).fetchone()[0]
    assert source == "existing"


def test_the_single_sign_decision_needs_the_passphrase(server, client, tokens, counter, operator):
    app_id = approved(counter, client, tokens, operator)
    kadis = tokens[Role.KEPALA_DINAS]

    problem(decide(client, kadis, app_id, "sign", "approved"), 422, "tte.passphrase_required")
    assert server_app(server, app_id)["state"] == "approved"
    body = {"action": "sign", "expected_state": "approved", "passphrase": TTE_PASSPHRASE}
    response = client.post(f"/api/v1/applications/{app_id}/decisions", json=body, headers=kadis)

    assert response.status_code == 200, response.text
    assert response.json()["to_state"] == "signed"
    assert [d["application_id"] for d in documents(server)] == [app_id]


def test_drafts_for_the_verifier_and_kabid_are_watermarked_and_logged(
    server, client, tokens, counter, operator
):
    app_id = approved(counter, client, tokens, operator, state="submitted")
    verif = tokens[Role.VERIFIKATOR]

    kk = client.get(f"/api/v1/applications/{app_id}/draft-kk.pdf", headers=verif)
    bio = client.get(f"/api/v1/applications/{app_id}/biodata.pdf", headers=tokens[Role.KABID])

    for response in (kk, bio):
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
        assert "DRAF" in text and "AHMAD FAUZI" in text
        assert b"/Sig" not in response.content  # unsigned
    problem(client.get(f"/api/v1/applications/{app_id}/kk.pdf", headers=verif), 404,
            "document.not_signed")  # fmt: skip
    problem(client.get("/api/v1/applications/x/draft-kk.pdf", headers=verif), 404,
            "application.unknown")  # fmt: skip
    with server.db.read() as conn:
        reads = [e for e in entries(conn) if e.action == "document.read"]
    assert [(e.role, e.detail, e.application_id) for e in reads] == [
        ("verifikator", "draf KK", app_id),
        ("kabid", "biodata penduduk", app_id),
    ]
    assert verify_audit_chain(server.db) == (True, None)


def test_without_a_pki_or_passphrase_nothing_can_be_signed(tmp_path, demo_pki):
    with pytest.raises(Refusal) as caught:
        with kk_signing.open_signer(ServerConfig(data_dir=tmp_path), TTE_PASSPHRASE):
            pass
    assert (caught.value.code, caught.value.status) == ("tte.not_configured", 503)
    with pytest.raises(Refusal) as caught:
        with kk_signing.open_signer(ServerConfig(data_dir=tmp_path, tte_pki_dir=demo_pki), ""):
            pass
    assert (caught.value.code, caught.value.status) == ("tte.passphrase_required", 422)


@pytest.mark.parametrize("server_config", ["siak"], indirect=True)
def test_the_siak_allocator_signs_with_the_number_staff_entered(
    server, client, tokens, counter, operator
):
    app_id = approved(counter, client, tokens, operator)
    other = approved(counter, client, tokens, operator)
    kadis, verif = tokens[Role.KEPALA_DINAS], tokens[Role.VERIFIKATOR]

    def enter(app: str, number: str, headers: dict[str, str] = verif) -> httpx.Response:
        path = f"/api/v1/applications/{app}/kk-number"
        return client.put(path, json={"kk_number": number}, headers=headers)

    missing = sign_batch(client, kadis, [app_id]).json()["results"][0]
    assert (missing["code"], missing["http_status"]) == ("kk_number.siak_missing", 409)
    assert server_app(server, app_id)["state"] == "approved"
    assert table_count(server, "kk_numbers") == 0

    problem(enter(app_id, "12345"), 422, "kk_number.invalid")
    problem(enter(app_id, "1607012511260001"), 422, "kk_number.wrong_kecamatan")
    problem(enter(app_id, "1606012511260001", kadis), 403, "auth.forbidden_role")
    assert enter(app_id, "1606012511260009").status_code == 200
    assert enter(app_id, "1606012511260001", tokens[Role.KABID]).status_code == 200  # corrected
    problem(enter(other, "1606012511260001"), 409, "kk_number.taken")

    signed = sign_batch(client, kadis, [app_id]).json()["results"][0]

    assert (signed["status"], signed["kk_number"]) == ("signed", "1606012511260001")
    problem(enter(app_id, "1606012511260002"), 409, "kk_number.locked")
    with server.db.read() as conn:
        rows = conn.execute("SELECT kk_number, source FROM kk_numbers").fetchall()
    assert [tuple(r) for r in rows] == [("1606012511260001", "siak")]


def test_two_signing_sessions_at_once_sign_each_kk_exactly_once(
    server, client, tokens, counter, operator
):
    ids = [approved(counter, client, tokens, operator) for _ in range(3)]
    kadis = tokens[Role.KEPALA_DINAS]
    answers: list[dict[str, Any]] = []

    def session() -> None:
        with httpx.Client(base_url=server.base_url, timeout=120) as own:
            answers.append(sign_batch(own, kadis, ids).json())

    threads = [threading.Thread(target=session) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    results = [r for answer in answers for r in answer["results"]]
    assert len(results) == 6
    for app_id in ids:
        mine = [r for r in results if r["application_id"] == app_id]
        assert sorted(r["status"] for r in mine) == ["refused", "signed"]
        assert [r["code"] for r in mine if r["status"] == "refused"] == ["decision.conflict"]
    assert sorted(d["application_id"] for d in documents(server)) == sorted(ids)
    assert table_count(server, "kk_numbers") == 3


def register_box_key(client: httpx.Client, device) -> X25519PrivateKey:
    """What a counter's sync engine does after the first unlock: its box key, signed."""
    key = generate_box_key()
    target = "/api/v1/sync/documents/box-key"
    body = json.dumps({"box_public_key": box_public_b64(key)}).encode()
    signed = sign_request(device.key, device.device_id, "PUT", target, body, now=datetime.now(UTC))
    answer = client.put(
        target, content=body, headers={**signed, "Content-Type": "application/json"}
    )
    assert answer.status_code in (200, 204), answer.text
    return key


def test_the_owning_counter_gets_its_signed_kk_sealed_for_it_alone(
    server, client, tokens, counter, operator
):
    app_id = approved(counter, client, tokens, operator)
    path = f"/api/v1/sync/documents/{app_id}?offset=0&length=1000000"
    box = register_box_key(client, counter.device)
    problem(signed_get(client, counter.device, path), 404, "document.not_signed")
    sign_batch(client, tokens[Role.KEPALA_DINAS], [app_id])
    counter.pull(client)
    ready = counter.store.kk_document(app_id)
    assert ready is not None

    response = signed_get(client, counter.device, path)

    assert response.status_code == 200, response.text
    assert response.headers["x-kk-blob-size"] == str(len(response.content))
    assert hashlib.sha256(response.content).hexdigest() == response.headers["x-kk-blob-sha256"]
    pdf = open_scan(response.content, box)  # only this counter's key opens it
    assert hashlib.sha256(pdf).hexdigest() == ready.document["sha256"]
    assert len(pdf) == ready.document["size"] and pdf.startswith(b"%PDF")
    other = enroll_device(server, client)  # another counter of the same kecamatan
    register_box_key(client, other)
    problem(signed_get(client, other, path), 404, "document.not_signed")  # nothing disclosed
    with server.db.read() as conn:
        [logged] = [e for e in entries(conn, application_id=app_id) if e.role == "device"]
    assert (logged.actor_id, logged.detail) == (
        counter.device_id,
        "KK bertanda tangan dienkripsi untuk loket",
    )
