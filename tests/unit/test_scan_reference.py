"""The ``scan.attached`` body: what a counter announces about a scan, and what the server
accepts of it."""

from __future__ import annotations

import pytest

import protocol.events  # noqa: F401  (defines event.malformed; events always load with it)
from protocol.errors import ValidationError
from protocol.scans import ScanReference, scan_from_body

SCAN_ID = "ab" * 32
HEADER = "cd" * 32


def test_a_reference_round_trips_with_and_without_the_header_hash():
    old = ScanReference(SCAN_ID, "kk_lama", "image/jpeg", 1000)
    assert old.to_body() == {
        "scan": {"id": SCAN_ID, "document": "kk_lama", "media_type": "image/jpeg", "bytes": 1000}
    }
    assert scan_from_body(old.to_body()) == old
    new = ScanReference(SCAN_ID, "kk_lama", "image/jpeg", 1000, HEADER)
    assert new.to_body()["scan"]["header_sha256"] == HEADER
    assert scan_from_body(new.to_body()) == new


@pytest.mark.parametrize(
    "change",
    [
        {"header_sha256": "cd" * 31},
        {"header_sha256": 7},
        {"header_sha256": None, "extra": 1},
        {"bytes": 0},
        {"document": "ktp_tetangga"},
    ],
)
def test_a_malformed_scan_is_refused(change):
    body = ScanReference(SCAN_ID, "kk_lama", "image/jpeg", 1000, HEADER).to_body()
    body["scan"].update(change)
    with pytest.raises(ValidationError) as err:
        scan_from_body(body)
    assert err.value.code == "event.malformed"
