"""The server's side of scan uploads over real HTTP: announce by event, missing check,
chunks at offsets, verification on completion, refusals, staff reads.

Counters are played by :class:`DeviceLog` (signed events) and signed requests made here, so
every refusal can be provoked on purpose; the counter's own engine is tested in
test_counter_scan_sync.py.
"""

# ruff: noqa: F811  (fixtures imported from other test modules)
from __future__ import annotations

import hashlib
import io
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image

from protocol.events import EventKind
from protocol.scans import ScanReference
from signing.requests import sign_request
from signing.scan_cipher import HEADER_SIZE, encrypt_scan, open_scan
from signing.sealed_box import generate_box_key, load_box_key, load_box_public_b64
from sync_server.services import scans as scan_service
from sync_server.storage.scans import BlobStore
from tests.factories import application_dict
from tests.integration.conftest import (
    DeviceLog,
    EnrolledDevice,
    RunningServer,
    add_operator,
    enroll_device,
    push,
)
from tests.integration.test_staff_decisions import STAFF, staff, tokens  # noqa: F401
from tests.support.http import problem
from tests.support.scan_samples import jpeg_scan, pdf_scan

SCANS = "/api/v1/sync/scans"
APP = application_dict()
APP_ID = APP["id"]
STAFF_ROLE = next(iter(STAFF))  # the verifikator


def signed(
    client: httpx.Client,
    device: EnrolledDevice,
    method: str,
    target: str,
    body: bytes = b"",
    content_type: str = "application/json",
) -> httpx.Response:
    headers = sign_request(
        device.key, device.device_id, method, target, body, now=datetime.now(UTC)
    )
    headers["Content-Type"] = content_type
    return client.request(method, target, content=body, headers=headers)


def status(client, device, *scan_ids: str) -> list[dict[str, Any]]:
    body = json.dumps({"scan_ids": list(scan_ids)}).encode()
    response = signed(client, device, "POST", f"{SCANS}/status", body)
    assert response.status_code == 200, response.text
    return response.json()["scans"]


def chunk(client, device, scan_id: str, offset: int, data: bytes, digest: str | None = None):
    digest = digest or hashlib.sha256(data).hexdigest()
    target = f"{SCANS}/{scan_id}?offset={offset}&sha256={digest}"
    return signed(client, device, "PATCH", target, data, "application/offset+octet-stream")


class Counter:
    """A device that announces scans by event, as the counter app does."""

    def __init__(
        self, server: RunningServer, client: httpx.Client, application_id: str = APP_ID
    ) -> None:
        self.server = server
        self.client = client
        self.application_id = application_id
        self.device = enroll_device(server, client)
        self.log = DeviceLog(self.device, add_operator(server, f"op{self.device.device_id[-4:]}"))
        app = application_dict(id=application_id)
        response = push(client, self.device, [self.log.create(app)])
        assert response.status_code == 200, response.text
        self.box = load_box_key(server.config.box_key_path).public_key()

    def announce(
        self,
        blob: bytes,
        *,
        document: str = "kk_lama",
        media: str = "image/jpeg",
        header: bool = False,
    ):
        """Push the ``scan.attached`` of ``blob``; ``header``: with the header's hash, as
        today's counters announce it (older ones did not)."""
        scan_id = hashlib.sha256(blob).hexdigest()
        digest = hashlib.sha256(blob[:HEADER_SIZE]).hexdigest() if header else None
        ref = ScanReference(scan_id, document, media, len(blob), digest)
        wire = self.log.append(EventKind.SCAN_ATTACHED, self.application_id, ref.to_body())
        response = push(self.client, self.device, [wire])
        assert response.status_code == 200, response.text
        return scan_id, response.json()["results"][0]

    def attach(self, content: bytes, **kw: Any) -> tuple[str, bytes]:
        blob = encrypt_scan(content, self.box, chunk_size=4096).blob
        scan_id, result = self.announce(blob, **kw)
        assert result["status"] == "applied", result
        return scan_id, blob


@pytest.fixture
def counter(server, client) -> Counter:
    return Counter(server, client)


def test_a_scan_is_expected_after_its_event_and_complete_after_its_bytes(
    counter, client, server, tokens
):
    photo = jpeg_scan(seed=11)
    scan_id, blob = counter.attach(photo)
    assert status(client, counter.device, scan_id) == [
        {"scan_id": scan_id, "status": "partial", "offset": 0, "bytes": len(blob)}
    ]
    detail = client.get(f"/api/v1/applications/{APP_ID}", headers=tokens[STAFF_ROLE]).json()
    assert [(s["scan_id"], s["status"]) for s in detail["scans"]] == [(scan_id, "arriving")]

    # Whole file in one request (step b); the answer says it is complete and verified.
    response = chunk(client, counter.device, scan_id, 0, blob)
    assert response.json() == {"scan_id": scan_id, "offset": len(blob), "complete": True}
    assert status(client, counter.device, scan_id)[0]["status"] == "complete"
    stored = BlobStore(server.config.scans_dir).path(scan_id).read_bytes()
    assert stored == blob  # kept encrypted, content-addressed
    assert photo[300:400] not in stored

    detail = client.get(f"/api/v1/applications/{APP_ID}", headers=tokens[STAFF_ROLE]).json()
    [listed] = detail["scans"]
    assert (listed["status"], listed["media_type"], listed["document"]) == (
        "complete",
        "image/jpeg",
        "kk_lama",
    )
    read = client.get(f"/api/v1/applications/{APP_ID}/scans/{scan_id}", headers=tokens[STAFF_ROLE])
    assert read.status_code == 200
    assert read.headers["content-type"] == "image/jpeg" and read.content == photo
    assert read.headers["cache-control"] == "no-store"
    with server.db.read() as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM access_log ORDER BY seq")]
    assert actions[-1] == "scan.read"
    # A re-sent last chunk (its answer was lost) is acknowledged, not refused.
    assert chunk(client, counter.device, scan_id, 0, blob).json()["complete"] is True


def test_admin_and_devices_cannot_read_scans(counter, client, tokens):
    from protocol.workflow import Role

    scan_id, blob = counter.attach(pdf_scan())
    chunk(client, counter.device, scan_id, 0, blob)
    target = f"/api/v1/applications/{APP_ID}/scans/{scan_id}"
    problem(client.get(target, headers=tokens[Role.ADMIN]), 403, "auth.forbidden_role")
    problem(client.get(target), 401, "auth.token_missing")


def test_a_damaged_chunk_is_discarded_and_the_offset_stays(counter, client, server):
    scan_id, blob = counter.attach(jpeg_scan(seed=12))
    half = len(blob) // 2
    assert chunk(client, counter.device, scan_id, 0, blob[:half]).json()["offset"] == half
    damaged = bytearray(blob[half:])
    damaged[10] ^= 0xFF
    right_digest = hashlib.sha256(blob[half:]).hexdigest()
    body = problem(
        chunk(client, counter.device, scan_id, half, bytes(damaged), right_digest),
        400,
        "scan.checksum_mismatch",
    )
    assert body["offset"] == half
    partial = BlobStore(server.config.scans_dir).partial_path(scan_id)
    assert partial.read_bytes() == blob[:half]  # nothing of the bad chunk was written
    assert status(client, counter.device, scan_id)[0]["offset"] == half
    # A chunk at the wrong offset is refused with the offset the server holds.
    body = problem(chunk(client, counter.device, scan_id, 7, blob[7:]), 409, "scan.offset_mismatch")
    assert body["offset"] == half
    assert chunk(client, counter.device, scan_id, half, blob[half:]).json()["complete"] is True


def test_a_blob_that_is_not_its_id_or_not_a_document_is_discarded_whole(counter, client, server):
    # Bytes that do not hash to the announced id: discarded, the upload starts over.
    scan_id, blob = counter.attach(jpeg_scan(seed=13))
    forged = blob[:-1] + bytes([blob[-1] ^ 1])
    problem(chunk(client, counter.device, scan_id, 0, forged), 422, "scan.hash_mismatch")
    assert status(client, counter.device, scan_id)[0] == {
        "scan_id": scan_id,
        "status": "partial",
        "offset": 0,
        "bytes": len(blob),
    }
    assert not BlobStore(server.config.scans_dir).partial_path(scan_id).exists()

    # A GIF sealed properly is still not a document: refused by content after decryption.
    gif = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(gif, "GIF")
    gif_blob = encrypt_scan(gif.getvalue(), counter.box).blob
    gif_id, _ = counter.announce(gif_blob)
    problem(chunk(client, counter.device, gif_id, 0, gif_blob), 422, "scan.bad_type")

    # Sealed for another key: the server cannot open it, so it is not kept.
    stranger = encrypt_scan(pdf_scan(), generate_box_key().public_key()).blob
    stranger_id, _ = counter.announce(stranger, media="application/pdf")
    problem(chunk(client, counter.device, stranger_id, 0, stranger), 422, "scan.unreadable")


def test_only_the_announcing_device_uploads_and_only_announced_scans(counter, client, server):
    scan_id, blob = counter.attach(pdf_scan(), media="application/pdf")
    other = enroll_device(server, client)
    problem(chunk(client, other, scan_id, 0, blob), 403, "scan.not_yours")
    unknown = encrypt_scan(pdf_scan("x"), counter.box).blob
    unknown_id = hashlib.sha256(unknown).hexdigest()
    problem(chunk(client, counter.device, unknown_id, 0, unknown), 404, "scan.unknown")
    assert status(client, counter.device, unknown_id)[0]["status"] == "unknown"
    for target in [f"{SCANS}/{scan_id}?offset=-1&sha256={'0' * 64}", f"{SCANS}/{scan_id}?offset=0"]:
        problem(signed(client, counter.device, "PATCH", target, b"x"), 400, "scan.bad_parameter")
    body = json.dumps({"scan_ids": ["../../etc/passwd"]}).encode()
    problem(
        signed(client, counter.device, "POST", f"{SCANS}/status", body),
        400,
        "request.invalid_body",
    )


def test_size_limits_refuse_the_event(server, client):
    counter = Counter(server, client)
    too_big = scan_service.DEFAULT_SCAN_LIMITS.max_blob_bytes + 1
    fake_id = hashlib.sha256(b"big").hexdigest()
    ref = ScanReference(fake_id, "kk_lama", "image/jpeg", too_big)
    wire = counter.log.append(EventKind.SCAN_ATTACHED, APP_ID, ref.to_body())
    [result] = push(client, counter.device, [wire]).json()["results"]
    assert (result["status"], result["code"]) == ("refused", "scan.too_large")
    # Many scans of one application: the total is bounded too.
    codes = []
    for i in range(6):
        scan_id = hashlib.sha256(bytes([i])).hexdigest()
        ref = ScanReference(scan_id, "kk_lama", "image/jpeg", 14_000_000)
        wire = counter.log.append(EventKind.SCAN_ATTACHED, APP_ID, ref.to_body())
        codes.append(push(client, counter.device, [wire]).json()["results"][0]["code"])
    assert codes[:4] == [None] * 4 and codes[4:] == ["scan.application_too_large"] * 2


def test_a_header_that_does_not_match_the_announced_size_is_refused(counter, client):
    real = encrypt_scan(jpeg_scan(seed=14), counter.box).blob
    # Announce a blob of another length: its header then disagrees with the event.
    padded = real + b"\0" * 32
    scan_id, _ = counter.announce(padded)
    problem(chunk(client, counter.device, scan_id, 0, padded[:4096]), 400, "scan.bad_header")


def test_abandoned_partial_uploads_expire(counter, client, server):
    scan_id, blob = counter.attach(jpeg_scan(seed=15))
    chunk(client, counter.device, scan_id, 0, blob[:5000])
    blobs = BlobStore(server.config.scans_dir)
    assert blobs.partial_path(scan_id).exists()
    limits = scan_service.DEFAULT_SCAN_LIMITS
    now = datetime.now(UTC)
    assert scan_service.expire_partials(server.db, blobs, now=now, limits=limits) == 0
    later = now + limits.expiry + timedelta(minutes=1)
    assert scan_service.expire_partials(server.db, blobs, now=later, limits=limits) == 1
    assert not blobs.partial_path(scan_id).exists()
    assert status(client, counter.device, scan_id)[0]["offset"] == 0  # starts over
    assert chunk(client, counter.device, scan_id, 0, blob).json()["complete"] is True


def test_the_scan_key_is_signed_by_the_pinned_server_key(counter, client, server):
    from signing.keys import load_public_key_b64
    from signing.sealed_box import box_public_b64, verify_scan_key_offer

    offer = signed(client, counter.device, "GET", f"{SCANS}/key").json()
    pinned = load_public_key_b64(counter.device.server_public_key)
    public = verify_scan_key_offer(pinned, offer)
    assert public == box_public_b64(load_box_key(server.config.box_key_path))
    blob = encrypt_scan(b"%PDF-1.4 x", load_box_public_b64(public)).blob
    assert open_scan(blob, load_box_key(server.config.box_key_path)) == b"%PDF-1.4 x"


def test_the_archive_takes_every_scan_decrypted_and_refuses_one_still_arriving(counter, client):
    from sync_server.errors import Refusal
    from sync_server.services import archive

    pdf, photo = pdf_scan("Buku Nikah"), jpeg_scan(seed=16)
    first, first_blob = counter.attach(pdf, document="buku_nikah", media="application/pdf")
    second, second_blob = counter.attach(photo)
    chunk(client, counter.device, first, 0, first_blob)
    with counter.server.db.read() as conn:
        with pytest.raises(Refusal) as refused:
            archive.scan_files(conn, APP_ID)
    assert refused.value.code == "archive.incomplete" and "kk_lama" in refused.value.message
    chunk(client, counter.device, second, 0, second_blob)
    with counter.server.db.read() as conn:
        files = {f.name: f.data for f in archive.scan_files(conn, APP_ID)}
    assert files == {"scans/buku_nikah-1.pdf": pdf, "scans/kk_lama-1.jpg": photo}


def test_the_same_scan_from_two_devices(counter, client, server, tokens):
    """Each counter seals its own copy with its own key, so the blobs (and ids) differ and
    each is sent and verified on its own; the server still knows they are one document
    (the plaintext SHA-256 it records after decrypting) and each application reads it."""
    other_app = "5b0e9f8e-3c1d-4a7b-9e2f-6d8c7b6a5f40"
    second = Counter(server, client, application_id=other_app)
    photo = jpeg_scan(seed=17)
    first_id, first_blob = counter.attach(photo)
    second_id, second_blob = second.attach(photo)
    assert first_id != second_id
    # Neither device may touch the other's upload, even of the same document.
    problem(chunk(client, second.device, first_id, 0, first_blob), 403, "scan.not_yours")
    assert chunk(client, counter.device, first_id, 0, first_blob).json()["complete"]
    assert chunk(client, second.device, second_id, 0, second_blob).json()["complete"]
    with server.db.read() as conn:
        rows = conn.execute(
            "SELECT scan_id, device_id, plain_sha256 FROM scans ORDER BY created_at"
        ).fetchall()
    assert [r["device_id"] for r in rows] == [counter.device.device_id, second.device.device_id]
    assert {r["plain_sha256"] for r in rows} == {hashlib.sha256(photo).hexdigest()}
    for app_id, scan_id in ((APP_ID, first_id), (other_app, second_id)):
        read = client.get(
            f"/api/v1/applications/{app_id}/scans/{scan_id}", headers=tokens[STAFF_ROLE]
        )
        assert read.content == photo
    # Naming the other device's scan id does not graft its document onto this application.
    ref = ScanReference(first_id, "kk_lama", "image/jpeg", len(first_blob))
    wire = second.log.append(EventKind.SCAN_ATTACHED, other_app, ref.to_body())
    [result] = push(client, second.device, [wire]).json()["results"]
    assert (result["status"], result["code"]) == ("refused", "scan.not_yours")
    with server.db.read() as conn:
        assert scan_service.scan_list(conn, other_app)[0]["scan_id"] == second_id
        assert len(scan_service.scan_list(conn, other_app)) == 1


def _cut_request(link, device, scan_id: str, offset: int, whole: bytes, sent: bytes) -> None:
    """A chunk request signed over ``whole``, sent through a slow link that is cut once
    ``sent`` crossed it (the last few KB of it may be lost with the cut)."""
    digest = hashlib.sha256(whole).hexdigest()
    target = f"{SCANS}/{scan_id}?offset={offset}&sha256={digest}"
    headers = sign_request(device.key, device.device_id, "PATCH", target, whole,
                           now=datetime.now(UTC))  # fmt: skip
    headers.update(
        {"Content-Type": "application/offset+octet-stream", "Content-Length": str(len(whole))}
    )
    host, port = link.url.removeprefix("http://").split(":")
    head = f"PATCH {target} HTTP/1.1\r\nHost: {host}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    request = head.encode("latin-1") + b"\r\n" + sent
    cuts = link.stats.cuts
    link.set_profile(
        link_rate_bytes_per_s=50_000, cut_at_up_bytes=link.stats.bytes_up + len(request)
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request)
        deadline = time.monotonic() + 30
        while link.stats.cuts == cuts and time.monotonic() < deadline:
            time.sleep(0.05)


def _wait_offset(client, device, scan_id: str, expected: int) -> None:
    deadline = time.monotonic() + 30
    while (offset := status(client, device, scan_id)[0]["offset"]) != expected:
        assert time.monotonic() < deadline, offset
        time.sleep(0.05)


def test_an_older_counters_cut_first_piece_keeps_nothing(counter, client, link):
    """Without the header's hash in the signed event the server cannot tell the device's
    header from anyone's: a cut first piece is dropped whole."""
    blob = encrypt_scan(jpeg_scan(seed=13), counter.box, chunk_size=8 * 1024).blob
    scan_id, result = counter.announce(blob)
    assert result["status"] == "applied", result
    _cut_request(link, counter.device, scan_id, 0, blob, blob[: HEADER_SIZE + 30_000])
    first = HEADER_SIZE + 8 * 1024 + 16
    answer = chunk(client, counter.device, scan_id, 0, blob[:first])  # 409 had it kept any
    assert answer.status_code == 200 and answer.json()["offset"] == first, answer.text


def test_a_cut_chunk_keeps_only_whole_encrypted_chunks_that_open(counter, client, link):
    step = 8 * 1024 + 16
    blob = encrypt_scan(jpeg_scan(seed=12), counter.box, chunk_size=8 * 1024).blob
    scan_id, result = counter.announce(blob, header=True)
    assert result["status"] == "applied", result
    first, second, third, fourth = (HEADER_SIZE + n * step for n in (1, 2, 3, 4))
    assert len(blob) > fourth + step
    # A first piece whose header is not the one the signed event announced (someone who
    # learnt the scan id, with a key of their own): nothing of it is kept.
    forged = encrypt_scan(jpeg_scan(seed=12), counter.box, chunk_size=8 * 1024).blob
    _cut_request(link, counter.device, scan_id, 0, blob, forged[: second + 9000])
    # The genuine first piece, cut after its first chunk: header and chunk kept.
    _cut_request(link, counter.device, scan_id, 0, blob, blob[: first + 9000])
    _wait_offset(client, counter.device, scan_id, first)
    # The third encrypted chunk arrives altered (on the wire, or forged by someone who
    # replays the device's headers): only the second one is kept.
    damaged = blob[first:second] + bytes(step) + blob[third : third + 9000]
    _cut_request(link, counter.device, scan_id, first, blob[first:], damaged)
    _wait_offset(client, counter.device, scan_id, second)
    # A genuine piece cut a little after two more chunks: those two are kept.
    _cut_request(link, counter.device, scan_id, second, blob[second:], blob[second : fourth + 9000])
    _wait_offset(client, counter.device, scan_id, fourth)
    # The rest completes the scan, verified whole as usual.
    answer = chunk(client, counter.device, scan_id, fourth, blob[fourth:])
    assert answer.json() == {"scan_id": scan_id, "offset": len(blob), "complete": True}
