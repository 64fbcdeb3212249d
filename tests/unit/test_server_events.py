from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.errors import SignatureInvalid, ValidationError
from protocol.server_events import ServerEvent, ServerEventKind
from signing.events import sign_event, verify_server_event
from tests.factories import application_dict

SERVER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
DEVICE = "dev-160601-a"
APP_ID = application_dict()["id"]


def _decided(cursor: int = 5, **body_changes) -> ServerEvent:
    body = {
        "action": "return", "from_state": "submitted", "to_state": "returned",
        "role": "verifikator", "actor_id": "u-7", "actor_name": "SRI WAHYUNI",
        "reasons": {"items": ["kk_lama"], "text": "Foto KK lama buram"},
        "at": "2026-11-25T09:00:00.000Z",
    }  # fmt: skip
    body.update(body_changes)
    event = ServerEvent(
        cursor=cursor, audience=DEVICE, kind=ServerEventKind.APPLICATION_DECIDED,
        application_id=APP_ID, created_at="2026-11-25T09:00:00.010Z", body=body,
    )  # fmt: skip
    return sign_event(event, SERVER_KEY)


def test_a_signed_decision_parses_and_verifies():
    event = _decided()
    again = ServerEvent.from_wire(event.to_wire(), audience=DEVICE, after_cursor=4)
    assert again == event
    verify_server_event(again, SERVER_KEY.public_key())


def test_forged_or_misdirected_events_are_refused():
    event = _decided()
    forged = ServerEvent(**{**event.to_wire(), "kind": event.kind, "cursor": 5,
                            "body": {**event.body, "to_state": "signed"}})  # fmt: skip
    with pytest.raises(SignatureInvalid) as err:
        verify_server_event(forged, SERVER_KEY.public_key())
    assert err.value.code == "signature.server_invalid"
    with pytest.raises(SignatureInvalid):
        verify_server_event(event, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(ValidationError) as verr:
        ServerEvent.from_wire(event.to_wire(), audience="dev-other", after_cursor=0)
    assert verr.value.code == "server_event.wrong_audience"
    with pytest.raises(ValidationError) as verr:
        ServerEvent.from_wire(event.to_wire(), audience=DEVICE, after_cursor=5)
    assert verr.value.code == "server_event.cursor_not_increasing"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"kind": "application.deleted"}, "server_event.unknown_kind"),
        ({"application_id": None}, "server_event.malformed"),
        ({"body": {"action": "return"}}, "server_event.malformed"),
        ({"cursor": True}, "server_event.malformed"),
        ({"extra": 1}, "server_event.malformed"),
        ({"created_at": "kemarin"}, "server_event.malformed"),
    ],
)
def test_malformed_server_events_have_codes(change, code):
    wire = {**_decided().to_wire(), **change}
    with pytest.raises(ValidationError) as err:
        ServerEvent.from_wire(wire, audience=DEVICE, after_cursor=0)
    assert err.value.code == code


def test_unknown_decisions_are_refused():
    wire = _decided(to_state="teleported").to_wire()
    with pytest.raises(ValidationError) as err:
        ServerEvent.from_wire(wire, audience=DEVICE, after_cursor=0)
    assert err.value.code == "server_event.malformed"
