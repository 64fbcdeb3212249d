"""The signed KK comes back to the counter on pull: piece by piece, resumable, checked
against the signed SHA-256, sealed for the counter so only an operator opens it."""

# ruff: noqa: F811  (fixtures imported from other test modules)
from __future__ import annotations

import asyncio
import hashlib
import os

from protocol.server_events import ServerEventKind
from sync_server.clock import stamp, utc_now
from sync_server.services import feed
from sync_server.storage import documents, kk_registry
from tests.integration.conftest import OPERATOR_PASSWORD
from tests.integration.test_counter_scan_sync import new_application
from tests.integration.test_scan_resume import wait_for
from tests.integration.test_sync_engine import server_config, settled, site  # noqa: F401

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


async def test_the_signed_kk_is_downloaded_sealed_for_the_counter(site):
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
    sealed = site.store.document_folder.path(digest).read_bytes()
    assert pdf[1000:1100] not in sealed  # sealed at rest, like scans
    assert not site.store.document_folder.partial(digest).exists()
    downloads = [s.transfer for s in seen if s.transfer and s.transfer.direction == "download"]
    assert downloads and downloads[-1].done == len(pdf)


async def test_a_cut_download_resumes_from_the_bytes_held(site):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    pdf = signed_pdf(400_000)
    site.link.set_profile(link_rate_bytes_per_s=100_000)
    async with site.engine(scan_chunk_min_bytes=32_768, scan_chunk_max_bytes=32_768) as sync:
        assert settled(await sync.run_once())
        digest = publish_signed_kk(site, app_id, pdf)
        partial = site.store.document_folder.partial(digest)
        round_ = asyncio.ensure_future(sync.run_once())
        await wait_for(lambda: partial.exists() and partial.stat().st_size >= 100_000)
        site.link.cut_all()
        failed = await round_
        assert failed.last_error_code == "sync.offline"
        held = partial.stat().st_size
        assert 100_000 <= held < len(pdf)
        down = site.link.stats.bytes_down
        assert settled(await sync.run_once())
    assert site.store.read_kk_pdf(key, app_id) == pdf
    assert site.link.stats.bytes_down - down <= len(pdf) - held + 32_768 + 8_000


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
