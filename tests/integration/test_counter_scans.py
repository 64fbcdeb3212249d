"""Scans on the counter: encrypted at attach, deduplicated, and useless on a stolen disk.

Real SQLite files and blob folders; the server's X25519 key is a real key pair whose private
half only the test (standing in for the server) holds.
"""

# ruff: noqa: F811  (fixtures imported from other test modules)
from __future__ import annotations

import hashlib
import io
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from field_client.errors import ApplicationNotFound, ScanError
from field_client.scans import device_box_private
from field_client.store import Store
from protocol.events import EventKind
from signing.key_escrow import open_escrow
from signing.scan_cipher import HEADER_SIZE, open_scan
from signing.sealed_box import SealedBoxError, box_public_b64, generate_box_key
from tests.factories import application_dict
from tests.integration.counter_crash_worker import OPERATOR_ID
from tests.integration.test_counter_store import APP_ID, OTHER_ID, PASSWORD, app, env  # noqa: F401
from tests.support.scan_samples import jpeg_scan, pdf_scan, png_scan

AT = "2026-11-25T01:00:00.000Z"
SECOND_OPERATOR = "op-crash-2"


@pytest.fixture
def server_box():
    return generate_box_key()


@pytest.fixture
def store(env, server_box):
    env.store.set_server_box_key(box_public_b64(server_box))
    env.counter.create_application(app(), operator_id=OPERATOR_ID)
    return env.store


@pytest.fixture
def attach(env):
    def attach_scan(key, application_id, document, content):
        return env.counter.attach_scan(
            application_id, document, content, operator_id=OPERATOR_ID, key=key, recompress=False
        )

    return attach_scan


def all_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file())


def test_an_attached_scan_is_stored_encrypted_and_only_the_server_or_an_operator_opens_it(
    attach, store, server_box
):
    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    photo = jpeg_scan(seed=7)
    attached = attach(key, APP_ID, "kk_lama", photo)

    blob_path = store.scan_folder.path(attached.scan_id)
    blob = blob_path.read_bytes()
    assert hashlib.sha256(blob).hexdigest() == attached.scan_id  # content-addressed
    assert photo[100:164] not in blob and photo[:3] not in blob[:200]
    assert blob_path.stat().st_mode & 0o777 == 0o600
    assert open_scan(blob, server_box) == photo  # the server reads it with its key alone
    assert store.read_scan(key, attached.scan_id) == photo  # a logged-in operator previews
    [info] = store.application_scans(APP_ID)
    assert (info.document, info.media_type, info.plain_bytes) == (
        "kk_lama",
        "image/jpeg",
        len(photo),
    )
    assert info.blob_bytes == len(blob) and info.uploaded_at is None


def test_the_same_file_attached_twice_is_stored_and_queued_once(attach, store, env):
    env.counter.create_application(
        app(**{**application_dict(), "id": OTHER_ID}), operator_id=OPERATOR_ID
    )
    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    first = attach(key, APP_ID, "buku_nikah", pdf_scan())
    again = attach(key, APP_ID, "buku_nikah", pdf_scan())
    other_app = attach(key, OTHER_ID, "buku_nikah", pdf_scan())
    assert not first.deduplicated and again.deduplicated and other_app.deduplicated
    assert first.scan_id == again.scan_id == other_app.scan_id
    assert len(list(store.scan_folder.root.rglob("*"))) == 2  # one folder, one blob
    assert [s.scan_id for s in store.scans_to_upload()] == [first.scan_id]
    assert [s.scan_id for s in store.application_scans(OTHER_ID)] == [first.scan_id]
    # Each application's log names the scan once, by id: what the server learns first.
    for application_id in (APP_ID, OTHER_ID):
        named = [
            e.event.scan()
            for e in store.history(application_id)
            if e.event.kind is EventKind.SCAN_ATTACHED
        ]
        # With the header's hash, so the server keeps a cut first piece (protocol §11.4).
        header = hashlib.sha256(store.scan_folder.read(first.scan_id)[:HEADER_SIZE]).hexdigest()
        assert [(r.id, r.document, r.bytes, r.header_sha256) for r in named] == [
            (first.scan_id, "buku_nikah", first.blob_bytes, header)
        ]
    # The dedup key is keyed: the plain SHA-256 of the file appears nowhere on disk.
    plain_hash = hashlib.sha256(pdf_scan()).hexdigest().encode()
    assert plain_hash not in all_bytes(store.path.parent)


def test_scans_are_queued_oldest_application_first(attach, store, env):
    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    env.counter.create_application(
        app(**{**application_dict(), "id": OTHER_ID}), operator_id=OPERATOR_ID
    )
    newer = attach(key, OTHER_ID, "kk_lama", png_scan(seed=1))
    older = attach(key, APP_ID, "kk_lama", png_scan(seed=2))
    assert [s.scan_id for s in store.scans_to_upload()] == [older.scan_id, newer.scan_id]
    store.mark_scans_uploaded([older.scan_id], at=AT)
    assert [s.scan_id for s in store.scans_to_upload()] == [newer.scan_id]
    assert store.scan_summary()["pending_scans"] == 1


@pytest.mark.parametrize(
    ("content", "document", "code"),
    [
        (b"GIF89a" + b"\0" * 100, "kk_lama", "scan.bad_type"),
        (b"<html><body>kk_lama.jpg</body></html>", "kk_lama", "scan.bad_type"),
        (b"", "kk_lama", "scan.empty"),
        (pdf_scan(), "../../etc/passwd", "scan.unknown_document"),
    ],
)
def test_bad_files_are_refused_and_nothing_is_written(attach, store, content, document, code):
    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    with pytest.raises(ScanError) as refused:
        attach(key, APP_ID, document, content)
    assert refused.value.code == code
    assert store.application_scans(APP_ID) == []
    assert not store.scan_folder.root.exists()


def test_a_scan_needs_a_stored_application_and_the_server_key(attach, store, env):
    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    with pytest.raises(ApplicationNotFound):
        attach(key, OTHER_ID, "kk_lama", pdf_scan())
    env.store.db.execute("UPDATE device SET server_box_key = NULL")
    with pytest.raises(ScanError, match="kunci enkripsi server"):
        attach(key, APP_ID, "kk_lama", pdf_scan())


def test_the_data_key_opens_per_operator_password(attach, store):
    first = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    attached = attach(first, APP_ID, "kk_lama", pdf_scan())
    assert store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT) == first
    with pytest.raises(ScanError) as wrong:
        store.unlock_scans(OPERATOR_ID, "salah-sandi-1", at=AT)
    assert wrong.value.code == "scan.wrong_password"
    # A second operator gets the key only from a session where it is open already.
    with pytest.raises(ScanError) as locked:
        store.unlock_scans(SECOND_OPERATOR, "sandi-operator-2", at=AT)
    assert locked.value.code == "scan.locked"
    shared = store.unlock_scans(SECOND_OPERATOR, "sandi-operator-2", at=AT, unlocked=first)
    again = store.unlock_scans(SECOND_OPERATOR, "sandi-operator-2", at=AT)
    assert again == first == shared
    assert store.read_scan(again, attached.scan_id) == pdf_scan()
    assert "hidden" in repr(first)


def test_a_stolen_data_directory_without_a_password_opens_no_scan_or_key(
    attach, store, tmp_path, server_box
):
    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    photo, pdf = jpeg_scan(seed=3), pdf_scan("AKTA CERAI RAHASIA")
    scans = [
        attach(key, APP_ID, "kk_lama", photo),
        attach(key, APP_ID, "akta_cerai", pdf),
    ]
    scan_keys = []
    for scan in scans:
        row = store.db.execute("SELECT wrapped_key FROM scans WHERE scan_id = ?", [scan.scan_id])
        scan_keys.append(key.unwrap_scan_key(row.fetchone()[0], scan.scan_id))
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    stolen = tmp_path / "stolen"
    shutil.copytree(store.path.parent, stolen, ignore=shutil.ignore_patterns("stolen"))
    everything = all_bytes(stolen)
    assert everything  # the copy holds the database and both blobs
    for secret in [photo[200:264], b"AKTA CERAI RAHASIA", key._key, *scan_keys]:
        assert secret not in everything
    copy = Store.open(stolen / "counter.db")
    try:
        # The escrow for the server is on the disk too, but only the server's private key
        # opens it (and only for this device): not the thief's, not any key on this disk.
        escrow, device_id = copy.data_key_escrow(), copy.device().device_id  # type: ignore[union-attr]
        assert escrow is not None
        assert open_escrow(server_box, escrow, device_id) == key._key
        for guess in (generate_box_key(), device_box_private(copy, key)):
            with pytest.raises(SealedBoxError):
                open_escrow(guess, escrow, device_id)
        assert len(copy.scans_to_upload()) == 2  # the engine can still send them ...
        for guess in ["", "rahasia", "rahasia-loket-2", "Rahasia-loket-1"]:
            with pytest.raises(ScanError):  # ... but no guess opens the data key
                copy.unlock_scans(OPERATOR_ID, guess, at=AT)
        assert (
            copy.read_scan(copy.unlock_scans(OPERATOR_ID, PASSWORD, at=AT), scans[1].scan_id) == pdf
        )
    finally:
        copy.close()
    conn = sqlite3.connect(stolen / "counter.db")
    wrapped = [r[0] for r in conn.execute("SELECT wrapped_data_key FROM scan_keyring")]
    conn.close()
    assert wrapped and all(w.startswith("pw1$") for w in wrapped)


def test_a_camera_photo_is_made_document_sized_before_it_is_encrypted(store, env):
    from field_client.recompress import ssim
    from tests.support.scan_samples import document_photo

    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    photo = document_photo(4000, 3000, seed=41, quality=90)
    attached = env.counter.attach_scan(APP_ID, "kk_lama", photo, operator_id=OPERATOR_ID, key=key)
    assert attached.original_bytes == len(photo)
    assert attached.original_bytes / attached.plain_bytes >= 5
    assert attached.saved_bytes == len(photo) - attached.plain_bytes
    stored = Image.open(io.BytesIO(store.read_scan(key, attached.scan_id)))
    assert (stored.format, stored.size) == ("JPEG", (1600, 1200))
    reference = Image.open(io.BytesIO(photo)).resize((1600, 1200), Image.Resampling.LANCZOS)
    gray = [np.asarray(i.convert("L"), dtype=float) for i in (stored, reference)]
    assert ssim(*gray) >= 0.9
    # A PDF is kept byte for byte; so is a photo when the office turns recompression off.
    pdf = env.counter.attach_scan(APP_ID, "f102", pdf_scan(), operator_id=OPERATOR_ID, key=key)
    assert store.read_scan(key, pdf.scan_id) == pdf_scan() and pdf.saved_bytes == 0
    kept = env.counter.attach_scan(
        APP_ID, "buku_nikah", photo, operator_id=OPERATOR_ID, key=key, recompress=False
    )
    assert store.read_scan(key, kept.scan_id) == photo


def test_the_escrow_follows_the_data_key_and_a_foreign_key_is_never_adopted(env, server_box):
    store = env.store
    # A counter that does not know the server's key yet makes the data key, no escrow.
    key = store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    assert store.data_key_escrow() is None
    device_id = store.device().device_id  # type: ignore[union-attr]
    # Once the key arrives (a sync), the next unlock seals the escrow: also how a counter
    # that had a data key before escrows existed gets one.
    store.set_server_box_key(box_public_b64(server_box))
    store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    assert open_escrow(server_box, store.data_key_escrow(), device_id) == key._key
    # A new server scan key: sealed again for it at the next unlock.
    rotated = generate_box_key()
    store.set_server_box_key(box_public_b64(rotated))
    store.unlock_scans(OPERATOR_ID, PASSWORD, at=AT)
    assert open_escrow(rotated, store.data_key_escrow(), device_id) == key._key

    # A key the server would re-issue is kept only if it is this counter's.
    with pytest.raises(ScanError) as wrong:
        store.adopt_scan_key(SECOND_OPERATOR, "sandi-operator-2", os.urandom(32), at=AT)
    assert wrong.value.code == "scan.recovered_key_wrong"
    with pytest.raises(ScanError):
        store.unlock_scans(SECOND_OPERATOR, "sandi-operator-2", at=AT)  # nothing written
    adopted = store.adopt_scan_key(SECOND_OPERATOR, "sandi-operator-2", key._key, at=AT)
    assert adopted == key == store.unlock_scans(SECOND_OPERATOR, "sandi-operator-2", at=AT)
