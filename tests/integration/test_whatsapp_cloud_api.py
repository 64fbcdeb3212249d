"""The Cloud API transport against the faithful fake (tests/support/fake_whatsapp.py), on a
real server: what goes on the wire, each error code's consequence, and at-most-once across a
SIGKILL between the API call and recording its answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner

from protocol.application import Application
from protocol.phone import normalize_whatsapp
from protocol.whatsapp import DeliveryStatus
from protocol.workflow import Reasons
from sync_server.cli import main as kk_server
from sync_server.clock import stamp, utc_now
from sync_server.config import ServerConfig
from sync_server.context import init_data_dir
from sync_server.storage import outbox as outbox_store
from tests.factories import application_dict
from tests.integration.conftest import RunningServer
from tests.integration.test_whatsapp_outbox import (
    outbox_rows,
    signed_application,
    signed_kk,
    statuses_at_counter,
    wait_for,
)
from tests.support.fake_whatsapp import FakeCloudApi

APPLICANT = normalize_whatsapp(application_dict()["applicant"]["whatsapp"]).lstrip("+")
INCOMPLETE = Reasons(items=("kk_lama",), text="Mohon kirim foto KK lama")


@pytest.fixture
def fake() -> Iterator[FakeCloudApi]:
    api = FakeCloudApi(seed=7).start()
    yield api
    api.stop()


def cloud_config(data_dir, fake: FakeCloudApi, **extra) -> ServerConfig:
    return ServerConfig(
        data_dir=data_dir,
        whatsapp_transport="cloud_api",
        whatsapp_api_base_url=fake.base_url,
        whatsapp_phone_number_id=fake.phone_number_id,
        whatsapp_access_token=fake.access_token,
        whatsapp_app_secret=fake.app_secret,
        whatsapp_verify_token="token-verifikasi-uji",
        whatsapp_poll_seconds=0.05,
        whatsapp_backoff_seconds=0.1,
        whatsapp_backoff_max_seconds=1.0,
        whatsapp_timeout_seconds=10.0,
        **extra,
    )


@pytest.fixture
def server_config(tmp_path, fake, demo_pki) -> ServerConfig:
    config = cloud_config(tmp_path / "server", fake, tte_pki_dir=demo_pki)
    init_data_dir(config)
    return config


def open_window(server: RunningServer, phone: str) -> None:
    """The applicant wrote to the office a moment ago (what an inbound webhook records)."""
    with server.db.write() as conn:
        outbox_store.touch_contact(conn, "+" + phone.lstrip("+"), stamp(utc_now()))


def incomplete_application(terminal, client, operator_id: str) -> str:
    terminal.pull(client)
    app = Application.from_dict(application_dict())
    terminal.counter.create_application(app, operator_id=operator_id)
    terminal.counter.mark_incomplete(app.id, INCOMPLETE, operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied", "applied"]
    return app.id


def only_row(server: RunningServer, app_id: str) -> outbox_store.OutboxRow:
    [row] = outbox_rows(server, app_id)
    return row


def issued(server: RunningServer, terminal, client, operator_id: str, *, until: str) -> tuple:
    """Sign an application, issue it at the counter, wait until its KK message is ``until``;
    the application, its signed KK and the outbox row."""
    app_id = signed_application(server, terminal, client, operator_id)
    pdf, _ = signed_kk(server, app_id)
    terminal.counter.issue(app_id, operator_id=operator_id)
    terminal.push(client)
    row = wait_for(lambda: (r := only_row(server, app_id)).status == until and r)
    return app_id, pdf, row


def test_the_kk_goes_as_a_document_with_file_name_and_caption_inside_the_window(
    server, client, terminal, operator_id, fake
):
    open_window(server, APPLICANT)
    _, pdf, row = issued(server, terminal, client, operator_id, until="sent")
    [sent] = fake.to_outbox(row.id)
    document = sent.payload["document"]
    assert (sent.type, sent.to) == ("document", APPLICANT)
    assert fake.media[document["id"]] == (pdf, "application/pdf")  # uploaded as media
    assert document["filename"] == f"KK-{row.params['reference']}.pdf"
    assert "sudah terbit" in document["caption"] and len(document["caption"]) <= 1024
    assert row.provider_id == sent.wamid and row.media_id == document["id"]


def test_outside_the_window_the_approved_template_carries_the_kk(
    server, client, terminal, operator_id, fake
):
    _, pdf, row = issued(server, terminal, client, operator_id, until="sent")
    [sent] = fake.to_outbox(row.id)
    template = sent.payload["template"]
    assert (sent.type, template["name"], template["language"]) == (
        "template",
        "kk_terbit",
        {"code": "id"},
    )
    header, body = template["components"]
    assert fake.media[header["parameters"][0]["document"]["id"]][0] == pdf
    assert body["parameters"] == [{"type": "text", "text": row.params["reference"]}]


def test_131047_answered_at_once_falls_back_to_the_template(
    server, client, terminal, operator_id, fake
):
    open_window(server, APPLICANT)  # we believe the window is open; WhatsApp says otherwise
    fake.sync_errors[APPLICANT] = 131047
    app_id = incomplete_application(terminal, client, operator_id)

    row = wait_for(lambda: (r := only_row(server, app_id)).status == "sent" and r)
    [sent] = fake.to_outbox(row.id)  # the refused free-form message was never accepted
    assert sent.type == "template"
    assert sent.payload["template"]["name"] == "kk_dokumen_belum_lengkap"
    assert [p["text"] for p in sent.payload["template"]["components"][0]["parameters"]] == [
        row.params["reference"],
        "KK lama; Mohon kirim foto KK lama",
    ]
    assert (row.use_template, row.attempts, row.error_code) == (True, 2, "131047")


def test_130429_backs_off_and_sends_once(server, client, terminal, operator_id, fake):
    fake.throttle = 2
    app_id = incomplete_application(terminal, client, operator_id)

    row = wait_for(lambda: (r := only_row(server, app_id)).status == "sent" and r)
    assert row.attempts == 3 and row.error_code == "130429"
    assert len(fake.to_outbox(row.id)) == 1


def test_131026_is_a_visible_failure_at_the_counter(server, client, terminal, operator_id, fake):
    fake.sync_errors[APPLICANT] = 131026
    app_id = incomplete_application(terminal, client, operator_id)

    row = wait_for(lambda: (r := only_row(server, app_id)).status == "failed" and r)
    assert row.error_code == "131026" and "tidak dapat diantar" in row.reason
    assert row.attempts == 1 and fake.to_outbox(row.id) == []
    assert statuses_at_counter(terminal, client, app_id) == ["failed"]


def test_a_failed_message_is_listed_and_resent_by_the_admin(
    server, client, terminal, operator_id, fake
):
    fake.sync_errors[APPLICANT] = 131026
    app_id = incomplete_application(terminal, client, operator_id)
    failed = wait_for(lambda: (r := only_row(server, app_id)).status == "failed" and r)

    data_dir = ["--data-dir", str(server.config.data_dir)]
    listed = CliRunner().invoke(kk_server, [*data_dir, "whatsapp", "outbox", "--status", "failed"])
    assert listed.exit_code == 0 and failed.id in listed.output and "Gagal" in listed.output
    assert APPLICANT not in listed.output  # numbers are masked
    refused = CliRunner().invoke(kk_server, [*data_dir, "whatsapp", "resend", "tidak-ada"])
    assert refused.exit_code == 1 and "tidak ada" in refused.output

    del fake.sync_errors[APPLICANT]  # the applicant fixed their WhatsApp
    again = CliRunner().invoke(kk_server, [*data_dir, "whatsapp", "resend", failed.id])
    assert again.exit_code == 0, again.output
    rows = wait_for(lambda: (found := outbox_rows(server, app_id))[-1].status == "sent" and found)
    assert [r.status for r in rows] == ["failed", "sent"]
    assert len(fake.to_outbox(rows[1].id)) == 1 and fake.to_outbox(failed.id) == []
    twice = CliRunner().invoke(kk_server, [*data_dir, "whatsapp", "resend", rows[1].id])
    assert twice.exit_code == 1 and "tidak dikirim ulang" in twice.output
    # The failed one was re-sent already: asking again must not make a third message.
    same = CliRunner().invoke(kk_server, [*data_dir, "whatsapp", "resend", failed.id])
    assert same.exit_code == 1 and "sudah diminta dikirim ulang" in same.output
    assert [r.resent_as for r in outbox_rows(server, app_id)] == [rows[1].id, None]


def test_an_expired_token_alerts_the_admin_and_sending_resumes_once_fixed(
    server, client, terminal, operator_id, fake
):
    fake.token_expired = True
    app_id = incomplete_application(terminal, client, operator_id)

    alerts = wait_for(lambda: _alerts(server), what="an admin alert")
    assert alerts[0].code == "190" and "ACCESS_TOKEN" in alerts[0].detail
    assert fake.access_token not in alerts[0].detail
    row = only_row(server, app_id)
    assert row.status is DeliveryStatus.QUEUED and row.error_code == "190"

    fake.token_expired = False  # the admin put a new token in place
    row = wait_for(lambda: (r := only_row(server, app_id)).status == "sent" and r, timeout=60)
    assert len(fake.to_outbox(row.id)) == 1


def test_an_unreachable_api_is_retried_without_doubling(
    server, client, terminal, operator_id, fake, tmp_path
):
    fake.stop()  # connection refused: nothing can have reached WhatsApp
    app_id = incomplete_application(terminal, client, operator_id)
    row = wait_for(
        lambda: (r := only_row(server, app_id)).attempts >= 2 and r.status == "queued" and r
    )
    assert row.error_code == "http.connect" and "tidak dapat dihubungi" in row.reason
    assert row.next_attempt_at <= stamp(utc_now() + timedelta(seconds=2))


def _alerts(server: RunningServer) -> list[outbox_store.Alert]:
    with server.db.read() as conn:
        return outbox_store.list_alerts(conn)
