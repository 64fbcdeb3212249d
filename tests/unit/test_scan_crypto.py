"""The scan cryptography: sealed boxes, the chunked blob format, key wraps, type sniffing."""

from __future__ import annotations

import hashlib
import os

import pytest

from protocol.scans import sniff_media_type
from signing.key_escrow import open_escrow, open_for_operator, seal_escrow, seal_for_operator
from signing.key_wrap import (
    KeyUnwrapError,
    unwrap_key,
    unwrap_with_password,
    wrap_key,
    wrap_with_password,
)
from signing.scan_cipher import (
    HEADER_SIZE,
    blob_size,
    decrypt_scan,
    encrypt_scan,
    open_scan,
    read_header,
    verified_prefix,
)
from signing.sealed_box import (
    SealedBoxError,
    box_public_b64,
    generate_box_key,
    load_box_key,
    load_box_public_b64,
    open_sealed,
    save_box_key,
    seal,
)
from tests.support.scan_samples import jpeg_scan, pdf_scan, png_scan


def test_a_sealed_box_opens_only_with_the_recipient_key_and_context():
    server, other = generate_box_key(), generate_box_key()
    box = seal(server.public_key(), b"scan key", context=b"header")
    assert open_sealed(server, box, context=b"header") == b"scan key"
    assert b"scan key" not in box
    with pytest.raises(SealedBoxError):
        open_sealed(other, box, context=b"header")
    with pytest.raises(SealedBoxError):
        open_sealed(server, box, context=b"another header")
    altered = box[:40] + bytes([box[40] ^ 1]) + box[41:]
    with pytest.raises(SealedBoxError):
        open_sealed(server, altered, context=b"header")
    assert seal(server.public_key(), b"x") != seal(server.public_key(), b"x")  # ephemeral


def test_box_keys_round_trip_through_files_and_base64(tmp_path):
    key = generate_box_key()
    save_box_key(key, tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    assert box_public_b64(load_box_key(tmp_path / "k.pem")) == box_public_b64(key)
    assert box_public_b64(load_box_public_b64(box_public_b64(key))) == box_public_b64(key)
    with pytest.raises(Exception, match="X25519"):
        load_box_public_b64("AAAA")


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 200_000])
def test_a_blob_round_trips_and_its_length_follows_from_its_header(size):
    server = generate_box_key()
    plain = os.urandom(size)
    scan = encrypt_scan(plain, server.public_key())
    assert scan.scan_id == hashlib.sha256(scan.blob).hexdigest()
    assert len(scan.blob) == blob_size(size)
    assert read_header(scan.blob[:HEADER_SIZE]).plain_size == size
    assert decrypt_scan(scan.blob, scan.scan_key) == plain
    assert open_scan(scan.blob, server) == plain


def test_any_change_to_a_blob_is_refused():
    server = generate_box_key()
    plain = os.urandom(3 * 1024 + 10)
    scan = encrypt_scan(plain, server.public_key(), chunk_size=1024)
    step = 1024 + 16
    chunks = [scan.blob[HEADER_SIZE + i * step : HEADER_SIZE + (i + 1) * step] for i in range(4)]
    header = scan.blob[:HEADER_SIZE]
    variants = {
        "flipped bit": scan.blob[:-5] + bytes([scan.blob[-5] ^ 1]) + scan.blob[-4:],
        "swapped chunks": header + chunks[1] + chunks[0] + chunks[2] + chunks[3],
        "dropped last chunk": header + b"".join(chunks[:3]),
        "extended": scan.blob + b"\0" * 16,
        "other size in header": header[:16] + bytes([header[16] ^ 1]) + scan.blob[17:],
    }
    for name, blob in variants.items():
        with pytest.raises(SealedBoxError):
            decrypt_scan(blob, scan.scan_key)
            pytest.fail(name)
    with pytest.raises(SealedBoxError):
        open_scan(scan.blob, generate_box_key())


def test_wrapped_keys_open_only_with_their_key_or_password_and_context():
    kek, key = os.urandom(32), os.urandom(32)
    wrapped = wrap_key(kek, key, context=b"scan-1")
    assert unwrap_key(kek, wrapped, context=b"scan-1") == key
    for bad in [(os.urandom(32), b"scan-1"), (kek, b"scan-2")]:
        with pytest.raises(KeyUnwrapError):
            unwrap_key(bad[0], wrapped, context=bad[1])
    by_password = wrap_with_password("Sekayu#2026", key, context=b"op-1", log2_n=10)
    assert unwrap_with_password("Sekayu#2026", by_password, context=b"op-1") == key
    with pytest.raises(KeyUnwrapError):
        unwrap_with_password("sekayu#2026", by_password, context=b"op-1")
    with pytest.raises(KeyUnwrapError):
        unwrap_with_password("Sekayu#2026", by_password, context=b"op-2")
    with pytest.raises(KeyUnwrapError):
        unwrap_with_password("Sekayu#2026", "pw1$99$AA==$AA==$AA==", context=b"op-1")


def test_types_are_recognised_by_content_only():
    assert sniff_media_type(jpeg_scan()[:16]) == "image/jpeg"
    assert sniff_media_type(png_scan()[:16]) == "image/png"
    assert sniff_media_type(pdf_scan()[:16]) == "application/pdf"
    for other in [b"GIF89a....", b"<html>", b"PK\x03\x04", b"", b"MZ\x90\x00"]:
        assert sniff_media_type(other) is None


def test_an_escrow_opens_only_at_the_server_for_the_device_it_names():
    server, data_key = generate_box_key(), os.urandom(32)
    escrow = seal_escrow(server.public_key(), data_key, "dev-160601-aa")
    assert open_escrow(server, escrow, "dev-160601-aa") == data_key
    for key, device, text in [
        (generate_box_key(), "dev-160601-aa", escrow),  # another server
        (server, "dev-160601-bb", escrow),  # copied to another device
        (server, "dev-160601-aa", escrow[:-6] + "AAAAA="),  # altered
        (server, "dev-160601-aa", "bukan base64!"),
        (server, "dev-160601-aa", "A" * 4000),
    ]:
        with pytest.raises(SealedBoxError):
            open_escrow(key, text, device)
    with pytest.raises(SealedBoxError):  # never a key of another length
        open_escrow(server, seal_escrow(server.public_key(), data_key, "d")[:-4], "d")

    ephemeral = generate_box_key()
    sealed = seal_for_operator(ephemeral.public_key(), data_key, "dev-1", "usr-a")
    assert open_for_operator(ephemeral, sealed, "dev-1", "usr-a") == data_key
    for device, operator in [("dev-1", "usr-b"), ("dev-2", "usr-a")]:
        with pytest.raises(SealedBoxError):
            open_for_operator(ephemeral, sealed, device, operator)


def test_the_verified_prefix_is_the_header_and_the_whole_chunks_that_open():
    server = generate_box_key()
    content = os.urandom(10_000)
    blob = encrypt_scan(content, server.public_key(), chunk_size=1024).blob
    step = 1024 + 16
    assert verified_prefix(blob, server) == len(blob)
    assert verified_prefix(blob[: HEADER_SIZE + 3 * step + 500], server) == HEADER_SIZE + 3 * step
    assert verified_prefix(blob[: HEADER_SIZE + 100], server) == 0  # not one chunk yet
    altered = bytearray(blob)
    altered[HEADER_SIZE + 2 * step + 7] ^= 1
    assert verified_prefix(bytes(altered), server) == HEADER_SIZE + 2 * step
    assert verified_prefix(blob, generate_box_key()) == 0  # another key opens nothing
