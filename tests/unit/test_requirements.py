from __future__ import annotations

import itertools
import re
from dataclasses import fields, replace

import pytest

from protocol import requirement_rules as rules
from protocol.errors import ValidationError, all_message_codes
from protocol.requirements import (
    DEFAULT_POLICY,
    DOCUMENTS,
    REQUIREMENT_LABELS,
    RETURN_REASONS,
    Checklist,
    ChecklistFacts,
    RequirementPolicy,
    checklist_for,
    is_known_item,
    reason_label,
)
from protocol.services import SUB_TYPES, PeristiwaPenting, ServiceRequest, parse_service

_CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def _service(key: str, event: str | None = None) -> ServiceRequest:
    sub = next(s for s in SUB_TYPES if s.key == key)
    return ServiceRequest(sub, PeristiwaPenting(event) if event else None)


def _event(event: str) -> ServiceRequest:
    return parse_service("PERUBAHAN_DATA", 2, event)


def _all_services() -> list[ServiceRequest]:
    out: list[ServiceRequest] = []
    for sub in SUB_TYPES:
        if sub.key == "peristiwa_penting":
            out.extend(ServiceRequest(sub, e) for e in PeristiwaPenting)
        else:
            out.append(ServiceRequest(sub))
    return out


def _codes(checklist: Checklist) -> list[str]:
    return [r.code for r in checklist.requirements]


def _docs(checklist: Checklist) -> dict[str, tuple[str, ...]]:
    return {r.code: r.any_of for r in checklist.requirements}


def _all_fact_combinations() -> list[ChecklistFacts]:
    names = [f.name for f in fields(ChecklistFacts)]
    return [
        ChecklistFacts(**dict(zip(names, values, strict=True)))
        for values in itertools.product([False, True], repeat=len(names))
    ]


def _policies() -> list[RequirementPolicy]:
    names = [f.name for f in fields(RequirementPolicy)]
    return [
        DEFAULT_POLICY,
        RequirementPolicy(**dict.fromkeys(names, True)),
        RequirementPolicy(**dict.fromkeys(names, False)),
    ]


# -- the catalogue -------------------------------------------------------------------------------


def test_every_rule_names_known_documents_requirements_facts_and_flags():
    fact_names = {f.name for f in fields(ChecklistFacts)}
    flag_names = {f.name for f in fields(RequirementPolicy)}
    all_rules = [
        *rules.HEAD_RULES,
        *(r for table in rules.SERVICE_RULES.values() for r in table),
        *(r for _, r in rules.COMMON_RULES),
    ]
    for rule in all_rules:
        assert rule.code in REQUIREMENT_LABELS, rule
        assert rule.any_of and set(rule.any_of) <= set(DOCUMENTS), rule
        assert len(set(rule.any_of)) == len(rule.any_of), rule
        assert rule.basis.strip(), rule
        for name in rule.when:
            name = name.removeprefix("not:")
            if name.startswith("policy."):
                assert name.removeprefix("policy.") in flag_names, rule
            else:
                assert name in fact_names, rule


def test_codes_are_stable_snake_case_and_reasons_do_not_clash():
    for code in (*DOCUMENTS, *REQUIREMENT_LABELS, *RETURN_REASONS):
        assert _CODE.match(code), code
    assert not set(RETURN_REASONS) & (set(DOCUMENTS) | set(REQUIREMENT_LABELS))
    assert all(code == doc.code for code, doc in DOCUMENTS.items())


def test_document_labels_follow_form_f102():
    assert DOCUMENTS["buku_nikah"].label == "Buku Nikah/Kutipan Akta Perkawinan"
    assert DOCUMENTS["surat_hilang_polisi"].label == "Surat Keterangan Hilang dari Kepolisian"
    assert DOCUMENTS["kitap"].label == "Kartu Izin Tinggal Tetap"
    assert DOCUMENTS["sptjm_f105"].form == "F-1.05"
    assert DOCUMENTS["f102"].display == "Formulir Pendaftaran Peristiwa Kependudukan (F-1.02)"
    assert DOCUMENTS["kk_lama"].display == "KK Lama"


def test_every_requirement_and_document_is_used_somewhere():
    used_reqs, used_docs = set(), set()
    for service in _all_services():
        for facts in _all_fact_combinations():
            for policy in _policies():
                checklist = checklist_for(service, facts, policy)
                used_reqs |= set(_codes(checklist))
                used_docs |= checklist.document_codes()
    assert used_reqs == set(REQUIREMENT_LABELS)
    # The generic F-1.02 boxes are used too; nothing in the catalogue is dead.
    assert used_docs == set(DOCUMENTS)


# -- exhaustiveness ------------------------------------------------------------------------------


def test_every_sub_type_and_every_event_has_a_table():
    expected = {s.key for s in SUB_TYPES if s.key != "peristiwa_penting"}
    expected |= {rules.rule_key("peristiwa_penting", e) for e in PeristiwaPenting}
    assert set(rules.SERVICE_RULES) == expected


@pytest.mark.parametrize("service", _all_services(), ids=lambda s: s.label)
def test_every_checklist_starts_with_the_signed_f102(service):
    checklist = checklist_for(service)
    first = checklist.requirements[0]
    assert first.code == "formulir_f102" and first.any_of == ("f102",)
    assert "ditandatangani pemohon" in first.label
    assert len(checklist.requirements) >= 2, "each service needs more than the form"


def test_no_combination_of_facts_and_policy_gives_a_duplicate_or_conflict():
    for service in _all_services():
        for facts in _all_fact_combinations():
            for policy in _policies():
                codes = _codes(checklist_for(service, facts, policy))
                assert len(codes) == len(set(codes)), (service, facts, policy)


def test_peristiwa_must_match_the_sub_type():
    with pytest.raises(ValidationError) as err:
        checklist_for(_service("peristiwa_penting"))
    assert err.value.code == "service.peristiwa_required"
    with pytest.raises(ValidationError) as err:
        checklist_for(_service("hilang", "kelahiran"))
    assert err.value.code == "service.peristiwa_not_applicable"


# -- what each service asks for ------------------------------------------------------------------


def test_membentuk_keluarga_baru_asks_for_the_marriage_proof():
    checklist = checklist_for(_service("membentuk_keluarga_baru"))
    assert _docs(checklist) == {
        "formulir_f102": ("f102",),
        "bukti_perkawinan": ("buku_nikah", "akta_cerai", "sptjm_f105"),
    }
    req = checklist.requirement("bukti_perkawinan")
    assert "Perpres 96/2018 Ps. 11 huruf a" in req.basis
    assert "Permendagri 108/2019 Ps. 10 ayat (2)" in req.basis


def test_marriage_proof_alternatives_each_satisfy():
    checklist = checklist_for(_event("perkawinan"))
    assert checklist.requirement("bukti_perkawinan").any_of == ("buku_nikah", "sptjm_f105")
    for doc in ("buku_nikah", "sptjm_f105"):
        assert checklist.is_complete({"f102", "kk_lama", doc})
    assert not checklist.is_complete({"f102", "kk_lama", "akta_cerai"})


def test_recorded_and_unrecorded_marriage_decide_between_deed_and_sptjm():
    service = _service("membentuk_keluarga_baru")
    recorded = checklist_for(service, ChecklistFacts(recorded_marriage=True))
    assert _docs(recorded)["bukti_perkawinan"] == ("buku_nikah", "akta_cerai")
    assert "sptjm_belum_tercatat" not in _codes(recorded)
    assert recorded.requirement("bukti_perkawinan").condition

    unrecorded = checklist_for(service, ChecklistFacts(unrecorded_marriage=True))
    assert _docs(unrecorded) == {
        "formulir_f102": ("f102",),
        "sptjm_belum_tercatat": ("sptjm_f105",),
    }
    assert "BELUM TERCATAT" in unrecorded.requirement("sptjm_belum_tercatat").condition

    both = checklist_for(service, ChecklistFacts(recorded_marriage=True, unrecorded_marriage=True))
    assert {"bukti_perkawinan", "sptjm_belum_tercatat"} <= set(_codes(both))
    assert not both.is_complete({"f102", "buku_nikah"})
    assert both.is_complete({"f102", "buku_nikah", "sptjm_f105"})


def test_perceraian_event_asks_for_the_divorce_deed():
    checklist = checklist_for(_event("perceraian"), ChecklistFacts(recorded_marriage=True))
    assert _docs(checklist) == {
        "formulir_f102": ("f102",),
        "kk_lama": ("kk_lama",),
        "bukti_perceraian": ("akta_cerai",),
    }
    unrecorded = checklist_for(_event("perceraian"), ChecklistFacts(unrecorded_marriage=True))
    assert _docs(unrecorded)["sptjm_belum_tercatat"] == ("sptjm_f105",)


def test_penggantian_kepala_keluarga_needs_death_certificate_and_old_kk():
    checklist = checklist_for(_service("penggantian_kepala_keluarga"))
    assert _docs(checklist) == {
        "formulir_f102": ("f102",),
        "kk_lama": ("kk_lama",),
        "bukti_kematian": ("akta_kematian",),
    }
    assert "Permendagri 108/2019 Ps. 10 ayat (3)" in checklist.requirement("bukti_kematian").basis


def test_pisah_kk_needs_old_kk_and_ktp_el_and_marriage_proof_only_if_married():
    single = checklist_for(_service("pisah_kk"))
    assert _docs(single) == {
        "formulir_f102": ("f102",),
        "kk_lama": ("kk_lama",),
        "ktp_el": ("ktp_el",),
    }
    assert "Ps. 10 ayat (4)" in single.requirement("ktp_el").basis
    married = checklist_for(_service("pisah_kk"), ChecklistFacts(recorded_marriage=True))
    assert _docs(married)["bukti_perkawinan"] == ("buku_nikah", "akta_cerai")


def test_pindah_datang_and_wni_dari_ln_and_rentan():
    assert _docs(checklist_for(_service("pindah_datang")))["bukti_pindah"] == ("surat_pindah",)
    ln = _docs(checklist_for(_service("wni_dari_ln")))
    assert ln["bukti_pindah_luar_negeri"] == ("surat_pindah_ln", "surat_pindah_perwakilan_ri")
    assert ln["dokumen_perjalanan"] == ("dokumen_perjalanan",)
    rentan = _docs(checklist_for(_service("rentan_adminduk")))
    assert rentan["surat_pengganti_identitas"] == ("surat_pengganti_identitas",)


def test_menumpang_needs_host_kk_move_letter_and_acceptance_statement():
    checklist = checklist_for(_service("menumpang_dalam_kk"))
    assert _docs(checklist) == {
        "formulir_f102": ("f102",),
        "kk_lama": ("kk_lama",),
        "bukti_pindah": ("surat_pindah", "surat_pindah_ln"),
        "pernyataan_menerima": ("surat_pernyataan_menerima",),
    }
    assert checklist.requirement("kk_lama").label == "KK yang ditumpangi"


def test_perubahan_elemen_data_needs_f106_and_proof():
    assert _docs(checklist_for(_service("perubahan_elemen_data"))) == {
        "formulir_f102": ("f102",),
        "kk_lama": ("kk_lama",),
        "formulir_f106": ("f106",),
        "bukti_perubahan_data": ("bukti_perubahan_data",),
    }


@pytest.mark.parametrize(
    ("event", "code", "any_of"),
    [
        ("kelahiran", "bukti_kelahiran", ("surat_keterangan_lahir", "akta_kelahiran")),
        ("kematian", "bukti_kematian", ("akta_kematian", "surat_keterangan_kematian")),
        ("perkawinan", "bukti_perkawinan", ("buku_nikah", "sptjm_f105")),
        ("perceraian", "bukti_perceraian", ("akta_cerai", "sptjm_f105")),
        ("pengangkatan_anak", "bukti_peristiwa_penting", None),
        ("perubahan_kewarganegaraan", "bukti_peristiwa_penting", None),
    ],
)
def test_every_event_needs_old_kk_and_its_proof(event, code, any_of):
    checklist = checklist_for(_event(event))
    assert _codes(checklist) == ["formulir_f102", "kk_lama", code]
    if any_of is not None:
        assert checklist.requirement(code).any_of == any_of
    assert "Ps. 12" in checklist.requirement("kk_lama").basis


def test_generic_events_accept_the_f102_generic_proof_and_name_the_event():
    for event in PeristiwaPenting:
        checklist = checklist_for(_event(event))
        if "bukti_peristiwa_penting" in _codes(checklist):
            req = checklist.requirement("bukti_peristiwa_penting")
            assert "bukti_peristiwa" in req.any_of
            assert req.label.startswith("Bukti ") and req.label != "Bukti peristiwa penting"
    kewarganegaraan = checklist_for(_event("perubahan_kewarganegaraan"))
    assert (
        "keppres_kewarganegaraan" in kewarganegaraan.requirement("bukti_peristiwa_penting").any_of
    )


def test_hilang_and_rusak():
    hilang = checklist_for(_service("hilang"))
    assert _docs(hilang) == {
        "formulir_f102": ("f102",),
        "bukti_kehilangan": ("surat_hilang_polisi",),
        "ktp_el": ("ktp_el",),
    }
    rusak = checklist_for(_service("rusak"))
    assert _docs(rusak) == {
        "formulir_f102": ("f102",),
        "kk_rusak": ("kk_rusak",),
        "ktp_el": ("ktp_el",),
    }
    assert "Perpres 96/2018 Ps. 13" in rusak.requirement("kk_rusak").basis


# -- conditional items ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["membentuk_keluarga_baru", "pindah_datang", "hilang", "rusak"])
def test_kitap_only_when_there_is_a_foreign_member(key):
    assert "izin_tinggal_tetap" not in _codes(checklist_for(_service(key)))
    with_wna = checklist_for(_service(key), ChecklistFacts(has_wna_member=True))
    req = with_wna.requirement("izin_tinggal_tetap")
    assert req.any_of == ("kitap",)
    assert req.condition and "Orang Asing" in req.condition


def test_kitap_for_data_change_follows_policy():
    facts = ChecklistFacts(has_wna_member=True)
    service = _service("menumpang_dalam_kk")
    assert "izin_tinggal_tetap" in _codes(checklist_for(service, facts))
    off = RequirementPolicy(kitap_for_data_change=False)
    assert "izin_tinggal_tetap" not in _codes(checklist_for(service, facts, off))


def test_naturalized_member_needs_keppres_for_a_new_kk_only():
    facts = ChecklistFacts(naturalized_member=True)
    baru = checklist_for(_service("pindah_datang"), facts)
    assert baru.requirement("bukti_kewarganegaraan").any_of == (
        "keppres_kewarganegaraan",
        "kepmen_kewarganegaraan",
    )
    assert "bukti_kewarganegaraan" not in _codes(checklist_for(_service("hilang"), facts))


def test_custody_letter_when_a_child_joins_without_parent():
    service = _service("menumpang_dalam_kk")
    assert "kuasa_pengasuhan" not in _codes(checklist_for(service))
    facts = ChecklistFacts(child_joins_without_parent=True)
    assert "kuasa_pengasuhan" in _codes(checklist_for(service, facts))
    off = RequirementPolicy(require_custody_letter=False)
    assert "kuasa_pengasuhan" not in _codes(checklist_for(service, facts, off))


def test_a_conditional_item_never_appears_without_its_fact():
    conditional = {
        "izin_tinggal_tetap",
        "bukti_kewarganegaraan",
        "kuasa_pengasuhan",
        "sptjm_belum_tercatat",
    }
    for service in _all_services():
        for policy in _policies():
            assert not conditional & set(_codes(checklist_for(service, policy=policy))), service


def test_requirements_that_apply_always_have_no_condition_text():
    checklist = checklist_for(_service("hilang"))
    assert all(r.condition is None for r in checklist.requirements)


# -- policy toggles ------------------------------------------------------------------------------


def test_policy_toggles():
    def codes(key: str, **flags: bool) -> list[str]:
        return _codes(checklist_for(_service(key), policy=replace(DEFAULT_POLICY, **flags)))

    assert "pernyataan_menerima" not in codes(
        "menumpang_dalam_kk", require_acceptance_statement=False
    )
    assert "ktp_el" not in codes("hilang", require_ktp_el_for_hilang_rusak=False)
    assert "ktp_el" not in codes("rusak", require_ktp_el_for_hilang_rusak=False)
    assert "pernyataan_penyebab" in codes("rusak", require_statement_of_cause=True)
    assert "dokumen_perjalanan" not in codes("wni_dari_ln", travel_document_for_wni_dari_ln=False)
    assert "kk_lama" in codes("membentuk_keluarga_baru", kk_lama_for_new_family=True)

    lenient = RequirementPolicy(accept_statement_for_lost_kk=True)
    hilang = checklist_for(_service("hilang"), policy=lenient)
    assert hilang.requirement("bukti_kehilangan").any_of == (
        "surat_hilang_polisi",
        "surat_pernyataan_hilang_rusak",
    )
    strict = RequirementPolicy(accept_perwakilan_letter_for_ln=False)
    ln = checklist_for(_service("wni_dari_ln"), policy=strict)
    assert ln.requirement("bukti_pindah_luar_negeri").any_of == ("surat_pindah_ln",)


def test_passport_for_foreigners_is_off_by_default_and_merges_with_wni_ln():
    facts = ChecklistFacts(has_wna_member=True)
    assert "dokumen_perjalanan" not in _codes(checklist_for(_service("hilang"), facts))
    on = RequirementPolicy(travel_document_for_wna=True)
    assert "dokumen_perjalanan" in _codes(checklist_for(_service("hilang"), facts, on))
    ln = _codes(checklist_for(_service("wni_dari_ln"), facts, on))
    assert ln.count("dokumen_perjalanan") == 1


# -- missing / issues ----------------------------------------------------------------------------


def test_missing_and_missing_issues():
    checklist = checklist_for(_event("perkawinan"))
    assert [r.code for r in checklist.missing({"f102"})] == ["kk_lama", "bukti_perkawinan"]
    assert checklist.missing({"f102", "kk_lama", "buku_nikah", "unknown_code"}) == ()

    issues = checklist.missing_issues({"kk_lama"})
    assert [i.code for i in issues] == ["requirement.missing"] * 2
    assert [i.field for i in issues] == ["checklist.formulir_f102", "checklist.bukti_perkawinan"]
    marriage = issues[1]
    assert marriage.is_error
    assert marriage.params["requirement"] == "bukti_perkawinan"
    assert marriage.params["label"] == (
        "Buku Nikah/Kutipan Akta Perkawinan atau "
        "SPTJM Perkawinan/Perceraian Belum Tercatat (F-1.05)"
    )
    assert marriage.message == (
        "Persyaratan belum dilampirkan: Buku Nikah/Kutipan Akta Perkawinan atau "
        "SPTJM Perkawinan/Perceraian Belum Tercatat (F-1.05)."
    )
    assert marriage.to_dict()["params"]["documents"] == "buku_nikah,sptjm_f105"
    assert checklist.missing_issues({"f102", "kk_lama", "sptjm_f105"}) == []


def test_alternatives_label_lists_three_with_commas():
    req = checklist_for(_service("membentuk_keluarga_baru")).requirement("bukti_perkawinan")
    assert req.alternatives_label == (
        "Buku Nikah/Kutipan Akta Perkawinan, Kutipan Akta Perceraian, atau "
        "SPTJM Perkawinan/Perceraian Belum Tercatat (F-1.05)"
    )


def test_attached_accepts_any_collection_but_not_a_bare_string():
    checklist = checklist_for(_service("rusak"))
    assert checklist.is_complete(["f102", "kk_rusak", "ktp_el"])
    assert checklist.is_complete(("f102", "kk_rusak", "ktp_el"))
    with pytest.raises(TypeError):
        checklist.missing("f102")


def test_item_codes_and_wire_form():
    checklist = checklist_for(_service("hilang"))
    assert checklist.item_codes() == {
        "formulir_f102",
        "f102",
        "bukti_kehilangan",
        "surat_hilang_polisi",
        "ktp_el",
    }
    wire = checklist.to_dict()
    assert wire["service"] == {"service_type": "HILANG_RUSAK", "sub_type": 1, "peristiwa": None}
    assert wire["requirements"][1] == {
        "code": "bukti_kehilangan",
        "label": "Surat keterangan hilang dari kepolisian",
        "any_of": ["surat_hilang_polisi"],
        "alternatives_label": "Surat Keterangan Hilang dari Kepolisian",
        "basis": "Perpres 96/2018 Ps. 13 huruf a",
        "condition": None,
    }
    with pytest.raises(KeyError):
        checklist.requirement("kk_rusak")


# -- return reasons ------------------------------------------------------------------------------


def test_is_known_item_covers_requirements_documents_and_return_reasons():
    for code in (*REQUIREMENT_LABELS, *DOCUMENTS, *RETURN_REASONS):
        assert is_known_item(code), code
    for service in _all_services():
        assert all(is_known_item(c) for c in checklist_for(service).item_codes())
    assert not is_known_item("dokumen_palsu_xyz")
    assert not is_known_item("")
    assert {"data_tidak_sesuai", "dokumen_tidak_terbaca", "dokumen_bukan_asli"} <= set(
        RETURN_REASONS
    )


def test_reason_label_is_indonesian_for_every_known_code():
    assert reason_label("dokumen_bukan_asli") == "Foto/pindaian bukan dari dokumen asli"
    assert reason_label("bukti_perkawinan") == "Bukti status perkawinan"
    assert reason_label("sptjm_f105") == "SPTJM Perkawinan/Perceraian Belum Tercatat (F-1.05)"
    for code in (*REQUIREMENT_LABELS, *DOCUMENTS, *RETURN_REASONS):
        assert reason_label(code).strip()
    with pytest.raises(KeyError):
        reason_label("tidak_ada")


def test_message_codes_are_registered():
    assert "requirement.missing" in all_message_codes()


def test_workflow_uses_this_module_for_item_codes():
    from protocol.workflow import default_is_known_item

    assert default_is_known_item("data_tidak_sesuai")
    assert not default_is_known_item("bukan_kode")
