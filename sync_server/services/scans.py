"""Document scans on the server: what each application expects, resumable uploads, reads.

Flow (docs/protocol.md §11):

1. A counter's ``scan.attached`` event (pushed with its other events, so it arrives first)
   names a scan by id with its document code and blob length. :func:`register_attached`
   checks it inside the push's transaction (owner device, editable state, size limits) and
   records the application's expectation: the scan is *arriving* until its bytes are here.
2. :func:`upload_status` answers the missing check: for each id, ``complete``, ``partial``
   with the offset to resume from, or ``unknown`` (no event named it yet).
3. :func:`receive_chunk` appends one chunk at the offset the server holds, after checking
   the chunk's SHA-256. When the last byte arrives the whole blob is verified: its SHA-256
   must be the scan id, it must decrypt with the server's X25519 key (every chunk's GCM
   tag), and its plaintext must be JPEG, PNG or PDF by content. Only then is it
   *complete*; a blob that fails is discarded and its upload starts again from zero.
4. :func:`read_scan` decrypts a complete scan for staff, with an access-log record.
5. :func:`expire_partials` deletes partial uploads nobody touched for
   ``upload_expiry_hours``.

Another channel (WhatsApp documents) can reuse steps 1 and 3 to 4 with its own device-less
source later: the blob format and storage do not depend on where a scan came from.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from protocol.errors import Issue, KKError, define_messages, issue
from protocol.events import ChangeEvent
from protocol.scans import (
    MAX_APPLICATION_SCAN_BYTES,
    MAX_SCAN_BYTES,
    is_scan_id,
    sniff_media_type,
)
from protocol.workflow import Role, State, counter_may_edit
from signing.scan_cipher import HEADER_SIZE, blob_size, open_scan, read_header, verified_prefix
from signing.sealed_box import load_box_key
from sync_server.clock import stamp
from sync_server.config import BOX_KEY_FILE, SCANS_DIR
from sync_server.errors import Refusal
from sync_server.services import access_log
from sync_server.storage import changelog as log_store
from sync_server.storage import scans as store
from sync_server.storage.db import Database
from sync_server.storage.devices import Device
from sync_server.storage.scans import BlobStore

__all__ = [
    "ScanLimits",
    "DEFAULT_SCAN_LIMITS",
    "ChunkResult",
    "MAX_STATUS_IDS",
    "register_attached",
    "upload_status",
    "receive_chunk",
    "read_scan",
    "scan_list",
    "expire_partials",
    "archive_files",
]

log = logging.getLogger("sync_server.scans")

MAX_STATUS_IDS = 500
"""Most ids one missing check may ask about."""
SCAN_READ = "scan.read"
"""Access-log action of a staff read of one scan."""

define_messages(
    {
        "scan.not_editable": "Berkas tidak dapat dilampirkan: permohonan berstatus {state}.",
        "scan.size_conflict": "Berkas {scan_id} sudah diumumkan dengan ukuran lain.",
        "scan.unknown": "Berkas {scan_id} belum diumumkan oleh catatan perubahan mana pun; "
        "kirim catatan perubahan lebih dulu.",
        "scan.not_yours": "Berkas {scan_id} diunggah oleh perangkat lain.",
        "scan.offset_mismatch": "Posisi unggahan salah: server memegang {offset} byte.",
        "scan.checksum_mismatch": "Potongan berkas rusak di jalan (checksum tidak cocok); "
        "potongan dibuang, kirim ulang.",
        "scan.beyond_length": "Potongan melewati panjang berkas yang diumumkan.",
        "scan.bad_header": "Kepala berkas terenkripsi tidak sah atau tidak cocok dengan "
        "ukuran yang diumumkan.",
        "scan.hash_mismatch": "Isi berkas tidak cocok dengan pengenalnya; unggahan dibuang "
        "dan harus diulang.",
        "scan.unreadable": "Berkas tidak dapat dibuka dengan kunci server; unggahan dibuang.",
        "scan.bad_parameter": "Parameter {name} tidak sah.",
        "scan.not_complete": "Berkas {scan_id} belum lengkap diterima server.",
    }
)


@dataclass(frozen=True, slots=True)
class ScanLimits:
    max_scan_bytes: int
    """Largest plaintext of one scan."""
    max_application_bytes: int
    """Largest total of an application's blobs."""
    expiry: timedelta = timedelta(hours=72)
    """Partial uploads untouched this long are discarded."""

    @property
    def max_blob_bytes(self) -> int:
        return blob_size(self.max_scan_bytes)


DEFAULT_SCAN_LIMITS = ScanLimits(MAX_SCAN_BYTES, MAX_APPLICATION_SCAN_BYTES)


@dataclass(frozen=True, slots=True)
class ChunkResult:
    offset: int
    """Bytes the server now holds."""
    complete: bool


# -- 1. what an application expects -------------------------------------------------------


def register_attached(
    conn: Any, device: Device, event: ChangeEvent, *, now: datetime, limits: ScanLimits
) -> Issue | None:
    """Record a ``scan.attached`` event's scan for its application (inside the push's
    transaction); returns the refusal, or ``None`` when recorded."""
    ref = event.scan()
    record = log_store.get_application(conn, event.application_id)
    if record is None:
        return issue("application.unknown", application_id=event.application_id)
    if record.owner_device_id != device.device_id:
        return issue("application.not_owner", application_id=event.application_id)
    state = State(record.state)
    if not counter_may_edit(state):
        return issue("scan.not_editable", state=state.label)
    if ref.bytes > limits.max_blob_bytes:
        return issue("scan.too_large", size=ref.bytes, max=limits.max_blob_bytes)
    existing = store.get_scan(conn, ref.id)
    if existing is not None and existing.device_id != device.device_id:
        # A blob is sealed by the device that made it; another device naming its id (learnt
        # somehow) must not graft that document onto an application of its own.
        return issue("scan.not_yours", scan_id=ref.id[:12])
    if existing is not None and existing.blob_bytes != ref.bytes:
        return issue("scan.size_conflict", scan_id=ref.id[:12])
    total = store.linked_bytes(conn, event.application_id) + ref.bytes
    if total > limits.max_application_bytes:
        return issue("scan.application_too_large", max=limits.max_application_bytes)
    at = stamp(now)
    if existing is None:
        store.insert_scan(
            conn,
            ref.id,
            device_id=device.device_id,
            blob_bytes=ref.bytes,
            at=at,
            header_sha256=ref.header_sha256,
        )
    elif ref.header_sha256 is not None:
        store.learn_header(conn, ref.id, ref.header_sha256)
    store.link(
        conn,
        application_id=event.application_id,
        scan_id=ref.id,
        document=ref.document,
        device_id=device.device_id,
        seq=event.seq,
        operator_id=event.operator_id,
        at=at,
    )
    return None


# -- 2. the missing check --------------------------------------------------------------------


def upload_status(
    db: Database,
    blobs: BlobStore,
    box_key: X25519PrivateKey,
    scan_ids: Sequence[str],
    *,
    now: datetime,
    limits: ScanLimits,
) -> list[dict[str, Any]]:
    """For each id: ``{"scan_id", "status": "complete" | "partial" | "unknown", "offset",
    "bytes"}``; ``offset`` is where to resume (0 for a fresh upload)."""
    expire_partials(db, blobs, now=now, limits=limits)
    answers = []
    for scan_id in scan_ids:
        with db.read() as conn:
            row = store.get_scan(conn, scan_id)
        if row is not None and row.status == "arriving" and row.received_bytes == row.blob_bytes:
            # Whole but not verified: a crash between the last chunk and the check.
            row = _finish(db, blobs, box_key, row, now=now)
        if row is None:
            answers.append({"scan_id": scan_id, "status": "unknown", "offset": 0, "bytes": 0})
        else:
            status = "complete" if row.status == "complete" else "partial"
            answers.append(
                {
                    "scan_id": scan_id,
                    "status": status,
                    "offset": row.received_bytes,
                    "bytes": row.blob_bytes,
                }
            )
    return answers


# -- 3. chunks ------------------------------------------------------------------------------


def receive_chunk(
    db: Database,
    blobs: BlobStore,
    box_key: X25519PrivateKey,
    device: Device,
    scan_id: str,
    *,
    offset: int,
    chunk_sha256: str,
    data: bytes,
    now: datetime,
    limits: ScanLimits,
) -> ChunkResult:
    """Append one chunk (see the module doc). Refusals: 404 ``scan.unknown``, 403
    ``scan.not_yours``, 409 ``scan.offset_mismatch`` (with ``offset``), 400
    ``scan.checksum_mismatch`` / ``scan.beyond_length`` / ``scan.bad_header``, 422
    ``scan.hash_mismatch`` / ``scan.unreadable`` / ``scan.bad_type`` (the upload restarts
    from zero)."""
    if not is_scan_id(scan_id):
        raise Refusal("scan.bad_parameter", status=400, extra={"name": "scan_id"}, name="scan_id")
    if hashlib.sha256(data).hexdigest() != chunk_sha256:
        # Checked before anything is written: a damaged chunk never touches the blob.
        with db.read() as conn:
            row = store.get_scan(conn, scan_id)
        held = row.received_bytes if row else 0
        raise Refusal("scan.checksum_mismatch", status=400, extra={"offset": held})
    at = stamp(now)
    with db.write() as conn:
        row = _uploadable(conn, device, scan_id)
        if row.status == "complete":
            return ChunkResult(row.blob_bytes, True)  # a retry after a lost answer
        if offset != row.received_bytes:
            raise Refusal(
                "scan.offset_mismatch",
                status=409,
                extra={"offset": row.received_bytes},
                offset=row.received_bytes,
            )
        end = offset + len(data)
        if end > row.blob_bytes:
            raise Refusal("scan.beyond_length", status=400, extra={"offset": offset})
        if offset < HEADER_SIZE <= end:
            _check_header(blobs, scan_id, offset, data, row.blob_bytes, limits)
        blobs.append(scan_id, offset, data)
        store.set_received(conn, scan_id, end, at=at)
    if end < row.blob_bytes:
        return ChunkResult(end, False)
    with db.read() as conn:
        whole = store.get_scan(conn, scan_id)
    assert whole is not None
    finished = _finish(db, blobs, box_key, whole, now=now, raise_refusal=True)
    assert finished is not None
    return ChunkResult(finished.received_bytes, finished.status == "complete")


def salvage_cut_chunk(
    db: Database,
    blobs: BlobStore,
    box_key: X25519PrivateKey,
    scan_id: str,
    *,
    offset: int,
    data: bytes,
    now: datetime,
    limits: ScanLimits,
) -> int:
    """Keep what arrived of a chunk whose connection was cut mid-body; returns the offset
    held afterwards.

    The request's signature cannot be checked (it covers the whole body), so nothing about
    the sender is trusted: only bytes that extend the upload exactly where it stands and
    complete encrypted chunks (:data:`signing.scan_cipher.CHUNK_SIZE` each) that open with
    the server's key are kept. Those could only have been made by the holder of the scan's
    key, each in its place; any other byte is dropped. So a cut costs the unfinished
    encrypted chunk (64 KiB at most), not the whole piece in flight.

    The header fixes the key the kept chunks must open with, so it must be the device's:
    either held already (it came in a signed piece) or, in a cut first piece, hashing to
    the ``header_sha256`` the device's signed ``scan.attached`` announced. Otherwise (an
    older counter announced no hash) a cut first piece keeps nothing: an unchecked sender
    could start the upload with a header, and a key, of its own."""
    if not is_scan_id(scan_id) or not data:
        return 0
    with db.write() as conn:
        row = store.get_scan(conn, scan_id)
        if (
            row is None
            or row.status != "arriving"
            or offset != row.received_bytes
            or 0 < offset < HEADER_SIZE
        ):
            return row.received_bytes if row else 0
        data = data[: row.blob_bytes - offset]
        if offset == 0 and not _announced_header(row, data):
            return 0
        prefix = (blobs.read_partial(scan_id, offset) if offset else b"") + data
        good = verified_prefix(prefix, box_key)
        if good <= offset:
            return offset
        header = read_header(prefix)
        if (
            header.plain_size > limits.max_scan_bytes
            or blob_size(header.plain_size, header.chunk_size) != row.blob_bytes
        ):
            return offset
        blobs.append(scan_id, offset, data[: good - offset])
        store.set_received(conn, scan_id, good, at=stamp(now))
    log.info("scan %s: kept %d bytes of a cut chunk", scan_id[:12], good - offset)
    return good


def _announced_header(row: store.ScanRow, data: bytes) -> bool:
    """Whether ``data`` starts with the header the device's signed event announced."""
    return (
        row.header_sha256 is not None
        and len(data) >= HEADER_SIZE
        and hashlib.sha256(data[:HEADER_SIZE]).hexdigest() == row.header_sha256
    )


def _uploadable(conn: Any, device: Device, scan_id: str) -> store.ScanRow:
    row = store.get_scan(conn, scan_id)
    if row is None:
        raise Refusal("scan.unknown", status=404, scan_id=scan_id[:12])
    if row.device_id != device.device_id:
        raise Refusal("scan.not_yours", status=403, scan_id=scan_id[:12])
    return row


def _check_header(
    blobs: BlobStore, scan_id: str, offset: int, data: bytes, blob_bytes: int, limits: ScanLimits
) -> None:
    """Once the header is here, its sizes must match what the event announced."""
    head = (blobs.read_partial(scan_id, offset) if offset else b"") + data[: HEADER_SIZE - offset]
    try:
        header = read_header(head)
    except KKError:
        raise Refusal("scan.bad_header", status=400, extra={"offset": offset}) from None
    if (
        header.plain_size > limits.max_scan_bytes
        or blob_size(header.plain_size, header.chunk_size) != blob_bytes
    ):
        raise Refusal("scan.bad_header", status=400, extra={"offset": offset})


def _finish(
    db: Database,
    blobs: BlobStore,
    box_key: X25519PrivateKey,
    row: store.ScanRow,
    *,
    now: datetime,
    raise_refusal: bool = False,
) -> store.ScanRow | None:
    """Verify a whole blob and mark it complete, or discard it and start over."""
    blob = blobs.read_arrived(row.scan_id, row.blob_bytes)
    refusal: Refusal | None = None
    media_type = None
    plaintext = b""
    if hashlib.sha256(blob).hexdigest() != row.scan_id:
        refusal = Refusal("scan.hash_mismatch", status=422, extra={"offset": 0})
    else:
        try:
            plaintext = open_scan(blob, box_key)
        except KKError:
            refusal = Refusal("scan.unreadable", status=422, extra={"offset": 0})
        else:
            media_type = sniff_media_type(plaintext[:16])
            if media_type is None:
                refusal = Refusal("scan.bad_type", status=422, extra={"offset": 0})
    at = stamp(now)
    with db.write() as conn:
        current = store.get_scan(conn, row.scan_id)
        if current is None or current.status == "complete":
            return current
        if refusal is not None:
            log.warning("scan upload discarded scan=%s code=%s", row.scan_id[:12], refusal.code)
            store.set_received(conn, row.scan_id, 0, at=at)
            blobs.discard_partial(row.scan_id)
        else:
            assert media_type is not None
            blobs.promote(row.scan_id)
            store.mark_complete(
                conn,
                row.scan_id,
                media_type=media_type,
                plain_bytes=len(plaintext),
                plain_sha256=hashlib.sha256(plaintext).hexdigest(),
                at=at,
            )
        after = store.get_scan(conn, row.scan_id)
    if refusal is not None and raise_refusal:
        raise refusal
    return after


# -- 4. staff reads ------------------------------------------------------------------------


def scan_list(conn: Any, application_id: str) -> list[dict[str, Any]]:
    """The application's scans for the central views: complete or still arriving."""
    return [
        {
            "scan_id": a.scan.scan_id,
            "document": a.document,
            "status": a.scan.status,
            "bytes": a.scan.blob_bytes,
            "received_bytes": a.scan.received_bytes,
            "media_type": a.scan.media_type,
            "attached_at": a.attached_at,
        }
        for a in store.scans_of(conn, application_id)
    ]


def read_scan(
    db: Database,
    blobs: BlobStore,
    box_key: X25519PrivateKey,
    application_id: str,
    scan_id: str,
    *,
    actor_id: str,
    role: Role,
    client_ip: str,
    now: datetime,
) -> tuple[str, bytes]:
    """``(media type, plaintext)`` of a complete scan of the application, decrypted now;
    the read is recorded in the access log first. 404 ``scan.unknown`` when the application
    does not carry it, 409 ``scan.not_complete`` while it is arriving."""
    with db.write() as conn:
        attached = {a.scan.scan_id: a for a in store.scans_of(conn, application_id)}
        found = attached.get(scan_id)
        if found is None:
            raise Refusal("scan.unknown", status=404, scan_id=scan_id[:12])
        if found.scan.status != "complete" or found.scan.media_type is None:
            raise Refusal("scan.not_complete", status=409, scan_id=scan_id[:12])
        access_log.append(
            conn,
            at=stamp(now),
            actor_id=actor_id,
            role=role.value,
            client_ip=client_ip,
            action=SCAN_READ,
            application_id=application_id,
            detail=f"{found.document} {scan_id[:12]}",
        )
    return found.scan.media_type, open_scan(blobs.read(scan_id), box_key)


# -- archive -------------------------------------------------------------------------------

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}


def archive_files(conn: Any, application_id: str, data_dir: Path) -> list[tuple[str, bytes]]:
    """``(scans/<document>-<n>.<ext>, plaintext)`` of every scan of the application, for the
    archive package (:func:`sync_server.services.archive.scan_files`), inside the caller's
    transaction. Refuses (``archive.incomplete``) when one is still arriving or its blob is
    gone: an archive never silently lacks a scan."""
    attached = store.scans_of(conn, application_id)
    if not attached:
        return []
    blobs = BlobStore(data_dir / SCANS_DIR)
    box_key = load_box_key(data_dir / BOX_KEY_FILE)
    counts: dict[str, int] = {}
    files = []
    for a in attached:
        what = f"berkas pindaian {a.document} ({a.scan.scan_id[:12]})"
        if a.scan.status != "complete" or a.scan.media_type is None:
            raise Refusal("archive.incomplete", application_id=application_id, missing=what)
        try:
            plaintext = open_scan(blobs.read(a.scan.scan_id), box_key)
        except (OSError, KKError):
            raise Refusal(
                "archive.incomplete", application_id=application_id, missing=what
            ) from None
        counts[a.document] = counts.get(a.document, 0) + 1
        name = f"scans/{a.document}-{counts[a.document]}.{_EXTENSIONS[a.scan.media_type]}"
        files.append((name, plaintext))
    return files


# -- 5. expiry ------------------------------------------------------------------------------


def expire_partials(db: Database, blobs: BlobStore, *, now: datetime, limits: ScanLimits) -> int:
    """Discard partial uploads untouched for ``limits.expiry``; returns how many. The scan
    stays expected (its event stands): the counter uploads it again from zero."""
    cutoff = stamp(now - limits.expiry)
    with db.write() as conn:
        stale = store.stale_partials(conn, touched_before=cutoff)
        for scan_id in stale:
            store.set_received(conn, scan_id, 0, at=stamp(now))
            blobs.discard_partial(scan_id)
    if stale:
        log.info("expired %d abandoned partial scan uploads", len(stale))
    return len(stale)
