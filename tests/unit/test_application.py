from __future__ import annotations

import json
from datetime import date

import pytest

from protocol.application import Application
from protocol.errors import ValidationError
from protocol.services import ServiceType
from tests.factories import HEAD_NIK, application_dict, member_dict


def test_wire_form_round_trips_through_json():
    app = Application.from_dict(application_dict())
    again = Application.from_dict(json.loads(json.dumps(app.to_dict())))
    assert again == app
    assert app.service.service_type is ServiceType.BARU
    assert app.members[0].tanggal_lahir == date(1995, 3, 14)
    assert app.members[0].tanggal_perkawinan == date(2020, 2, 10)
    assert app.members[2].tanggal_perkawinan is None
    assert app.address.kecamatan_code == "160601"
    assert app.head is not None and app.head.nik == HEAD_NIK


def test_every_shape_problem_is_reported_at_once():
    members = [
        member_dict(0, tanggal_lahir="14-03-1995", agama="ISLAM"),
        member_dict(1, nama=None),
        "not a member",
    ]
    data = application_dict(members=members, applicant={"nama": "X"}, service=None)
    with pytest.raises(ValidationError) as err:
        Application.from_dict(data)
    found = {(i.code, i.field) for i in err.value.issues}
    assert ("field.invalid_date", "members[0].tanggal_lahir") in found
    assert ("field.invalid_type", "members[0].agama") in found
    assert ("field.required", "members[1].nama") in found
    assert ("field.invalid_type", "members[2]") in found
    assert ("field.required", "applicant.nik") in found
    assert ("field.required", "applicant.whatsapp") in found
    assert ("field.required", "service") in found
    messages = [i.message for i in err.value.issues]
    assert 'Tanggal lahir harus berupa tanggal (TTTT-BB-HH), bukan "14-03-1995".' in messages
    assert "Agama harus berupa kode angka." in messages


def test_booleans_are_not_codes_and_overlong_text_is_refused():
    data = application_dict(members=[member_dict(0, jenis_kelamin=True, tempat_lahir="X" * 201)])
    with pytest.raises(ValidationError) as err:
        Application.from_dict(data)
    codes = {(i.code, i.field) for i in err.value.issues}
    assert codes == {
        ("field.invalid_type", "members[0].jenis_kelamin"),
        ("field.too_long", "members[0].tempat_lahir"),
    }


def test_service_errors_point_at_the_service_fields():
    data = application_dict(service={"service_type": "PERUBAHAN_DATA", "sub_type": 2})
    with pytest.raises(ValidationError) as err:
        Application.from_dict(data)
    assert [(i.code, i.field) for i in err.value.issues] == [
        ("service.peristiwa_required", "service.peristiwa")
    ]


def test_overrides_and_documents_parse():
    data = application_dict(
        overrides=[{"code": "nik.sex_mismatch", "field": "members[0].nik", "reason": "x" * 12}],
        attached_documents=["f102", 5],
    )
    with pytest.raises(ValidationError) as err:
        Application.from_dict(data)
    assert [i.field for i in err.value.issues] == ["attached_documents[1]"]
    data["attached_documents"] = ["f102"]
    app = Application.from_dict(data)
    assert app.overrides[0].code == "nik.sex_mismatch"
    assert app.attached_documents == frozenset({"f102"})
