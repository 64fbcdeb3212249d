"""The WhatsApp outbox with the console transport, on a real server: the counter's moves
and the centre's return enqueue messages in Bahasa Indonesia, the worker in the server's
lifespan writes them (and the KK PDF) under the data directory, and the counter sees each
message's status after its next pull.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from protocol.application import Application
from protocol.phone import normalize_whatsapp
from protocol.requirements import reason_label
from protocol.whatsapp import DeliveryStatus, MessagePurpose
from protocol.workflow import Reasons, Role, State
from signing.demo_pki import FILES
from signing.tte import verify_kk
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.context import init_data_dir
from sync_server.services import kk_signing
from sync_server.services.decisions import record_decision
from sync_server.services.whatsapp import outbox
from sync_server.services.whatsapp.console import CONSOLE_DIR
from sync_server.storage import changelog as log_store
from sync_server.storage import documents, kk_registry
from sync_server.storage import outbox as outbox_store
from tests.factories import HEAD_NIK, application_dict
from tests.integration.conftest import TTE_PASSPHRASE, RunningServer, add_operator, start_server
from tests.integration.test_pull import Terminal, submitted_application

INCOMPLETE = Reasons(items=("kk_lama",), text="Foto buku nikah terpotong di halaman 2")


@pytest.fixture
def server_config(tmp_path, demo_pki) -> ServerConfig:
    """The console transport, polling and backing off fast so tests wait little; the demo
    PKI signs KKs."""
    config = ServerConfig(
        data_dir=tmp_path / "server",
        tte_pki_dir=demo_pki,
        whatsapp_transport="console",
        whatsapp_poll_seconds=0.05,
        whatsapp_backoff_seconds=0.2,
        whatsapp_backoff_max_seconds=1.0,
    )
    init_data_dir(config)
    return config


def wait_for(condition: Callable[[], Any], *, timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy (generous: the machine is shared)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


def console_messages(server: RunningServer) -> list[Path]:
    directory = server.config.data_dir / CONSOLE_DIR
    return sorted(directory.glob("*.txt")) if directory.exists() else []


def outbox_rows(server: RunningServer, application_id: str) -> list[outbox_store.OutboxRow]:
    with server.db.read() as conn:
        return outbox_store.of_application(conn, application_id)


def statuses_at_counter(terminal: Terminal, client, application_id: str) -> list[str]:
    terminal.pull(client)
    return [m.status for m in terminal.store.message_statuses(application_id)]


def signed_application(server: RunningServer, terminal: Terminal, client, operator_id: str) -> str:
    """An application the centre verified, approved and signed (TTE with the demo PKI: the
    signed KK is stored on the server), pulled by the terminal."""
    app_id = submitted_application(terminal, client, operator_id)
    for action, role, username in (
        ("verify", Role.VERIFIKATOR, "sri.verif"),
        ("approve", Role.KABID, "hendra.kabid"),
    ):
        actor = add_operator(server, username, None, role=role.value, full_name=username)
        record_decision(
            server.db,
            application_id=app_id,
            action=action,
            role=role,
            actor_id=actor,
            actor_name=username,
            reasons=None,
            now=utc_now(),
        )
    kadis = add_operator(server, "kadis", None, role=Role.KEPALA_DINAS.value, full_name="Kadis")
    with kk_signing.open_signer(server.config, TTE_PASSPHRASE) as signer:
        [outcome] = kk_signing.sign_batch(
            server.db,
            server.config,
            signer,
            [app_id],
            actor_id=kadis,
            actor_name="Kadis",
            client_ip="",
            clock=utc_now,
        )
    assert outcome.refusal is None, outcome.refusal
    terminal.pull(client)
    assert terminal.store.get_application(app_id).state is State.SIGNED
    return app_id


def signed_kk(server: RunningServer, app_id: str) -> tuple[bytes, Path]:
    """The signed KK the server stored for ``app_id``, and its file."""
    with server.db.read() as conn:
        row = kk_registry.document_of_application(conn, app_id)
    assert row is not None
    return (
        documents.get(server.config.documents_dir, row.sha256),
        documents.path_of(server.config.documents_dir, row.sha256),
    )


def test_marking_incomplete_sends_the_missing_documents_and_the_counter_sees_it_sent(
    server, client, terminal, operator_id
):
    terminal.pull(client)
    app = Application.from_dict(application_dict())
    terminal.counter.create_application(app, operator_id=operator_id)
    terminal.counter.mark_incomplete(app.id, INCOMPLETE, operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied", "applied"]

    [path] = wait_for(lambda: console_messages(server), what="the console message")
    text = path.read_text("utf-8")
    assert f"Kepada     : {normalize_whatsapp(app.applicant.whatsapp)}" in text
    assert "belum lengkap" in text
    assert f"- {reason_label('kk_lama')}" in text  # the label, not the code
    assert "Catatan petugas: Foto buku nikah terpotong di halaman 2" in text
    assert app.id.replace("-", "")[:8].upper() in text  # the reference the applicant quotes
    # No personal data beyond need: neither the applicant's name nor any NIK.
    assert app.applicant.nama not in text and app.applicant.nama.upper() not in text
    assert HEAD_NIK not in text and app.applicant.nik not in text

    assert wait_for(
        lambda: statuses_at_counter(terminal, client, app.id) == ["sent"],
        what="the counter to see the message sent",
    )
    [row] = outbox_rows(server, app.id)
    assert (row.status, row.attempts, row.provider_id) == (
        DeliveryStatus.SENT,
        1,
        f"console.{row.id}",
    )


def test_a_central_return_notifies_the_applicant_with_the_reasons(
    server, client, terminal, operator_id
):
    app_id = submitted_application(terminal, client, operator_id)
    verifikator = add_operator(server, "sri.verif", None, role="verifikator", full_name="Sri")
    record_decision(
        server.db,
        application_id=app_id,
        action="return",
        role=Role.VERIFIKATOR,
        actor_id=verifikator,
        actor_name="Sri",
        reasons=Reasons(items=("kk_lama",), text="Foto KK lama buram, mohon pindai ulang"),
        now=utc_now(),
    )
    [path] = wait_for(lambda: console_messages(server), what="the console message")
    text = path.read_text("utf-8")
    assert "dikembalikan" in text and f"- {reason_label('kk_lama')}" in text and "buram" in text
    assert wait_for(lambda: statuses_at_counter(terminal, client, app_id) == ["sent"])


def test_issuing_sends_the_signed_kk_and_waits_while_it_cannot_be_read(
    server, client, terminal, operator_id, demo_pki
):
    app_id = signed_application(server, terminal, client, operator_id)
    # The stored KK was lost from the disk: the message waits, visibly, never goes bare.
    pdf, stored = signed_kk(server, app_id)
    stored.unlink()
    terminal.counter.issue(app_id, operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied"]
    [row] = wait_for(
        lambda: [r for r in outbox_rows(server, app_id) if r.error_code == "kk.not_ready"],
        what="the message to wait for the KK",
    )
    assert row.status is DeliveryStatus.QUEUED and "belum tersedia" in row.reason
    assert console_messages(server) == []

    documents.put(server.config.documents_dir, pdf)  # restored from the backup
    [path] = wait_for(lambda: console_messages(server), timeout=60, what="the KK message")
    text = path.read_text("utf-8")
    assert "sudah terbit" in text
    [attachment] = (server.config.data_dir / CONSOLE_DIR).glob("console-*.pdf")
    assert attachment.read_bytes() == pdf  # the signed KK itself
    assert verify_kk(pdf, [demo_pki / FILES["root_cert"]]).valid
    assert f"Lampiran   : {attachment.name}" in text
    assert wait_for(lambda: statuses_at_counter(terminal, client, app_id)[-1:] == ["sent"])

    # Archiving after the applicant has the KK sends the closing message.
    terminal.counter.archive(app_id, operator_id=operator_id)
    assert [r["status"] for r in terminal.push(client)] == ["applied"]
    wait_for(lambda: len(console_messages(server)) == 2, what="the KK-received message")
    assert [r.purpose for r in outbox_rows(server, app_id)] == ["kk_issued", "kk_received"]


def test_a_message_left_sending_by_a_dead_process_is_never_resent(
    server, client, terminal, operator_id
):
    """The outbox half of at-most-once (a real SIGKILL mid-call is in
    test_whatsapp_cloud_api): a row a dead process left ``sending`` becomes "perlu dicek"
    when the next process starts, the counter sees that, and the worker never sends it."""
    app_id = submitted_application(terminal, client, operator_id)
    server.stop()
    with server.db.write() as conn:
        record = log_store.get_application(conn, app_id)
        row = outbox.enqueue(conn, record, MessagePurpose.RETURNED, now=utc_now())
        assert outbox.claim(conn, row.id, now=utc_now()) is not None  # then the process died

    again = start_server(server.config)
    try:
        with httpx.Client(base_url=again.base_url, timeout=30) as http:
            [after] = wait_for(
                lambda: [r for r in outbox_rows(again, app_id) if r.status != "sending"]
            )
            assert (after.status, after.attempts) == (DeliveryStatus.UNKNOWN, 1)
            assert "tidak dikirim ulang" in after.reason
            assert statuses_at_counter(terminal, http, app_id) == ["unknown"]
            time.sleep(0.5)  # ten worker passes: none may pick it up
            [still] = outbox_rows(again, app_id)
            assert (still.status, still.attempts) == (DeliveryStatus.UNKNOWN, 1)
            assert console_messages(again) == []
    finally:
        again.stop()
