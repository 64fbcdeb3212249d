from __future__ import annotations

import pytest

from protocol.errors import ValidationError
from protocol.phone import normalize_whatsapp


@pytest.mark.parametrize(
    "raw",
    ["0812-3456-7890", "081234567890", "+62 812 3456 7890", "6281234567890", "(0812) 3456.7890"],
)
def test_counter_spellings_become_e164(raw):
    assert normalize_whatsapp(raw) == "+6281234567890"


@pytest.mark.parametrize(
    "raw", ["", "0711-123456", "+1 415 555 0100", "08123", "0812345678901234", "08a2345678"]
)
def test_numbers_that_cannot_get_whatsapp_are_refused(raw):
    with pytest.raises(ValidationError) as err:
        normalize_whatsapp(raw, field="applicant.whatsapp")
    assert err.value.code == "phone.invalid"
    assert err.value.issues[0].field == "applicant.whatsapp"
