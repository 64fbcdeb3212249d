from __future__ import annotations

import pytest

from protocol.errors import ValidationError
from protocol.services import SUB_TYPES, PeristiwaPenting, ServiceType, parse_service, sub_type


def test_form_lists_eleven_kk_services_in_three_columns():
    assert [s.form_code for s in SUB_TYPES] == [
        "A.1", "A.2", "A.3", "A.4", "A.5", "A.6", "B.1", "B.2", "B.3", "C.1", "C.2",
    ]  # fmt: skip
    assert sub_type("BARU", 3).label == "Pisah KK"
    assert sub_type(ServiceType.HILANG_RUSAK, 2).label == "Rusak"


def test_only_new_families_get_a_new_kk_number():
    new = {s.key for s in SUB_TYPES if s.creates_family}
    assert "pisah_kk" in new and "membentuk_keluarga_baru" in new
    assert all(s.service_type is ServiceType.BARU for s in SUB_TYPES if s.creates_family)
    assert not parse_service("HILANG_RUSAK", 1).creates_family


def test_peristiwa_penting_needs_the_event():
    req = parse_service("PERUBAHAN_DATA", 2, "kelahiran")
    assert req.peristiwa is PeristiwaPenting.KELAHIRAN
    assert req.label == "KK PERUBAHAN DATA: Peristiwa Penting (Kelahiran)"
    assert req.to_dict() == {
        "service_type": "PERUBAHAN_DATA",
        "sub_type": 2,
        "peristiwa": "kelahiran",
    }
    with pytest.raises(ValidationError) as err:
        parse_service("PERUBAHAN_DATA", 2)
    assert err.value.code == "service.peristiwa_required"
    with pytest.raises(ValidationError) as err:
        parse_service("PERUBAHAN_DATA", 2, "wisuda")
    assert err.value.code == "service.peristiwa_unknown"
    with pytest.raises(ValidationError) as err:
        parse_service("BARU", 1, "kelahiran")
    assert err.value.code == "service.peristiwa_not_applicable"


@pytest.mark.parametrize(
    ("service_type", "number", "code"),
    [("KTP", 1, "service.unknown_type"), ("BARU", 7, "service.unknown_sub_type"),
     ("HILANG_RUSAK", 0, "service.unknown_sub_type")],
)  # fmt: skip
def test_unknown_ticks_are_refused_in_indonesian(service_type, number, code):
    with pytest.raises(ValidationError) as err:
        parse_service(service_type, number)
    assert err.value.code == code
    assert "tidak" in err.value.message
