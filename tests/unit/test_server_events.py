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


def _signed(kind: ServerEventKind, body: dict, *, app_id: str | None = APP_ID) -> dict:
    event = ServerEvent(
        cursor=7, audience=DEVICE, kind=kind, application_id=app_id,
        created_at="2026-11-25T09:00:00.010Z", body=body,
    )  # fmt: skip
    return sign_event(event, SERVER_KEY).to_wire()


_OPERATOR = {
    "operator_id": "usr-0123456789ab", "username": "budi", "full_name": "Budi Santoso",
    "kecamatan": "160601", "password_hash": "scrypt$15$8$1$c2FsdA==$aGFzaA==", "active": True,
}  # fmt: skip
_TRANSFER = {
    "from_device_id": "dev-160601-old", "to_device_id": DEVICE, "state": "returned",
    "at": "2026-11-25T09:00:00.000Z", "application": {"id": APP_ID}, "decisions": [],
}  # fmt: skip
_INBOX_ATTACHED = {"item_id": 3, "application_id": APP_ID, "at": "2026-11-25T09:00:00.000Z"}


@pytest.mark.parametrize(
    ("kind", "body", "app_id"),
    [
        (ServerEventKind.OPERATOR_UPSERT, _OPERATOR, None),
        (ServerEventKind.APPLICATION_TRANSFERRED, _TRANSFER, APP_ID),
        (
            ServerEventKind.APPLICATION_TRANSFERRED,
            {
                **_TRANSFER,
                "from_device_id": DEVICE,
                "to_device_id": "dev-160601-new",
                "application": None,
                "decisions": None,
            },
            APP_ID,
        ),  # fmt: skip
        (
            ServerEventKind.KK_READY,
            {"kk_number": "1606012511260001", "document": {"sha256": "ab" * 32}},
            APP_ID,
        ),
        (
            ServerEventKind.MESSAGE_STATUS,
            {"message_id": "msg-1", "status": "read", "at": "2026-11-25T09:00:00.000Z"},
            APP_ID,
        ),
        (ServerEventKind.INBOX_ATTACHED, _INBOX_ATTACHED, None),
    ],
)
def test_every_kind_parses_with_a_well_formed_body(kind, body, app_id):
    wire = _signed(kind, body, app_id=app_id)
    event = ServerEvent.from_wire(wire, audience=DEVICE, after_cursor=0)
    verify_server_event(event, SERVER_KEY.public_key())


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (ServerEventKind.OPERATOR_UPSERT, {**_OPERATOR, "active": 1}),
        (ServerEventKind.OPERATOR_UPSERT, {**_OPERATOR, "kecamatan": "1606"}),
        (ServerEventKind.OPERATOR_UPSERT, {**_OPERATOR, "password_hash": ""}),
        (ServerEventKind.APPLICATION_TRANSFERRED, {**_TRANSFER, "state": "submitted"}),
        (ServerEventKind.APPLICATION_TRANSFERRED, {**_TRANSFER, "application": None}),
        (ServerEventKind.APPLICATION_TRANSFERRED, {**_TRANSFER, "to_device_id": "dev-x"}),
        (ServerEventKind.APPLICATION_TRANSFERRED, {**_TRANSFER, "from_device_id": DEVICE}),
        (ServerEventKind.APPLICATION_TRANSFERRED, {**_TRANSFER, "decisions": [{"action": "x"}]}),
        (ServerEventKind.KK_READY, {"kk_number": "123", "document": {}}),
        (ServerEventKind.MESSAGE_STATUS, {"message_id": "m", "status": "", "at": "kemarin"}),
        (ServerEventKind.INBOX_ATTACHED, {**_INBOX_ATTACHED, "item_id": 0}),
        (ServerEventKind.INBOX_ATTACHED, {**_INBOX_ATTACHED, "item_id": True}),
        (ServerEventKind.INBOX_ATTACHED, {**_INBOX_ATTACHED, "application_id": None}),
        (ServerEventKind.INBOX_ATTACHED, {**_INBOX_ATTACHED, "at": "kemarin"}),
    ],
)
def test_bodies_that_cannot_be_applied_are_malformed(kind, body):
    no_application = {ServerEventKind.OPERATOR_UPSERT, ServerEventKind.INBOX_ATTACHED}
    app_id = None if kind in no_application else APP_ID
    with pytest.raises(ValidationError) as err:
        ServerEvent.from_wire(_signed(kind, body, app_id=app_id), audience=DEVICE, after_cursor=0)
    assert err.value.code == "server_event.malformed"


def test_a_decision_needs_its_actor_time_and_reasons_shape():
    for change in ({"actor_name": ""}, {"at": "besok"}, {"reasons": {"items": "kk_lama"}}):
        with pytest.raises(ValidationError) as err:
            ServerEvent.from_wire(_decided(**change).to_wire(), audience=DEVICE, after_cursor=0)
        assert err.value.code == "server_event.malformed"
    ServerEvent.from_wire(_decided(reasons=None).to_wire(), audience=DEVICE, after_cursor=0)
