"""The counter's engine sends its scans: events first, missing check, resumable blobs,
progress for the status bar. Real server, real counter store, the seeded faulty link.
"""

# ruff: noqa: F811  (fixtures imported from other test modules)
from __future__ import annotations

import hashlib
import uuid

import pytest

from field_client.sync import SyncStatus
from sync_server.config import ServerConfig
from sync_server.context import init_data_dir, open_context
from sync_server.storage.scans import BlobStore
from tests.factories import application_dict
from tests.integration.conftest import OPERATOR_PASSWORD
from tests.integration.test_sync_engine import (  # noqa: F401
    SERVER_MAX_EVENTS,
    Site,
    _application,
    settled,
    site,
)
from tests.support.scan_samples import jpeg_scan, pdf_scan, png_scan

AT = "2026-11-25T01:00:00.000Z"


@pytest.fixture
def server_config(tmp_path) -> ServerConfig:
    """The engine tests' server, with a scan limit of 1 MB (a 2 MB photo is refused)."""
    config = ServerConfig(
        data_dir=tmp_path / "server",
        max_events_per_batch=SERVER_MAX_EVENTS,
        max_scan_bytes=1_000_000,
    )
    init_data_dir(config)
    return config


def new_application(site: Site) -> str:
    app_id = str(uuid.UUID(int=site.rng.getrandbits(128), version=4))
    site.counter().create_application(
        _application(application_dict(id=app_id)), operator_id=site.operator_id
    )
    return app_id


def attach(site: Site, app_id: str, content: bytes, document: str = "kk_lama"):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    return site.counter().attach_scan(
        app_id, document, content, operator_id=site.operator_id, key=key, recompress=False
    )


def server_scans(site: Site) -> dict[str, dict]:
    with site.server.db.read() as conn:
        rows = conn.execute("SELECT * FROM scans").fetchall()
    return {r["scan_id"]: dict(r) for r in rows}


async def test_scans_follow_their_events_and_arrive_whole(site):
    first_app, second_app = new_application(site), new_application(site)
    photo, pdf = jpeg_scan(seed=21), pdf_scan("Surat Pindah")
    a = attach(site, first_app, photo)
    b = attach(site, second_app, pdf, "surat_pindah")
    seen: list[SyncStatus] = []
    async with site.engine() as engine:
        engine.subscribe(seen.append)
        status = await engine.run_once()
    assert settled(status), status
    assert (status.pending_scans, status.pending_scan_bytes, status.transfer) == (0, 0, None)
    assert site.store.scans_to_upload() == []
    stored = server_scans(site)
    assert {k: v["status"] for k, v in stored.items()} == {
        a.scan_id: "complete",
        b.scan_id: "complete",
    }
    assert stored[a.scan_id]["plain_sha256"] == hashlib.sha256(photo).hexdigest()
    blobs = BlobStore(site.server.config.scans_dir)
    assert blobs.read(b.scan_id) == site.store.scan_folder.read(b.scan_id)
    # The progress bar saw the bytes move, file by file, to the end.
    transfers = [s.transfer for s in seen if s.transfer is not None]
    assert transfers and transfers[-1].done == transfers[-1].total == a.blob_bytes + b.blob_bytes
    assert transfers[-1].files_left == 0
    assert "Mengunggah berkas" in transfers[-1].describe()
    assert any(s.pending_scans == 2 for s in seen)


async def test_the_missing_check_sends_only_what_the_server_lacks(site):
    app_id = new_application(site)
    old = attach(site, app_id, png_scan(seed=5))
    async with site.engine() as engine:
        assert settled(await engine.run_once())
        # The same file on another application is one more event, not one more upload;
        # a new file is sent alone.
        other_app = new_application(site)
        again = attach(site, other_app, png_scan(seed=5))
        new = attach(site, other_app, jpeg_scan(seed=22))
        assert again.scan_id == old.scan_id and again.deduplicated
        before = site.link.stats.bytes_up
        assert settled(await engine.run_once())
    sent = site.link.stats.bytes_up - before
    assert new.blob_bytes < sent < new.blob_bytes + 12_000  # events, checks, headers
    with site.server.db.read() as conn:
        links = conn.execute(
            "SELECT application_id FROM application_scans WHERE scan_id = ? ORDER BY 1",
            [old.scan_id],
        ).fetchall()
    assert sorted(r[0] for r in links) == sorted([app_id, other_app])


async def test_a_device_without_the_scan_key_fetches_it_signed(site):
    site.store.db.execute("UPDATE device SET server_box_key = NULL")
    async with site.engine() as engine:
        assert settled(await engine.run_once())
    offer = open_context(site.server.config).scan_key_offer()
    assert site.store.server_box_key() == offer["scan_public_key"]


async def test_a_scan_whose_event_the_server_refused_stops_waiting(site, tmp_path):
    from protocol.events import EventKind
    from tests.support.scan_samples import document_photo

    app_id = new_application(site)
    # Larger than this server's limit: the scan.attached event is refused at the push.
    big = attach(site, app_id, document_photo(2400, 1800, seed=9, quality=95))
    assert big.blob_bytes > 1_000_000
    async with site.engine() as sync:
        status = await sync.run_once()
    assert settled(status), status
    assert status.pending_scans == 0 and site.store.scans_to_upload() == []
    [entry] = [e for e in site.store.history(app_id) if e.event.kind is EventKind.SCAN_ATTACHED]
    assert (entry.status.value, entry.result_code) == ("refused", "scan.too_large")
    assert server_scans(site) == {}
