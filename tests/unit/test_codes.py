from __future__ import annotations

import pytest

from protocol import codes
from protocol.codes import (
    AGAMA,
    CODE_LISTS,
    DISABILITAS,
    GOLONGAN_DARAH,
    JENIS_KELAMIN,
    KEWARGANEGARAAN,
    PEKERJAAN,
    PENDIDIKAN,
    SHDK,
    STATUS_PERKAWINAN,
    Code,
    CodeList,
    check_status_perkawinan,
    is_married,
    is_unrecorded,
    legacy_code,
    was_married,
)
from protocol.errors import Severity, all_message_codes


def test_every_list_is_indexed_by_its_name():
    assert set(CODE_LISTS) == {
        "jenis_kelamin",
        "agama",
        "pendidikan",
        "pekerjaan",
        "status_perkawinan",
        "shdk",
        "golongan_darah",
        "disabilitas",
        "kewarganegaraan",
    }
    for name, code_list in CODE_LISTS.items():
        assert code_list.name == name
        assert code_list.title and code_list.title[0].isupper()
    with pytest.raises(TypeError):
        CODE_LISTS["x"] = JENIS_KELAMIN  # type: ignore[index]


@pytest.mark.parametrize("code_list", list(CODE_LISTS.values()), ids=lambda c: c.name)
def test_codes_are_consecutive_from_one_with_unique_upper_case_labels(code_list: CodeList):
    numbers = code_list.codes()
    assert numbers == tuple(range(1, len(code_list) + 1))
    labels = [c.label for c in code_list]
    assert len(set(labels)) == len(labels)
    assert all(label == label.upper().strip() for label in labels)
    assert [c.code for c in code_list] == list(numbers)


def test_list_sizes_match_siak():
    sizes = {name: len(c) for name, c in CODE_LISTS.items()}
    assert sizes == {
        "jenis_kelamin": 2,
        "agama": 7,
        "pendidikan": 10,
        "pekerjaan": 89,
        "status_perkawinan": 8,
        "shdk": 11,
        "golongan_darah": 13,
        "disabilitas": 6,
        "kewarganegaraan": 2,
    }


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (1, "BELUM/TIDAK BEKERJA"),
        (5, "PEGAWAI NEGERI SIPIL (PNS)"),
        (15, "KARYAWAN SWASTA"),
        (16, "KARYAWAN BUMN"),
        (17, "KARYAWAN BUMD"),
        (18, "KARYAWAN HONORER"),
        (38, "PARAJI"),
        (45, "USTADZ/MUBALIGH"),
        (48, "ANGGOTA DPR-RI"),
        (63, "ANGGOTA DPRD KABUPATEN/KOTA"),
        (64, "DOSEN"),
        (65, "GURU"),
        (85, "PERANGKAT DESA"),
        (86, "KEPALA DESA"),
        (87, "BIARAWATI"),
        (88, "WIRASWASTA"),
        (89, "LAINNYA"),
    ],
)
def test_occupations_keep_the_siak_order(code: int, label: str):
    assert PEKERJAAN.label(code) == label


def test_other_lists_spot_checks():
    assert JENIS_KELAMIN.label(codes.LAKI_LAKI) == "LAKI-LAKI"
    assert JENIS_KELAMIN.label(codes.PEREMPUAN) == "PEREMPUAN"
    assert AGAMA.label(7) == "KEPERCAYAAN TERHADAP TUHAN YME"
    assert AGAMA.label(3) == "KATHOLIK"
    assert PENDIDIKAN.label(1) == "TIDAK/BELUM SEKOLAH"
    assert PENDIDIKAN.label(8) == "DIPLOMA IV/STRATA I"
    assert PENDIDIKAN.label(10) == "STRATA III"
    assert GOLONGAN_DARAH.label(codes.GOLDAR_TIDAK_TAHU) == "TIDAK TAHU"
    assert GOLONGAN_DARAH.label(11) == "O+"
    assert DISABILITAS.label(6) == "CACAT LAINNYA"
    assert KEWARGANEGARAAN.label(codes.WNI) == "WNI"
    assert KEWARGANEGARAAN.label(codes.WNA) == "WNA"


def test_named_constants_point_at_their_labels():
    shdk = {
        codes.SHDK_KEPALA_KELUARGA: "KEPALA KELUARGA",
        codes.SHDK_SUAMI: "SUAMI",
        codes.SHDK_ISTRI: "ISTRI",
        codes.SHDK_ANAK: "ANAK",
        codes.SHDK_MENANTU: "MENANTU",
        codes.SHDK_CUCU: "CUCU",
        codes.SHDK_ORANG_TUA: "ORANG TUA",
        codes.SHDK_MERTUA: "MERTUA",
        codes.SHDK_FAMILI_LAIN: "FAMILI LAIN",
        codes.SHDK_PEMBANTU: "PEMBANTU",
        codes.SHDK_LAINNYA: "LAINNYA",
    }
    assert {c: SHDK.label(c) for c in shdk} == shdk
    assert list(shdk) == list(range(1, 12))
    status = {
        codes.BELUM_KAWIN: "BELUM KAWIN",
        codes.KAWIN: "KAWIN",
        codes.CERAI_HIDUP: "CERAI HIDUP",
        codes.CERAI_MATI: "CERAI MATI",
        codes.KAWIN_TERCATAT: "KAWIN TERCATAT",
        codes.KAWIN_BELUM_TERCATAT: "KAWIN BELUM TERCATAT",
        codes.CERAI_HIDUP_TERCATAT: "CERAI HIDUP TERCATAT",
        codes.CERAI_HIDUP_BELUM_TERCATAT: "CERAI HIDUP BELUM TERCATAT",
    }
    assert {c: STATUS_PERKAWINAN.label(c) for c in status} == status
    assert list(status) == list(range(1, 9))


def test_get_contains_and_unknown_codes():
    assert AGAMA.get(1) == Code(1, "ISLAM")
    assert 1 in AGAMA and 7 in AGAMA
    assert 0 not in AGAMA and 8 not in AGAMA and None not in AGAMA and "1" not in AGAMA
    # bool is an int in Python; True must not pass as code 1.
    assert True not in AGAMA
    with pytest.raises(KeyError):
        AGAMA.get(8)
    with pytest.raises(KeyError):
        AGAMA.label(True)


@pytest.mark.parametrize(
    ("code_list", "text", "expected"),
    [
        (AGAMA, "Katolik", 3),
        (AGAMA, "  kat holik ", 3),
        (AGAMA, "buddha", 5),
        (AGAMA, "Budha", 5),
        (AGAMA, "Kepercayaan terhadap Tuhan Yang Maha Esa", 7),
        (JENIS_KELAMIN, "laki - laki", 1),
        (JENIS_KELAMIN, "Laki Laki", 1),
        (JENIS_KELAMIN, "p", 2),
        (PENDIDIKAN, "Diploma IV / Strata I", 8),
        (PENDIDIKAN, "akademi/ diploma iii/s. muda", 7),
        (PENDIDIKAN, "SMA/Sederajat", 5),
        (PEKERJAAN, "pns", 5),
        (PEKERJAAN, "Pegawai Negeri Sipil (PNS)", 5),
        (PEKERJAAN, "karyawan\tbumd", 17),
        (PEKERJAAN, "Penerjemah", 40),
        (PEKERJAAN, "wiraswasta", 88),
        (STATUS_PERKAWINAN, "kawin  belum tercatat", 6),
        (SHDK, "Isteri", 3),
        (GOLONGAN_DARAH, "ab +", 9),
        (GOLONGAN_DARAH, "o-", 12),
        (DISABILITAS, "disabilitas fisik", 1),
        (KEWARGANEGARAAN, "Warga Negara Indonesia", 1),
    ],
)
def test_find_reads_what_people_type(code_list: CodeList, text: str, expected: int):
    found = code_list.find(text)
    assert found is not None and found.code == expected


def test_find_returns_none_for_no_match():
    assert AGAMA.find("") is None
    assert AGAMA.find("ATEIS") is None
    assert GOLONGAN_DARAH.find("C") is None
    assert DISABILITAS.find("TIDAK CACAT") is None  # absence is None, not a code
    assert AGAMA.find(None) is None  # type: ignore[arg-type]


def test_check_reports_unknown_codes_in_indonesian():
    assert AGAMA.check(1, field="members[0].agama") == []
    [found] = AGAMA.check(9, field="members[0].agama")
    assert found.code == "code.unknown"
    assert found.field == "members[0].agama"
    assert found.severity is Severity.ERROR
    assert found.message == 'Kode Agama "9" tidak dikenal.'
    assert found.params["list"] == "agama"
    [found] = PEKERJAAN.check(90, field="pekerjaan")
    assert "Jenis Pekerjaan" in found.message and "90" in found.message
    [found] = SHDK.check(None, field="shdk")
    assert found.message == 'Kode Status Hubungan Dalam Keluarga "(kosong)" tidak dikenal.'
    assert JENIS_KELAMIN.check(True, field="jk")[0].code == "code.unknown"


def test_status_perkawinan_helpers():
    married = {codes.KAWIN, codes.KAWIN_TERCATAT, codes.KAWIN_BELUM_TERCATAT}
    for code in STATUS_PERKAWINAN.codes():
        assert is_married(code) is (code in married)
        assert was_married(code) is (code != codes.BELUM_KAWIN)
        assert is_unrecorded(code) is (
            code in (codes.KAWIN_BELUM_TERCATAT, codes.CERAI_HIDUP_BELUM_TERCATAT)
        )
    # Unknown codes answer False: cross-field rules ask before the code was checked.
    for unknown in (0, 9, None, True):
        assert not is_married(unknown)  # type: ignore[arg-type]
        assert not was_married(unknown)  # type: ignore[arg-type]
        assert not is_unrecorded(unknown)  # type: ignore[arg-type]


def test_legacy_code_maps_the_split_values_back():
    assert [legacy_code(c) for c in range(1, 9)] == [1, 2, 3, 4, 2, 2, 3, 3]
    with pytest.raises(KeyError):
        legacy_code(9)


def test_new_entries_use_the_current_kk_values():
    for code in (1, 4, 5, 6, 7, 8):
        assert check_status_perkawinan(code, field="s") == []
    [found] = check_status_perkawinan(codes.KAWIN, field="members[1].status_perkawinan")
    assert found.code == "code.status_perkawinan_legacy"
    assert found.field == "members[1].status_perkawinan"
    assert found.message == (
        "Status perkawinan KAWIN tidak dipakai lagi untuk data baru sejak Permendagri "
        "118/2017; pilih KAWIN TERCATAT atau KAWIN BELUM TERCATAT."
    )
    [found] = check_status_perkawinan(codes.CERAI_HIDUP, field="s")
    assert "CERAI HIDUP TERCATAT atau CERAI HIDUP BELUM TERCATAT" in found.message


def test_classic_values_stay_valid_for_copied_data_and_the_setting_is_configurable(
    monkeypatch: pytest.MonkeyPatch,
):
    assert check_status_perkawinan(codes.KAWIN, field="s", new_entry=False) == []
    assert check_status_perkawinan(codes.KAWIN, field="s", accepted=range(1, 9)) == []
    monkeypatch.setattr(codes, "STATUS_PERKAWINAN_NEW_ENTRY", frozenset(range(1, 9)))
    assert check_status_perkawinan(codes.CERAI_HIDUP, field="s") == []
    # Unknown codes are reported as unknown whatever the setting.
    assert [i.code for i in check_status_perkawinan(12, field="s", new_entry=False)] == [
        "code.unknown"
    ]


def test_a_broken_list_is_refused_when_built():
    with pytest.raises(ValueError, match="twice"):
        CodeList("x", "X", (Code(1, "A"), Code(1, "B")))
    with pytest.raises(ValueError, match="two entries"):
        CodeList("x", "X", (Code(1, "A B"), Code(2, "AB")))
    with pytest.raises(ValueError, match="upper case"):
        CodeList("x", "X", (Code(1, "Islam"),))
    with pytest.raises(ValueError, match="positive"):
        CodeList("x", "X", (Code(0, "A"),))


def test_message_codes_are_registered():
    assert {"code.unknown", "code.status_perkawinan_legacy"} <= all_message_codes()
