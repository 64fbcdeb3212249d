"""Blob files no row names (a crash between writing a file and committing its row) are
deleted after a grace period, on the counter and on the server; files a row names never
are."""

# ruff: noqa: F811  (fixtures imported from other test modules)
from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx

from field_client.orphans import GRACE_S, sweep_orphans
from signing.keys import save_private_key
from signing.sealed_box import box_public_b64, generate_box_key, load_box_key
from sync_server.services import storage_sweep
from sync_server.services.whatsapp.scan_store import EncryptedScanStore
from sync_server.storage import devices, documents, inbox
from sync_server.storage.scans import BlobStore
from tests.integration.conftest import OPERATOR_PASSWORD, start_server
from tests.integration.counter_crash_worker import OPERATOR_ID
from tests.integration.test_counter_scan_sync import new_application
from tests.integration.test_counter_store import APP_ID, PASSWORD, app, env  # noqa: F401
from tests.integration.test_kk_download import AT, partials, publish_signed_kk, signed_pdf
from tests.integration.test_scan_upload import APP_ID as SCAN_APP_ID
from tests.integration.test_scan_upload import Counter as ScanCounter
from tests.integration.test_scan_upload import chunk, signed, status
from tests.integration.test_sync_engine import server_config, settled, site  # noqa: F401
from tests.support.scan_samples import jpeg_scan, pdf_scan

DOCUMENTS = "/api/v1/sync/documents"
WORKER = Path(__file__).with_name("orphan_crash_worker.py")
LATER = GRACE_S + 60
"""Seconds: past the grace period."""


def backdate(path: Path, seconds: float = LATER) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def killed_between_write_and_commit(env, key_path: Path) -> str:
    """Run the worker until its blob is written, SIGKILL it; the orphan's scan id."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(env.path), str(key_path), PASSWORD, APP_ID],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    assert line.startswith("written "), (line, err)
    assert proc.returncode == -signal.SIGKILL
    return line.split()[1]


def test_a_blob_left_by_a_sigkill_between_write_and_commit_is_swept(env, tmp_path):
    store = env.store
    store.set_server_box_key(box_public_b64(generate_box_key()))
    env.counter.create_application(app(), operator_id=OPERATOR_ID)
    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    content = signed_pdf(10_000)
    kept = env.counter.attach_scan(
        APP_ID, "buku_nikah", content, operator_id=OPERATOR_ID, key=key, recompress=False
    )
    key_path = tmp_path / "device.key"
    save_private_key(env.key, key_path)

    orphan_id = killed_between_write_and_commit(env, key_path)

    orphan = store.scan_folder.path(orphan_id)
    assert orphan.exists()  # the file reached the disk, its row did not
    assert store._row("SELECT 1 AS x FROM scans WHERE scan_id = ?", [orphan_id]) is None
    assert [s.scan_id for s in store.application_scans(APP_ID)] == [kept.scan_id]
    # Within the grace period it could be a write in progress: kept.
    assert sweep_orphans(store) == 0 and orphan.exists()
    # Past it the orphan goes; the referenced blob, however old, stays and still opens.
    backdate(store.scan_folder.path(kept.scan_id))
    assert sweep_orphans(store, now=time.time() + LATER) == 1
    assert not orphan.exists()
    assert store.read_scan(key, kept.scan_id) == content
    assert [s.scan_id for s in store.scans_to_upload()] == [kept.scan_id]


def _kk_row(store, application_id: str, sha256: str, *, downloaded: bool) -> None:
    document = json.dumps({"sha256": sha256, "size": 10}, sort_keys=True)
    store.db.execute(
        "INSERT INTO kk_documents (application_id, kk_number, document, cursor, at,"
        " downloaded_at) VALUES (?, '1606012511260001', ?, 1, ?, ?)",
        [application_id, document, AT, AT if downloaded else None],
    )


def _file(path: Path, data: bytes = b"ciphertext") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    backdate(path)
    return path


def test_downloaded_documents_and_partials_no_row_names_are_swept(env):
    store, folder = env.store, env.store.document_folder
    sha = [hashlib.sha256(bytes([i])).hexdigest() for i in range(6)]
    _kk_row(store, "app-downloaded", sha[0], downloaded=True)
    _kk_row(store, "app-waiting", sha[1], downloaded=False)
    downloaded = _file(folder.path(sha[0]))
    waiting_partial = _file(folder.partial(sha[1], sha[2]))  # old, but still wanted
    replaced = _file(folder.path(sha[3]))  # a KK signed again: no row names it now
    done_partial = _file(folder.partial(sha[0], sha[4]))  # its document is here already
    stray_partial = _file(folder.partial(sha[5], sha[4]))  # no row at all
    fresh_stray = folder.partial(sha[5], sha[2])
    fresh_stray.write_bytes(b"arriving")  # a download being written this second
    legacy_plain = folder.root / "partial" / sha[1]
    legacy_plain.write_bytes(b"%PDF-1.7 plaintext from an older version")  # fresh, yet goes
    unknown = _file(folder.root / "README.txt")  # not ours to judge

    assert sweep_orphans(store) == 4

    for path in (downloaded, waiting_partial, fresh_stray, unknown):
        assert path.exists(), path
    for path in (replaced, done_partial, stray_partial, legacy_plain):
        assert not path.exists(), path


async def test_the_engine_sweeps_in_its_idle_time_and_keeps_downloads(site):
    key = site.store.unlock_scans(site.operator_id, OPERATOR_PASSWORD, at=AT)
    app_id = new_application(site)
    pdf = signed_pdf(20_000)
    orphan = _file(site.store.scan_folder.path(hashlib.sha256(b"orphan").hexdigest()))
    async with site.engine() as sync:
        assert settled(await sync.run_once())
        assert not orphan.exists()  # swept after the first round
        digest = publish_signed_kk(site, app_id, pdf)
        assert settled(await sync.run_once())
    backdate(site.store.document_folder.path(digest))
    assert sweep_orphans(site.store) == 0
    assert site.store.read_kk_pdf(key, app_id) == pdf
    assert partials(site) == []


# -- the server ---------------------------------------------------------------------------


def _sealed_download(server, client, counter) -> tuple[bytes, str]:
    """Register a box key for ``counter``'s device, sign a KK, fetch it: the sealed copy."""
    body = json.dumps({"box_public_key": box_public_b64(generate_box_key())}).encode()
    assert signed(client, counter.device, "PUT", DOCUMENTS + "/box-key", body).status_code == 200
    publish_signed_kk(
        SimpleNamespace(server=server, device=counter.device), SCAN_APP_ID, pdf_scan()
    )
    response = signed(
        client, counter.device, "GET", f"{DOCUMENTS}/{SCAN_APP_ID}?offset=0&length=99999"
    )
    assert response.status_code == 200, response.text
    return response.content, response.headers["x-kk-blob-sha256"]


def test_the_server_sweeps_orphans_at_start_up_and_keeps_every_named_blob(server, client):
    config = server.config
    blobs = BlobStore(config.scans_dir)
    counter = ScanCounter(server, client)
    done_id, done_blob = counter.attach(jpeg_scan(seed=3))
    assert chunk(client, counter.device, done_id, 0, done_blob).json()["complete"]
    part_id, part_blob = counter.attach(pdf_scan(), document="buku_nikah", media="application/pdf")
    half = len(part_blob) // 2
    assert chunk(client, counter.device, part_id, 0, part_blob[:half]).status_code == 200
    inbox_doc = jpeg_scan(seed=4)
    inbox_id = EncryptedScanStore(blobs, load_box_key(config.box_key_path)).put(inbox_doc)
    with server.db.write() as conn:
        inbox.insert(
            conn, provider_id="wamid.sweep", sender="6281234567890", kind="image",
            media_id="media-1", status="stored", next_attempt_at=AT, scan_id=inbox_id,
            received_at=AT,
        )  # fmt: skip
    sealed, sealed_sha = _sealed_download(server, client, counter)
    named = [
        blobs.path(done_id),
        blobs.partial_path(part_id),
        blobs.path(inbox_id),
        documents.path_of(config.sealed_dir, sealed_sha),
    ]
    # What crashes between a file and its row leave (and temporary files of a cut write).
    orphans = [
        _file(blobs.path(hashlib.sha256(b"never committed").hexdigest())),
        _file(blobs.partial_path(hashlib.sha256(b"no row").hexdigest())),
        _file(config.scans_dir / done_id[:2] / ".tmp-abc123"),
        _file(documents.path_of(config.sealed_dir, hashlib.sha256(b"lost").hexdigest())),
    ]
    fresh = blobs.path(hashlib.sha256(b"being written").hexdigest())
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"a write in progress")
    for path in named:
        backdate(path)
    server.stop()

    restarted = start_server(config)
    try:
        deadline = time.monotonic() + 60
        while any(p.exists() for p in orphans):
            assert time.monotonic() < deadline, [p for p in orphans if p.exists()]
            time.sleep(0.05)
        assert all(p.exists() for p in named) and fresh.exists()
        with httpx.Client(base_url=restarted.base_url, timeout=30) as again:
            assert status(again, counter.device, done_id, part_id) == [
                {"scan_id": done_id, "status": "complete", "offset": len(done_blob),
                 "bytes": len(done_blob)},
                {"scan_id": part_id, "status": "partial", "offset": half,
                 "bytes": len(part_blob)},
            ]  # fmt: skip
            rest = chunk(again, counter.device, part_id, half, part_blob[half:])
            assert rest.json()["complete"]
            target = f"{DOCUMENTS}/{SCAN_APP_ID}?offset=0&length=99999"
            assert signed(again, counter.device, "GET", target).content == sealed
        box = load_box_key(config.box_key_path)
        assert EncryptedScanStore(blobs, box).get(inbox_id) == inbox_doc
    finally:
        restarted.stop()


def test_the_sealed_copies_of_a_revoked_device_are_deleted(server, client):
    counter = ScanCounter(server, client)
    _, sealed_sha = _sealed_download(server, client, counter)
    path = documents.path_of(server.config.sealed_dir, sealed_sha)
    assert storage_sweep.sweep(server.db, server.config, now=time.time() + LATER) == 0
    assert path.exists()  # named, however old
    with server.db.write() as conn:
        devices.revoke_device(conn, counter.device.device_id, at=AT)
    assert storage_sweep.sweep(server.db, server.config, now=time.time() + LATER) == 1
    assert not path.exists()
    with server.db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM sealed_documents").fetchone()[0] == 0


def test_a_blob_promoted_before_a_crash_is_found_complete_and_kept(server, client):
    counter = ScanCounter(server, client)
    scan_id, blob = counter.attach(jpeg_scan(seed=5))
    assert chunk(client, counter.device, scan_id, 0, blob).json()["complete"]
    # The state a crash leaves between moving the verified blob into place and committing
    # its row: the file is complete, the row still says arriving with every byte received.
    with server.db.write() as conn:
        conn.execute(
            "UPDATE scans SET status = 'arriving', completed_at = NULL WHERE scan_id = ?",
            [scan_id],
        )
    path = BlobStore(server.config.scans_dir).path(scan_id)
    backdate(path)
    assert storage_sweep.sweep(server.db, server.config, now=time.time() + LATER) == 0
    assert status(client, counter.device, scan_id) == [
        {"scan_id": scan_id, "status": "complete", "offset": len(blob), "bytes": len(blob)}
    ]
    assert path.read_bytes() == blob
