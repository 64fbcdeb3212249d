from __future__ import annotations

from datetime import date

import pytest

from protocol import codes
from protocol.application import Application
from protocol.errors import Severity, ValidationError
from protocol.validation import checklist_facts, missing_documents, readiness, validate
from tests.factories import CHILD_NIK, HEAD_NIK, WIFE_NIK, application_dict, member_dict

TODAY = date(2026, 11, 25)


def _app(**changes) -> Application:
    return Application.from_dict(application_dict(**changes))


def _codes(app: Application) -> set[tuple[str, str]]:
    return {(i.code, i.field) for i in validate(app, today=TODAY).issues}


def _members(*members):
    return list(members)


def test_a_correct_young_family_is_ready_to_submit():
    report, missing = readiness(_app(), today=TODAY)
    assert report.issues == ()
    assert report.ok
    assert missing == []


def test_exactly_one_kepala_keluarga():
    no_head = _members(member_dict(0, shdk=codes.SHDK_FAMILI_LAIN), member_dict(2))
    assert ("family.no_head", "members") in _codes(_app(members=no_head))
    two = _members(member_dict(0), member_dict(1, shdk=codes.SHDK_KEPALA_KELUARGA))
    report = validate(_app(members=two), today=TODAY)
    [head_issue] = [i for i in report.issues if i.code == "family.multiple_heads"]
    assert head_issue.message == "Harus ada tepat satu Kepala Keluarga; tercatat 2."
    assert ("family.empty", "members") in _codes(_app(members=[]))


def test_a_wife_must_be_married():
    members = _members(
        member_dict(0),
        member_dict(1, status_perkawinan=codes.BELUM_KAWIN, tanggal_perkawinan=None),
        member_dict(2),
    )
    report = validate(_app(members=members), today=TODAY)
    [found] = [i for i in report.errors if i.code == "member.spouse_not_married"]
    assert found.field == "members[1].status_perkawinan"
    assert found.message == (
        "Status hubungan ISTRI memerlukan status perkawinan KAWIN, bukan BELUM KAWIN."
    )


def test_birth_dates_cannot_be_in_the_future():
    members = _members(member_dict(0), member_dict(2, nik="", tanggal_lahir="2026-12-01"))
    assert ("member.birth_date_future", "members[1].tanggal_lahir") in _codes(_app(members=members))


def test_no_nik_twice_in_one_family():
    members = _members(member_dict(0), member_dict(1), member_dict(2, nik=WIFE_NIK))
    found = _codes(_app(members=members))
    assert ("family.duplicate_nik", "members[2].nik") in found
    assert ("family.duplicate_nik", "members[1].nik") not in found


def test_a_child_cannot_be_older_than_a_listed_parent():
    # The child's NIK says 1994; its father (by NIK) was born in 1995.
    members = _members(
        member_dict(0),
        member_dict(1),
        member_dict(2, nik="1606010501940001", tanggal_lahir="1994-01-05"),
    )
    report = validate(_app(members=members), today=TODAY)
    found = [i for i in report.errors if i.code == "member.child_older_than_parent"]
    assert [i.params["parent_role"] for i in found] == ["ayah", "ibu"]
    assert found[0].message == (
        "Anak lahir 05-01-1994 tidak mungkin lebih dulu dari ayah yang lahir 14-03-1995."
    )


def test_a_very_young_parent_is_only_a_warning():
    members = _members(
        member_dict(0),
        member_dict(1),
        member_dict(2, nik="1606010501050001", tanggal_lahir="2005-01-05"),
    )
    report = validate(_app(members=members), today=TODAY)
    found = [i for i in report.issues if i.code == "member.parent_too_young"]
    assert all(i.severity is Severity.WARNING for i in found)
    assert [i.params for i in found] == [
        {"parent_role": "ayah", "years": 9},
        {"parent_role": "ibu", "years": 7},
    ]


def test_nik_disagreeing_with_sex_is_a_warning_the_operator_can_override():
    members = _members(member_dict(0), member_dict(1, jenis_kelamin=codes.LAKI_LAKI))
    report = validate(_app(members=members), today=TODAY)
    warning = next(i for i in report.warnings if i.code == "nik.sex_mismatch")
    assert warning.field == "members[1].nik"
    assert not report.ok
    # A husband/istri sex warning appears too; the operator overrides both, with reasons.
    overrides = [
        {"code": i.code, "field": i.field, "reason": "Sesuai akta kelahiran asli"}
        for i in report.warnings
    ]
    again = validate(_app(members=members, overrides=overrides), today=TODAY)
    assert again.ok
    assert {i.code for i in again.overridden} == {"nik.sex_mismatch", "member.spouse_sex"}


def test_an_override_needs_a_real_reason_and_never_hides_an_error():
    members = _members(member_dict(0), member_dict(1, jenis_kelamin=codes.LAKI_LAKI))
    short = [{"code": "nik.sex_mismatch", "field": "members[1].nik", "reason": "ok"}]
    found = _codes(_app(members=members, overrides=short))
    assert ("nik.sex_mismatch", "members[1].nik") in found
    assert ("override.reason_too_short", "overrides[0].reason") in found

    bad_head = [{"code": "family.no_head", "field": "members", "reason": "kepala di KK lain"}]
    no_head = _members(member_dict(1))
    assert ("family.no_head", "members") in _codes(_app(members=no_head, overrides=bad_head))


def test_names_follow_permendagri_73_2022_for_new_people_only():
    newborn = member_dict(2, nik="", nama="RIZKI")
    found = _codes(_app(members=_members(member_dict(0), member_dict(1), newborn)))
    assert ("name.too_few_words", "members[2].nama") in found
    assert ("member.nik_missing", "members[2].nik") in found
    # An existing resident with a one-word name keeps it (documents issued before stay valid).
    old = member_dict(2, nama="RIZKI")
    assert not any(
        c == "name.too_few_words" for c, _ in _codes(_app(members=[member_dict(0), old]))
    )


def test_coded_fields_must_be_known_codes():
    members = _members(member_dict(0, agama=9, pekerjaan=90), member_dict(1), member_dict(2))
    report = validate(_app(members=members), today=TODAY)
    messages = {i.field: i.message for i in report.errors if i.code == "code.unknown"}
    assert set(messages) == {"members[0].agama", "members[0].pekerjaan"}
    assert messages["members[0].agama"] == 'Kode Agama "9" tidak dikenal.'


def test_new_people_get_current_marital_values():
    newborn_legacy = member_dict(2, nik="", nama="PUTRI AYU", status_perkawinan=codes.KAWIN)
    found = _codes(_app(members=[member_dict(0), member_dict(1), newborn_legacy]))
    assert ("code.status_perkawinan_legacy", "members[2].status_perkawinan") in found
    copied = member_dict(0, status_perkawinan=codes.KAWIN)
    assert not any(c.startswith("code.") for c, _ in _codes(_app(members=[copied])))


def test_marriage_dates_follow_the_status():
    single = member_dict(2, tanggal_perkawinan="2020-01-01")
    found = _codes(_app(members=[member_dict(0), member_dict(1), single]))
    assert ("member.marriage_date_without_marriage", "members[2].tanggal_perkawinan") in found
    undated = member_dict(1, tanggal_perkawinan=None)
    report = validate(_app(members=[member_dict(0), undated]), today=TODAY)
    [w] = [i for i in report.issues if i.code == "member.marriage_date_missing"]
    assert w.severity is Severity.WARNING


def test_applicant_contact_and_identity_are_checked():
    applicant = {"nama": "AHMAD FAUZI", "nik": "1606011403950000", "whatsapp": "0711-35123"}
    found = _codes(_app(applicant=applicant))
    assert ("nik.invalid_serial", "applicant.nik") in found
    assert ("phone.invalid", "applicant.whatsapp") in found


def test_address_must_be_a_desa_of_musi_banyuasin():
    outside = {"alamat": "JL. SUDIRMAN", "rt": "1", "rw": "2", "desa_code": "1671011001"}
    assert ("address.outside_muba", "address.desa_code") in _codes(_app(address=outside))
    kecamatan_only = dict(outside, desa_code="160601", rt="0001", kode_pos="307")
    found = _codes(_app(address=kecamatan_only))
    assert {"address.outside_muba", "address.invalid_rt_rw", "address.invalid_postcode"} <= {
        c for c, _ in found
    }


def test_services_that_keep_the_number_need_it_and_new_families_must_not_bring_one():
    lost = {"service_type": "HILANG_RUSAK", "sub_type": 1}
    found = _codes(_app(service=lost))
    assert ("application.kk_number_required", "kk_number") in found
    ok = _codes(_app(service=lost, kk_number="1606011502100007"))
    assert not any(c.startswith("application.") or c.startswith("kk_number") for c, _ in ok)
    assert ("application.kk_number_not_applicable", "kk_number") in _codes(
        _app(kk_number="1606011502100007")
    )


def test_head_younger_than_17_and_unmarried_is_a_warning():
    head = member_dict(
        0, nik="1606011403120002", tanggal_lahir="2012-03-14", status_perkawinan=1,
        tanggal_perkawinan=None, nama_ayah="", nama_ibu="",
    )  # fmt: skip
    report = validate(_app(members=[head]), today=TODAY)
    [w] = [i for i in report.issues if i.code == "family.head_minor"]
    assert w.severity is Severity.WARNING and w.params["age"] == 14


def test_what_is_still_missing_names_the_documents_in_indonesian():
    birth = {"service_type": "PERUBAHAN_DATA", "sub_type": 2, "peristiwa": "kelahiran"}
    app = _app(service=birth, kk_number="1606011502100007", attached_documents=["f102"])
    missing = missing_documents(app, today=TODAY)
    assert [i.params["requirement"] for i in missing] == ["kk_lama", "bukti_kelahiran"]
    assert all(i.code == "requirement.missing" for i in missing)
    assert "Surat Keterangan Kelahiran atau Kutipan Akta Kelahiran" in missing[1].message
    assert missing[1].message.startswith("Persyaratan belum dilampirkan:")


def test_an_unrecorded_marriage_asks_for_the_sptjm():
    members = [
        member_dict(0, status_perkawinan=codes.KAWIN_BELUM_TERCATAT, tanggal_perkawinan=None),
        member_dict(1, status_perkawinan=codes.KAWIN_BELUM_TERCATAT, tanggal_perkawinan=None),
    ]
    app = _app(members=members, attached_documents=["f102", "buku_nikah"])
    facts = checklist_facts(app, today=TODAY)
    assert facts.unrecorded_marriage and not facts.recorded_marriage
    missing = missing_documents(app, today=TODAY)
    assert any("F-1.05" in i.message for i in missing)


def test_a_child_without_its_parents_in_the_family_needs_custody_papers():
    nephew = member_dict(
        2, shdk=codes.SHDK_FAMILI_LAIN, nik_ayah="", nik_ibu="",
        nama_ayah="BUDI SANTOSO", nama_ibu="WATI",
    )  # fmt: skip
    app = _app(members=[member_dict(0), member_dict(1), nephew])
    assert checklist_facts(app, today=TODAY).child_joins_without_parent
    assert not checklist_facts(_app(), today=TODAY).child_joins_without_parent


def test_raise_if_blocking_carries_every_issue():
    report = validate(_app(members=[member_dict(1)]), today=TODAY)
    with pytest.raises(ValidationError) as err:
        report.raise_if_blocking()
    assert {i.code for i in err.value.issues} >= {"family.no_head"}


@pytest.mark.parametrize("nik", [HEAD_NIK, WIFE_NIK, CHILD_NIK])
def test_sample_niks_parse(nik):
    from protocol.identity import parse_nik

    assert parse_nik(nik, today=TODAY).district_code == "160601"


def test_a_newborn_in_a_birth_registration_needs_no_nik_warning():
    birth = {"service_type": "PERUBAHAN_DATA", "sub_type": 2, "peristiwa": "kelahiran"}
    baby = member_dict(2, nik="", nama="SITI NUR AISYAH", tanggal_lahir="2026-11-02")
    adult = member_dict(1, nik="")
    app = _app(service=birth, kk_number="1606011502100007", members=[member_dict(0), adult, baby])
    found = _codes(app)
    assert ("member.nik_missing", "members[2].nik") not in found
    assert ("member.nik_missing", "members[1].nik") in found
