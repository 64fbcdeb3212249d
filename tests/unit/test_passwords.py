from __future__ import annotations

import pytest

from protocol.request_auth import request_signing_bytes
from signing.passwords import hash_password, needs_rehash, verify_password


def test_a_password_verifies_only_against_its_own_hash():
    encoded = hash_password("Sekayu#2026")
    assert encoded.startswith("scrypt$15$8$1$")
    assert verify_password("Sekayu#2026", encoded)
    assert not verify_password("sekayu#2026", encoded)
    assert hash_password("Sekayu#2026") != encoded  # fresh salt every time
    assert not needs_rehash(encoded)
    assert needs_rehash(hash_password("x", log2_n=10))


@pytest.mark.parametrize(
    "encoded",
    ["", "garbage", "bcrypt$1$2$3$4$5", "scrypt$30$8$1$AAAA$AAAA", "scrypt$15$8$1$!!$AAAA"],
)
def test_unreadable_or_dangerous_hashes_never_verify(encoded):
    assert not verify_password("anything", encoded)


def test_request_signing_bytes_bind_every_field():
    fields = {
        "method": "post", "path": "/api/v1/sync/push?x=1", "body_sha256": "ab" * 32,
        "timestamp": "2026-11-25T08:30:00.000Z", "nonce": "n" * 16, "device_id": "dev-1",
    }  # fmt: skip
    signed = request_signing_bytes(**fields)
    assert signed.split(b"\n")[:3] == [b"KK-REQUEST-V1", b"POST", b"/api/v1/sync/push?x=1"]
    for key in fields:
        if key == "method":
            continue
        changed = request_signing_bytes(**{**fields, key: fields[key] + "0"})
        assert changed != signed
    with pytest.raises(ValueError):
        request_signing_bytes(**{**fields, "path": "/a\n/b"})
