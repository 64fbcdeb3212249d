"""Documents applicants send to the office number, through the fake Cloud API and a real
server: routed to the inbox of the kecamatan of the sender's pending application (or the
central inbox), downloaded, checked by content and size, stored encrypted, announced to the
kecamatan's counter, and attached to an application.
"""

# The fixtures are shared with test_whatsapp_webhook; tests name them as parameters.
# ruff: noqa: F811

from __future__ import annotations

import pytest

from signing.sealed_box import load_box_key
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.context import init_data_dir
from sync_server.errors import Refusal
from sync_server.services.whatsapp import inbound
from sync_server.services.whatsapp.scan_store import EncryptedScanStore
from sync_server.storage import inbox as inbox_store
from sync_server.storage.scans import BlobStore
from tests.integration.conftest import LAIS, RunningServer, add_operator
from tests.integration.test_whatsapp_cloud_api import (
    APPLICANT,
    cloud_config,
    incomplete_application,
)
from tests.integration.test_whatsapp_outbox import wait_for
from tests.integration.test_whatsapp_webhook import fake, server  # noqa: F401 (fixtures)
from tests.support.scan_samples import jpeg_scan, pdf_scan

LIMIT = 200_000
STRANGER = "6289912345678"


@pytest.fixture
def server_config(tmp_path, fake) -> ServerConfig:
    config = cloud_config(tmp_path / "server", fake, whatsapp_inbound_max_bytes=LIMIT)
    init_data_dir(config)
    return config


def items(server: RunningServer) -> list[inbox_store.InboxItem]:
    with server.db.read() as conn:
        rows = conn.execute("SELECT id FROM whatsapp_inbox ORDER BY id").fetchall()
        return [inbox_store.get(conn, r["id"]) for r in rows]


def settled(server: RunningServer, count: int) -> list[inbox_store.InboxItem]:
    """Wait until ``count`` items exist and none is pending."""
    return wait_for(
        lambda: (
            (found := items(server))
            and len(found) == count
            and all(i.status != "pending" for i in found)
            and found
        ),
        what=f"{count} settled inbox items",
    )


def test_a_document_from_the_applicant_lands_encrypted_in_the_kecamatan_inbox(
    server, client, terminal, operator_id, fake
):
    app_id = incomplete_application(terminal, client, operator_id)
    scan = pdf_scan("Buku Nikah halaman 2")
    fake.send_inbound_media(APPLICANT, scan, "application/pdf", filename="buku nikah.pdf")

    [item] = settled(server, 1)
    assert (item.status, item.kecamatan, item.application_id) == ("stored", "160601", app_id)
    assert (item.media_type, item.size, item.sender) == (
        "application/pdf",
        len(scan),
        "+" + APPLICANT,
    )
    blob_files = [p for p in server.config.scans_dir.rglob("*") if p.is_file()]
    assert len(blob_files) == 1 and scan not in blob_files[0].read_bytes()  # encrypted at rest
    assert blob_files[0].read_bytes().startswith(b"KKSC")
    store = EncryptedScanStore(
        BlobStore(server.config.scans_dir), load_box_key(server.config.box_key_path)
    )
    assert store.get(item.scan_id) == scan  # opens with the server's scan key

    terminal.pull(client)
    [shown] = terminal.store.inbox_documents()
    assert (shown.item_id, shown.scan_id, shown.application_id) == (item.id, item.scan_id, app_id)

    # The operator attaches it to the application (of the same kecamatan only).
    attached = inbound.attach(server.db, item.id, app_id, actor_id=operator_id, now=utc_now())
    assert (attached.attached_to, attached.attached_by) == (app_id, operator_id)


def test_an_unknown_sender_goes_to_the_central_inbox(server, client, terminal, operator_id, fake):
    terminal.pull(client)
    fake.send_inbound_media(STRANGER, jpeg_scan(), "image/jpeg", kind="image")

    [item] = settled(server, 1)
    assert (item.status, item.kecamatan, item.application_id) == ("stored", None, None)
    assert item.media_type == "image/jpeg"
    terminal.pull(client)
    assert terminal.store.inbox_documents() == []  # no counter sees the central inbox
    with server.db.read() as conn:
        assert [i.id for i in inbox_store.of_kecamatan(conn, None)] == [item.id]


def test_type_is_judged_by_content_and_size_is_limited(server, client, terminal, operator_id, fake):
    incomplete_application(terminal, client, operator_id)
    windows_program = b"MZ\x90\x00\x03" + b"\x00" * 4000
    fake.send_inbound_media(APPLICANT, windows_program, "application/pdf", filename="ktp.pdf")
    too_big = b"%PDF-1.4\n" + b"0" * (LIMIT + 1)
    fake.send_inbound_media(APPLICANT, too_big, "application/pdf", filename="kk.pdf")

    disguised, large = settled(server, 2)
    assert (disguised.status, disguised.scan_id) == ("refused", None)
    assert "bukan JPEG, PNG atau PDF" in disguised.reason
    assert (large.status, large.scan_id) == ("refused", None)
    assert "terlalu besar" in large.reason
    assert not server.config.scans_dir.exists()  # nothing of them kept
    terminal.pull(client)
    assert terminal.store.inbox_documents() == []


def test_a_redelivered_webhook_makes_one_item(server, client, terminal, operator_id, fake):
    incomplete_application(terminal, client, operator_id)
    fake.send_inbound_media(APPLICANT, pdf_scan(), "application/pdf")
    fake.wait_idle()
    [first] = settled(server, 1)
    message = {"from": APPLICANT, "id": first.provider_id, "timestamp": "1764050000"}
    message.update({"type": "document", "document": {"id": first.media_id, "mime_type": "x"}})
    fake.post_webhook({"messages": [message]})  # Meta delivers the same message again
    fake.wait_idle()
    assert [i.id for i in items(server)] == [first.id]


def test_an_item_is_attached_only_within_its_kecamatan(server, client, terminal, operator_id, fake):
    app_id = incomplete_application(terminal, client, operator_id)
    fake.send_inbound_media(APPLICANT, pdf_scan(), "application/pdf")
    [item] = settled(server, 1)
    lais_operator = add_operator(server, "lais", LAIS)
    with server.db.write() as conn:  # an application of another kecamatan
        conn.execute(
            "UPDATE applications SET kecamatan = ? WHERE application_id = ?", (LAIS, app_id)
        )
    with pytest.raises(Refusal) as refused:
        inbound.attach(server.db, item.id, app_id, actor_id=lais_operator, now=utc_now())
    assert refused.value.code == "inbox.wrong_kecamatan"
    with pytest.raises(Refusal) as missing:
        inbound.attach(server.db, 999, app_id, actor_id=lais_operator, now=utc_now())
    assert missing.value.code == "inbox.not_found"
