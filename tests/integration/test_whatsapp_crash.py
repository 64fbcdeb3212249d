"""At-most-once across a crash: ``kk-server serve`` as a REAL process, killed with SIGKILL
after the Cloud API (the fake) received a message and before the server recorded the answer.

The restarted server must not send that message again: it is "perlu dicek" (``unknown``)
until the webhook's statuses, which carry the outbox id, settle it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from protocol.events import EventKind
from tests.factories import application_dict
from tests.integration.conftest import SEKAYU, DeviceLog, EnrolledDevice
from tests.support.fake_whatsapp import FakeCloudApi
from tests.support.server_process import (
    ServerProcess,
    encode_events,
    enroll,
    prepare_data_dir,
    signed_push,
)


@pytest.fixture
def fake() -> Iterator[FakeCloudApi]:
    api = FakeCloudApi(seed=11).start()
    yield api
    api.stop()


def cloud_env(fake: FakeCloudApi) -> dict[str, str]:
    return {
        "KK_SERVER_WHATSAPP_TRANSPORT": "cloud_api",
        "KK_SERVER_WHATSAPP_API_BASE_URL": fake.base_url,
        "KK_SERVER_WHATSAPP_PHONE_NUMBER_ID": fake.phone_number_id,
        "KK_SERVER_WHATSAPP_ACCESS_TOKEN": fake.access_token,
        "KK_SERVER_WHATSAPP_APP_SECRET": fake.app_secret,
        "KK_SERVER_WHATSAPP_VERIFY_TOKEN": "token-verifikasi-uji",
        "KK_SERVER_WHATSAPP_POLL_SECONDS": "0.05",
        "KK_SERVER_WHATSAPP_BACKOFF_SECONDS": "0.1",
    }


def outbox(db_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT id, status, attempts, reason FROM whatsapp_outbox").fetchall()
    return [dict(r) for r in rows]


def wait_for(condition: Any, *, timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def test_a_send_cut_by_sigkill_is_perlu_dicek_and_never_sent_twice(tmp_path, fake):
    prepared = prepare_data_dir(tmp_path / "server", {SEKAYU: 1})
    fake.hold = threading.Event()  # WhatsApp takes the message and then stays silent
    db_path = prepared.data_dir / "server.db"
    with ServerProcess(prepared.data_dir, env=cloud_env(fake), log=tmp_path / "log") as server:
        server.start()
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            counter = enroll(http, prepared.codes[SEKAYU][0])
            device = EnrolledDevice(counter.device_id, counter.kecamatan, counter.key, "")
            log = DeviceLog(device, prepared.operators[SEKAYU][0])
            app = application_dict()
            log.create(app)
            log.append(
                EventKind.MARKED_INCOMPLETE,
                app["id"],
                {"reasons": {"items": ["kk_lama"], "text": "Mohon kirim KK lama"}},
            )
            pushed = signed_push(http, counter, encode_events(log.wire()))
            assert pushed.status_code == 200, pushed.text

        assert fake.received.wait(60), "the message never reached the fake"
        server.kill()  # between the API call and recording its answer
        [row] = outbox(db_path)
        assert (row["status"], row["attempts"]) == ("sending", 1)
        fake.hold.set()  # the answer goes to a dead connection

        server.start()
        [row] = wait_for(
            lambda: [r for r in outbox(db_path) if r["status"] != "sending"],
            what="the interrupted send to be marked",
        )
        assert (row["status"], row["attempts"]) == ("unknown", 1)
        assert "tidak dikirim ulang" in row["reason"]
        time.sleep(1.0)  # twenty worker passes
        assert outbox(db_path)[0]["attempts"] == 1
        assert len(fake.to_outbox(row["id"])) == 1  # exactly one message ever reached WhatsApp

        # WhatsApp's statuses (retried by Meta while the server was down) settle it.
        fake.webhook_url = server.base_url + "/api/v1/whatsapp/webhook"
        [sent] = fake.to_outbox(row["id"])
        fake.post_statuses(sent, [fake.status(sent, "sent"), fake.status(sent, "delivered")])
        fake.wait_idle()
        assert [(r["status"], r["attempts"]) for r in outbox(db_path)] == [("delivered", 1)]
        assert len(fake.to_outbox(row["id"])) == 1
