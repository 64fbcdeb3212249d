"""The webhook on a real server, fed by the fake Cloud API: verification, signatures checked
before parsing, statuses in any order flowing back to the counter, the template fallback
that Meta reports asynchronously, and the 24-hour window opened by the applicant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from protocol.application import Application
from protocol.whatsapp import DeliveryStatus
from protocol.workflow import Role
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.context import init_data_dir
from sync_server.services.application_read import read_application
from sync_server.storage import outbox as outbox_store
from tests.factories import application_dict
from tests.integration.conftest import RunningServer, add_operator, start_server
from tests.integration.test_whatsapp_cloud_api import (
    APPLICANT,
    INCOMPLETE,
    cloud_config,
    incomplete_application,
    issued,
    only_row,
)
from tests.integration.test_whatsapp_crash import cloud_env
from tests.integration.test_whatsapp_outbox import (
    outbox_rows,
    statuses_at_counter,
    wait_for,
)
from tests.support.fake_whatsapp import FakeCloudApi, sign_body
from tests.support.http import problem
from tests.support.server_process import ServerProcess, kk_server

WEBHOOK = "/api/v1/whatsapp/webhook"
VERIFY_TOKEN = "token-verifikasi-uji"


@pytest.fixture
def fake() -> Iterator[FakeCloudApi]:
    api = FakeCloudApi(seed=3).start()
    yield api
    api.stop()


@pytest.fixture
def server_config(tmp_path, fake, demo_pki) -> ServerConfig:
    config = cloud_config(tmp_path / "server", fake, tte_pki_dir=demo_pki)
    init_data_dir(config)
    return config


@pytest.fixture
def server(server_config, fake) -> Iterator[RunningServer]:
    running = start_server(server_config)
    fake.webhook_url = running.base_url + WEBHOOK
    yield running
    running.stop()


def test_get_verification_echoes_the_challenge_only_for_the_right_token(client):
    ok = client.get(
        WEBHOOK,
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": VERIFY_TOKEN,
            "hub.challenge": "1158201444",
        },
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert ok.headers["content-type"].startswith("text/plain")
    for params in (
        {"hub.mode": "subscribe", "hub.verify_token": "tebakan", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
    ):
        problem(client.get(WEBHOOK, params=params), 403, "whatsapp.verify_refused")


def test_a_post_without_a_valid_signature_is_refused_before_parsing(
    server, client, terminal, operator_id, fake
):
    fake.auto_statuses = False
    app_id = incomplete_application(terminal, client, operator_id)
    row = wait_for(lambda: (r := only_row(server, app_id)).status == "sent" and r)
    [sent] = fake.to_outbox(row.id)
    read = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {"field": "messages", "value": {"statuses": [fake.status(sent, "read")]}}
                    ],
                }
            ],
        }  # fmt: skip
    ).encode()
    headers = {"Content-Type": "application/json"}

    problem(client.post(WEBHOOK, content=read, headers=headers), 401, "whatsapp.bad_signature")
    wrong_key = {**headers, "X-Hub-Signature-256": sign_body("bukan-rahasia-aplikasi", read)}
    problem(client.post(WEBHOOK, content=read, headers=wrong_key), 401, "whatsapp.bad_signature")
    other_body = {**headers, "X-Hub-Signature-256": sign_body(fake.app_secret, read + b" ")}
    problem(client.post(WEBHOOK, content=read, headers=other_body), 401, "whatsapp.bad_signature")
    garbage = b"{not json"  # a bad signature is refused before the body is even parsed
    problem(client.post(WEBHOOK, content=garbage, headers=headers), 401, "whatsapp.bad_signature")
    assert only_row(server, app_id).status is DeliveryStatus.SENT  # nothing applied

    signed = {**headers, "X-Hub-Signature-256": sign_body(fake.app_secret, read)}
    assert client.post(WEBHOOK, content=read, headers=signed).status_code == 200
    assert only_row(server, app_id).status is DeliveryStatus.READ
    signed_garbage = {**headers, "X-Hub-Signature-256": sign_body(fake.app_secret, garbage)}
    problem(
        client.post(WEBHOOK, content=garbage, headers=signed_garbage), 400, "whatsapp.malformed"
    )


def test_issue_at_the_counter_to_read_shown_at_the_counter(
    server, client, terminal, operator_id, fake
):
    """The full path: the operator issues, the server sends the KK, WhatsApp reports
    statuses in any order with duplicates, and the counter shows the furthest one."""
    fake.open_windows.add(APPLICANT)
    fake.send_inbound_text(APPLICANT, "Selamat pagi, apakah KK saya sudah jadi?")
    fake.wait_idle()
    app_id, _, row = issued(server, terminal, client, operator_id, until="read")
    fake.wait_idle()
    assert set(fake.webhook_answers) == {200}
    [sent] = fake.to_outbox(row.id)
    assert sent.type == "document"  # the applicant wrote: inside the window, no template
    assert wait_for(lambda: statuses_at_counter(terminal, client, app_id) == ["read"])
    [shown] = terminal.store.message_statuses(app_id)
    assert (shown.purpose, shown.label) == ("kk_issued", "Dibaca")
    # ... and in the central view of the application
    verifikator = add_operator(server, "lia.verif", None, role="verifikator", full_name="Lia")
    detail = read_application(
        server.db, app_id, actor_id=verifikator, role=Role.VERIFIKATOR, client_ip="", now=utc_now()
    )
    [message] = detail["messages"]
    assert (message["purpose"], message["status"], message["status_label"]) == (
        "kk_issued",
        "read",
        "Dibaca",
    )


def test_statuses_in_any_order_end_at_the_furthest_for_every_message(
    server, client, terminal, operator_id, fake
):
    fake.open_windows.add(APPLICANT)
    terminal.pull(client)
    ids = []
    for _ in range(6):
        app = Application.from_dict(application_dict(id=str(uuid.uuid4())))
        terminal.counter.create_application(app, operator_id=operator_id)
        terminal.counter.mark_incomplete(app.id, INCOMPLETE, operator_id=operator_id)
        ids.append(app.id)
    terminal.push(client)
    with server.db.write() as conn:  # the applicant wrote recently
        outbox_store.touch_contact(conn, "+" + APPLICANT, "2999-01-01T00:00:00.000Z")

    rows = wait_for(
        lambda: (
            [r for i in ids for r in outbox_rows(server, i) if r.status == "read"]
            if all(only_row(server, i).status == "read" for i in ids)
            else None
        ),
        timeout=60,
    )
    assert len(rows) == 6
    assert all(len(fake.to_outbox(r.id)) == 1 for r in rows)


def test_a_131047_failure_reported_by_webhook_is_resent_as_the_template(
    server, client, terminal, operator_id, fake
):
    with server.db.write() as conn:  # we think the window is open; WhatsApp knows better
        outbox_store.touch_contact(conn, "+" + APPLICANT, "2999-01-01T00:00:00.000Z")
    app_id = incomplete_application(terminal, client, operator_id)

    row = wait_for(lambda: (r := only_row(server, app_id)).status == "read" and r, timeout=60)
    text, template = fake.to_outbox(row.id)
    assert (text.type, template.type) == ("text", "template")
    assert row.use_template and row.provider_id == template.wamid
    assert wait_for(lambda: statuses_at_counter(terminal, client, app_id) == ["read"])


def test_an_undeliverable_number_shows_failed_with_the_reason_at_the_counter(
    server, client, terminal, operator_id, fake
):
    fake.undeliverable.add(APPLICANT)
    app_id = incomplete_application(terminal, client, operator_id)

    row = wait_for(lambda: (r := only_row(server, app_id)).status == "failed" and r)
    assert row.error_code == "131026"
    assert wait_for(lambda: statuses_at_counter(terminal, client, app_id) == ["failed"])
    [shown] = terminal.store.message_statuses(app_id)
    assert "tidak dapat diantar" in shown.reason and shown.label == "Gagal"


def test_the_verify_token_never_reaches_the_access_log(tmp_path, fake):

    kk_server(tmp_path / "server", "init")
    log = tmp_path / "server.log"
    with ServerProcess(tmp_path / "server", env=cloud_env(fake), log=log) as process:
        process.start()
        params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
        assert httpx.get(process.base_url + WEBHOOK, params=params, timeout=30).text == "42"
        process.stop()
    text = log.read_text()
    assert WEBHOOK in text and VERIFY_TOKEN not in text
    assert fake.access_token not in text and fake.app_secret not in text
