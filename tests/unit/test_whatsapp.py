"""Pure rules of WhatsApp messages: how reported statuses combine, and the texts."""

from __future__ import annotations

import itertools

import pytest

from protocol.whatsapp import DeliveryStatus, MessagePurpose, advance
from sync_server.services.whatsapp.texts import MAX_CAPTION, render

S = DeliveryStatus


@pytest.mark.parametrize(
    ("current", "reported", "after"),
    [
        (S.SENDING, S.SENT, S.SENT),
        (S.SENT, S.READ, S.READ),  # "delivered" skipped
        (S.READ, S.DELIVERED, None),  # late news
        (S.DELIVERED, S.DELIVERED, None),  # duplicate
        (S.UNKNOWN, S.DELIVERED, S.DELIVERED),  # perlu dicek settled by the webhook
        (S.UNKNOWN, S.FAILED, S.FAILED),
        (S.SENT, S.FAILED, S.FAILED),
        (S.DELIVERED, S.FAILED, None),  # the phone has it already
        (S.FAILED, S.READ, None),
    ],
)
def test_reported_statuses_only_move_a_message_forward(current, reported, after):
    assert advance(current, reported) is after


def test_any_order_of_reports_ends_at_the_furthest_status():
    reports = [S.SENT, S.DELIVERED, S.READ, S.SENT, S.READ]
    for order in itertools.permutations(reports):
        status = S.SENDING
        for reported in order:
            status = advance(status, reported) or status
        assert status is S.READ


def test_every_purpose_renders_in_indonesian_without_placeholders_left():
    params = {"reference": "0B5F1A52", "kecamatan": "Sekayu", "items": ["KK lama"], "note": ""}
    for purpose in MessagePurpose:
        message = render(purpose, params)
        assert "$" not in message.text and "0B5F1A52" in message.text
        assert message.template.name and message.template.language == "id"
        assert all("\n" not in value and value for value in message.template.body)
        assert message.needs_document is (purpose is MessagePurpose.KK_ISSUED)
        assert "\n\n\n" not in message.text  # an empty note leaves no hole


def test_a_document_caption_stays_within_the_api_limit():
    message = render(MessagePurpose.KK_ISSUED, {"reference": "X" * 2000})
    assert len(message.text) <= MAX_CAPTION
