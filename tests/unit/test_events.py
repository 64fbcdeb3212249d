from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from protocol.canonical import canonical_json
from protocol.errors import ChainError, SignatureInvalid, ValidationError
from protocol.events import (
    GENESIS_HASH,
    MAX_EVENT_BYTES,
    ChangeEvent,
    EventKind,
    check_successor,
    format_timestamp,
    parse_timestamp,
)
from protocol.workflow import Action
from signing.events import build_event, sign_event, verify_event
from signing.keys import (
    KeyFileError,
    fingerprint,
    generate_key,
    load_private_key,
    load_public_key_b64,
    public_key_b64,
    save_private_key,
)
from tests.factories import application_dict

AT = datetime(2026, 11, 25, 8, 30, 0, 120000, tzinfo=UTC)
APP_ID = application_dict()["id"]
# A fixed key so the test vector below is reproducible by other implementations.
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _event(kind=EventKind.SUBMITTED, body=None, previous: ChangeEvent | None = None, key=KEY):
    return build_event(
        key=key,
        device_id="dev-160601-a",
        operator_id="op-0001",
        previous_seq=previous.seq if previous else 0,
        previous_hash=previous.hash() if previous else GENESIS_HASH,
        kind=kind,
        application_id=APP_ID,
        body={} if body is None else body,
        at=AT,
    )


def test_known_vector_for_other_implementations():
    event = _event()
    assert event.signed_bytes() == (
        b'{"application_id":"0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a11","body":{},'
        b'"created_at":"2026-11-25T08:30:00.120Z","device_id":"dev-160601-a",'
        b'"kind":"application.submitted","operator_id":"op-0001",'
        b'"prev_hash":"' + GENESIS_HASH.encode() + b'","seq":1,"v":1}'
    )
    # Ed25519 is deterministic: the same key and bytes always give this signature. The
    # same values are printed in docs/protocol.md for other implementations.
    assert public_key_b64(KEY) == "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
    assert event.sig == (
        "NtLk6OLKL2SkOVRrQTrVocGVodXxLb4foV4CDwZ+8t33w6WC+UFU6jTThYpKSpFQBm/hsKuaCayREaW1co0HDg=="
    )
    assert event.hash() == "9d77b077b53b43a5145c0bd64299425d350b8951b7b5cc1647f34a5883eb5f36"


def test_events_round_trip_through_json_and_verify():
    created = _event(EventKind.APPLICATION_CREATED, {"application": application_dict()})
    submitted = _event(previous=created)
    for event in (created, submitted):
        assert event.wire_bytes() == canonical_json(event.to_wire())
        wire = json.loads(json.dumps(event.to_wire()))
        again = ChangeEvent.from_wire(wire)
        assert again == event
        verify_event(again, KEY.public_key())
    check_successor(0, GENESIS_HASH, created)
    check_successor(created.seq, created.hash(), submitted)
    assert submitted.prev_hash == created.hash()
    assert created.action is Action.CREATE and submitted.action is Action.SUBMIT


def test_a_changed_byte_or_another_key_fails_verification():
    event = _event(EventKind.WITHDRAWN, {"reasons": {"items": [], "text": "pemohon batal"}})
    tampered = replace(event, body={"reasons": {"items": [], "text": "pemohon batal!"}})
    with pytest.raises(SignatureInvalid) as err:
        verify_event(tampered, KEY.public_key())
    assert err.value.code == "signature.invalid"
    with pytest.raises(SignatureInvalid):
        verify_event(event, generate_key().public_key())
    with pytest.raises(SignatureInvalid):
        verify_event(replace(event, seq=2), KEY.public_key())


def test_chain_gaps_and_breaks_are_typed_errors():
    first = _event()
    second = _event(previous=first)
    third = _event(previous=second)
    with pytest.raises(ChainError) as err:
        check_successor(first.seq, first.hash(), third)
    assert err.value.code == "event.seq_gap"
    assert "diharapkan nomor 2, diterima 3" in err.value.message
    forged = sign_event(replace(second, prev_hash="a" * 64), KEY)
    with pytest.raises(ChainError) as err:
        check_successor(first.seq, first.hash(), forged)
    assert err.value.code == "event.chain_broken"
    with pytest.raises(ChainError):
        check_successor(0, GENESIS_HASH, second)


def _wire(**changes):
    wire = _event().to_wire()
    wire.update(changes)
    return wire


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"kind": "application.deleted"}, "event.unknown_kind"),
        ({"v": 2}, "event.unsupported_version"),
        ({"seq": True}, "event.malformed"),
        ({"seq": 0}, "event.malformed"),
        ({"seq": "1"}, "event.malformed"),
        ({"prev_hash": "ABC"}, "event.malformed"),
        ({"created_at": "2026-11-25 08:30"}, "event.malformed"),
        ({"created_at": "2026-13-25T08:30:00.000Z"}, "event.malformed"),
        ({"application_id": "not-a-uuid"}, "event.malformed"),
        ({"device_id": "dev/../x"}, "event.malformed"),
        ({"body": []}, "event.malformed"),
        ({"body": {"x": 1}}, "event.malformed"),
        ({"sig": "abc"}, "event.malformed"),
        ({"extra": 1}, "event.malformed"),
    ],
)
def test_malformed_wire_events_are_refused_with_a_code(changes, code):
    with pytest.raises(ValidationError) as err:
        ChangeEvent.from_wire(_wire(**changes))
    assert err.value.code == code


def test_bodies_must_fit_their_kind():
    with pytest.raises(ValidationError) as err:
        ChangeEvent.from_wire(_wire(kind="application.created", body={"application": {}}))
    assert {i.field for i in err.value.issues} >= {
        "body.application.id",
        "body.application.applicant",
    }
    other = application_dict(id="11111111-2222-4333-8444-555555555555")
    with pytest.raises(ValidationError) as err:
        ChangeEvent.from_wire(_wire(kind="application.edited", body={"application": other}))
    assert err.value.code == "event.application_mismatch"
    with pytest.raises(ValidationError) as err:
        ChangeEvent.from_wire(_wire(kind="application.withdrawn", body={"reasons": {"items": [1]}}))
    assert err.value.code == "event.malformed"
    with pytest.raises(ValidationError) as err:
        ChangeEvent.from_wire(_wire(body={"x": 1.5}))
    assert err.value.code == "canonical.unsupported_value"
    with pytest.raises(ValidationError):
        _event(EventKind.MARKED_INCOMPLETE, {"reasons": "kurang"})  # never signed


def test_oversized_events_are_refused():
    big = application_dict()
    big["members"] = big["members"] * 600
    with pytest.raises(ValidationError) as err:
        ChangeEvent.from_wire(
            _wire(kind="application.edited", body={"application": big}, sig="A" * 86 + "==")
        )
    assert err.value.code == "event.too_large"
    assert MAX_EVENT_BYTES == 256 * 1024


def test_timestamps_have_one_form():
    assert format_timestamp(AT) == "2026-11-25T08:30:00.120Z"
    assert parse_timestamp("2026-11-25T08:30:00.120Z") == AT
    assert parse_timestamp("2026-11-25T08:30:00Z") is None
    with pytest.raises(ValueError):
        format_timestamp(datetime(2026, 1, 1))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(max_codepoint=127), max_size=8), children, max_size=4
        )
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_bytes_survive_a_json_round_trip(value):
    data = canonical_json(value)
    assert canonical_json(json.loads(data)) == data


@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_breaks_the_signature(position, flip):
    event = _event(EventKind.APPLICATION_CREATED, {"application": application_dict()})
    raw = bytearray(event.signed_bytes())
    raw[position % len(raw)] ^= flip
    with pytest.raises(Exception):  # noqa: B017 - any failure to verify is the point
        KEY.public_key().verify(base64.b64decode(event.sig), bytes(raw))


def test_device_key_files_are_private_and_never_overwritten(tmp_path):
    path = tmp_path / "keys" / "device.pem"
    key = generate_key()
    save_private_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_b64(load_private_key(path)) == public_key_b64(key)
    with pytest.raises(KeyFileError) as err:
        save_private_key(generate_key(), path)
    assert err.value.code == "key.exists"
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError) as err:
        load_private_key(path)
    assert err.value.code == "key.insecure_permissions"
    with pytest.raises(KeyFileError) as err:
        load_private_key(tmp_path / "none.pem")
    assert err.value.code == "key.file_missing"


def test_public_keys_travel_as_base64():
    text = public_key_b64(KEY)
    assert public_key_b64(load_public_key_b64(text)) == text
    assert len(fingerprint(KEY)) == 16
    for bad in ("", "abc", base64.b64encode(b"x" * 31).decode(), "!!!!"):
        with pytest.raises(ValidationError) as err:
            load_public_key_b64(bad)
        assert err.value.code == "key.invalid"


def test_nothing_malformed_is_ever_signed():
    for changes in ({"device_id": "dev 1!"}, {"application_id": "not-a-uuid"}):
        kwargs = {
            "key": KEY, "device_id": "dev-1", "operator_id": "op-1", "previous_seq": 0,
            "previous_hash": GENESIS_HASH, "kind": EventKind.SUBMITTED,
            "application_id": APP_ID, "body": {}, "at": AT, **changes,
        }  # fmt: skip
        with pytest.raises(ValidationError):
            build_event(**kwargs)


def test_a_leftover_temp_file_does_not_leak_into_the_key(tmp_path):
    path = tmp_path / "device.pem"
    leftover = tmp_path / f".device.pem.{os.getpid()}.tmp"
    leftover.write_text("old")
    os.chmod(leftover, 0o644)
    save_private_key(generate_key(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not leftover.exists()


def test_small_order_public_keys_are_refused():
    # The identity point: with it, (R = identity, S = 0) verifies for every message.
    identity = (1).to_bytes(32, "little")
    # A point of order 2 (x = 0, y = -1), and a non-canonical y >= p.
    order_two = (2**255 - 19 - 1).to_bytes(32, "little")
    non_canonical = (2**255 - 19 + 1).to_bytes(32, "little")
    for raw in (identity, order_two, non_canonical):
        with pytest.raises(ValidationError) as err:
            load_public_key_b64(base64.b64encode(raw).decode())
        assert err.value.code == "key.invalid"
    for _ in range(50):
        load_public_key_b64(public_key_b64(generate_key()))
