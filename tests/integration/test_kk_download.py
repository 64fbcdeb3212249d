"""The signed KK comes back to the counter on pull: piece by piece, resumable, encrypted by
the server for the counter's own box key so no plaintext byte of it is ever on the counter's
disk, checked against the signed SHA-256 when an operator opens it."""

# ruff: noqa: F811  (fixtures imported from other test modules)
from __future__ import annotations

import asyncio
import hashlib
import json
import os
from datetime import UTC, datetime

import httpx
import pytest

from field_client.errors import ScanError
from protocol.server_events import ServerEventKind
from signing.requests import sign_request
from signing.scan_cipher import blob_size, encrypt_scan
from signing.sealed_box import load_box_public_b64
from sync_server.clock import stamp, utc_now
from sync_server.services import feed
from sync_server.storage import devices, documents, kk_registry
from tests.integration.conftest import OPERATOR_PASSWORD
from tests.integration.test_counter_scan_sync import new_application
from tests.integration.test_scan_resume import wait_for
from tests.integration.test_sync_engine import server_config, settled, site  # noqa: F401
from tests.support.http import problem

AT = "2026-11-25T01:00:00.000Z"


def publish_signed_kk(site, app_id: str, pdf: bytes, kk_number: str = "1606012511260001") -> str:
    """What the TTE step leaves behind: the stored PDF, its registry row, the signed
    ``application.kk_ready`` event for the owning counter."""
    config = site.server.config
    now = utc_now()
    digest = documents.put(config.documents_dir, pdf)
    with site.server.db.write() as conn:
        kk_registry.register_number(
            conn, kk_number=kk_number, kecamatan="160601", source="demo",
            application_id=app_id, at=stamp(now),
        )  # fmt: skip
        kk_registry.insert_document(
            conn, token=os.urandom(8).hex(), kk_number=kk_number, application_id=app_id,
            sha256=digest, size=len(pdf), signer="Kepala Dinas", signed_at=stamp(now),
            issued_on=now.date().isoformat(),
        )  # fmt: skip
        feed.append(
            conn,
            audience=site.device.device_id,
            kind=ServerEventKind.KK_READY,
            application_id=app_id,
            body={
                "kk_number": kk_number,
                "document": {"sha256": digest, "size": len(pdf), "media_type": "application/pdf"},
            },
            now=now,
        )
    return digest


def signed_pdf(size: int) -> bytes:
    return b"%PDF-1.7\n" + os.urandom(size)


def partials(site) -> list:
    folder = site.store.document_folder.root / "partial"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def sealed_rows(site) -> list[dict]:
    """The server's sealed copies (one per document and device)."""
    with site.server.db.read() as conn:
        rows = conn.execute("SELECT * FROM sealed_documents ORDER BY created_at").fetchall()
    return [dict(r) for r in rows]


def sealed_on_server(site, row: dict) -> bytes:
    return documents.get(site.server.config.sealed_dir, row["blob_sha256"])


def device_request(site, method: str, target: str, body: bytes = b"") -> httpx.Response:
    """A request signed by the site's counter, straight to the server."""
    headers = sign_request(
        site.key, site.device.device_id, method, target, body, now=datetime.now(UTC)
    )
    headers["Content-Type"] = "application/json"
    with httpx.Client(base_url=site.server.base_url) as client:
        return client.request(method, target, content=body, headers=headers)


async def test_the_signed_kk_arrives_encrypted_for_the_counter_and_is_kept_as_sent(site):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    async with site.engine() as sync:
        assert settled(await sync.run_once())
        pdf = signed_pdf(150_000)
        digest = publish_signed_kk(site, app_id, pdf)
        seen = []
        sync.subscribe(seen.append)
        assert settled(await sync.run_once())
    assert site.store.read_kk_pdf(key, app_id) == pdf
    assert site.store.documents_to_download() == []
    stored = site.store.document_folder.path(digest).read_bytes()
    assert pdf[1000:1100] not in stored  # never plaintext on the counter's disk
    # Kept exactly as the server sealed it for this counter: no re-encryption step.
    [row] = sealed_rows(site)
    assert row["device_id"] == site.device.device_id
    assert row["box_public_key"] == site.store.device_box_public()
    assert stored == sealed_on_server(site, row)
    assert hashlib.sha256(stored).hexdigest() == row["blob_sha256"]
    assert partials(site) == []
    downloads = [s.transfer for s in seen if s.transfer and s.transfer.direction == "download"]
    assert downloads and downloads[-1].done == blob_size(len(pdf)) == len(stored)
    with site.server.db.read() as conn:
        logged = conn.execute(
            "SELECT actor_id, role FROM access_log WHERE application_id = ?"
            " AND detail LIKE '%dienkripsi untuk loket%'",
            [app_id],
        ).fetchall()
    assert [tuple(r) for r in logged] == [(site.device.device_id, "device")]


async def test_a_cut_download_resumes_from_the_bytes_held_and_none_is_plaintext(site):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    pdf = signed_pdf(400_000)
    site.link.set_profile(link_rate_bytes_per_s=100_000)
    async with site.engine(scan_chunk_min_bytes=32_768, scan_chunk_max_bytes=32_768) as sync:
        assert settled(await sync.run_once())
        publish_signed_kk(site, app_id, pdf)
        round_ = asyncio.ensure_future(sync.run_once())
        await wait_for(lambda: bool(partials(site)) and partials(site)[0].stat().st_size >= 100_000)
        site.link.cut_all()
        failed = await round_
        assert failed.last_error_code == "sync.offline"
        [partial] = partials(site)
        held_bytes = partial.read_bytes()
        held = len(held_bytes)
        assert 100_000 <= held < len(pdf)
        # What sits on disk mid-download is the server's ciphertext for this counter.
        [row] = sealed_rows(site)
        assert held_bytes == sealed_on_server(site, row)[:held]
        assert all(pdf[i : i + 64] not in held_bytes for i in range(0, held - 64, 4096))
        assert oct(partial.stat().st_mode & 0o777) == "0o600"
        down = site.link.stats.bytes_down
        assert settled(await sync.run_once())
    assert site.store.read_kk_pdf(key, app_id) == pdf
    assert sealed_rows(site) == [row]  # one copy per (document, device): resumed, not remade
    assert site.link.stats.bytes_down - down <= row["blob_bytes"] - held + 32_768 + 8_000
    assert partials(site) == []


async def test_a_download_that_does_not_match_the_signed_hash_is_not_kept(site):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    async with site.engine() as sync:
        assert settled(await sync.run_once())
        pdf = signed_pdf(20_000)
        digest = publish_signed_kk(site, app_id, pdf)
        # The file on the server's disk is not what was signed (disk damage, tampering).
        stored = documents.path_of(site.server.config.documents_dir, digest)
        stored.chmod(0o640)
        stored.write_bytes(signed_pdf(20_000))
        status = await sync.run_once()
    assert status.last_error is not None
    assert site.store.read_kk_pdf(key, app_id) is None
    assert len(site.store.documents_to_download()) == 1
    assert hashlib.sha256(pdf).hexdigest() == digest


async def test_a_copy_that_does_not_open_to_the_signed_pdf_is_dropped_and_fetched_again(site):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    pdf = signed_pdf(30_000)
    async with site.engine() as sync:
        assert settled(await sync.run_once())
        digest = publish_signed_kk(site, app_id, pdf)
        assert settled(await sync.run_once())
        # A server (or a disk) that handed over another file, well sealed for this counter.
        stored = site.store.document_folder.path(digest)
        other = encrypt_scan(
            signed_pdf(30_000), load_box_public_b64(site.store.device_box_public())
        )
        stored.write_bytes(other.blob)
        with pytest.raises(ScanError) as caught:
            site.store.read_kk_pdf(key, app_id)
        assert caught.value.code == "download.mismatch"
        assert not stored.exists()
        assert [d.application_id for d in site.store.documents_to_download()] == [app_id]
        assert settled(await sync.run_once())
    assert site.store.read_kk_pdf(key, app_id) == pdf


async def test_downloads_wait_until_the_counter_has_a_box_key(site):
    app_id = new_application(site)
    async with site.engine() as sync:
        assert settled(await sync.run_once())
        publish_signed_kk(site, app_id, signed_pdf(10_000))
        assert settled(await sync.run_once())  # no operator unlocked yet: nothing to seal for
    assert len(site.store.documents_to_download()) == 1
    assert not site.store.document_folder.root.exists()
    # A counter that never registered a key (an older version) gets nothing either.
    answer = device_request(site, "GET", f"/api/v1/sync/documents/{app_id}?offset=0&length=100")
    problem(answer, 409, "document.box_key_missing")
    assert sealed_rows(site) == []
    bad = json.dumps({"box_public_key": "bm90IGEga2V5"}).encode()
    problem(device_request(site, "PUT", "/api/v1/sync/documents/box-key", bad), 400,
            "document.bad_box_key")  # fmt: skip


async def test_a_new_box_key_gets_a_new_copy_and_the_old_one_is_deleted(site):
    site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    pdf = signed_pdf(50_000)
    async with site.engine() as sync:
        assert settled(await sync.run_once())
        publish_signed_kk(site, app_id, pdf)
        assert settled(await sync.run_once())
        [old] = sealed_rows(site)
        # The counter's box key is replaced (made again at the next unlock).
        with site.store.transaction():
            site.store.db.execute(
                "DELETE FROM meta WHERE key IN ('device_box_public', 'device_box_private')"
            )
        key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
        assert site.store.device_box_public() != old["box_public_key"]
        assert settled(await sync.run_once())
    [new] = sealed_rows(site)
    assert new["box_public_key"] == site.store.device_box_public()
    assert new["blob_sha256"] != old["blob_sha256"]
    assert not documents.path_of(site.server.config.sealed_dir, old["blob_sha256"]).exists()
    assert site.store.read_kk_pdf(key, app_id) == pdf


async def test_a_revoked_counter_gets_no_document(site):
    site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    async with site.engine() as sync:
        assert settled(await sync.run_once())
    publish_signed_kk(site, app_id, signed_pdf(10_000))
    with site.server.db.write() as conn:
        devices.revoke_device(conn, site.device.device_id, at=stamp(utc_now()))
    answer = device_request(site, "GET", f"/api/v1/sync/documents/{app_id}?offset=0&length=100")
    problem(answer, 403, "device.revoked")
    body = json.dumps({"box_public_key": site.store.device_box_public()}).encode()
    problem(device_request(site, "PUT", "/api/v1/sync/documents/box-key", body), 403,
            "device.revoked")  # fmt: skip
    assert sealed_rows(site) == []


async def test_a_server_that_lost_the_registration_asks_again_and_still_delivers(site):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    async with site.engine() as sync:
        assert settled(await sync.run_once())  # registers the box key
        with site.server.db.write() as conn:  # e.g. the server restored from a backup
            conn.execute("DELETE FROM device_box_keys")
        pdf = signed_pdf(20_000)
        publish_signed_kk(site, app_id, pdf)
        assert settled(await sync.run_once())
    assert site.store.read_kk_pdf(key, app_id) == pdf


async def test_a_ciphertext_replaced_mid_download_is_fetched_again_from_the_start(site):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    pdf = signed_pdf(300_000)
    site.link.set_profile(link_rate_bytes_per_s=100_000)
    async with site.engine(scan_chunk_min_bytes=32_768, scan_chunk_max_bytes=32_768) as sync:
        assert settled(await sync.run_once())
        publish_signed_kk(site, app_id, pdf)
        round_ = asyncio.ensure_future(sync.run_once())
        await wait_for(lambda: bool(partials(site)) and partials(site)[0].stat().st_size >= 64_000)
        site.link.cut_all()
        assert (await round_).last_error_code == "sync.offline"
        [first] = sealed_rows(site)
        # The server's copy is lost (a damaged disk): it makes another one.
        documents.path_of(site.server.config.sealed_dir, first["blob_sha256"]).unlink()
        site.link.set_profile(link_rate_bytes_per_s=None)
        assert settled(await sync.run_once())
    [second] = sealed_rows(site)
    assert second["blob_sha256"] != first["blob_sha256"]
    assert site.store.document_folder.path(hashlib.sha256(pdf).hexdigest()).read_bytes() == (
        sealed_on_server(site, second)
    )
    assert site.store.read_kk_pdf(key, app_id) == pdf
    assert partials(site) == []
