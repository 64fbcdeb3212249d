from __future__ import annotations

import csv
import re
from importlib import resources

import pytest

from protocol import wilayah
from protocol.wilayah import Level


def _rows(file_name: str) -> list[list[str]]:
    text = resources.files("protocol").joinpath("data", file_name).read_text(encoding="utf-8")
    return list(csv.reader(text.splitlines()))


def test_national_file_is_well_formed_and_complete():
    rows = _rows("kode_wilayah.csv")
    assert rows[0] == ["code", "name"]
    codes = [r[0] for r in rows[1:]]
    assert len(codes) == len(set(codes)) == 8457
    assert all(re.fullmatch(r"\d{2}(\.\d{2}){0,2}", c) for c in codes)
    by_length = {n: sum(1 for c in codes if len(c) == n) for n in (2, 5, 8)}
    # 38 provinces; 514 + 26 retired Papua kabupaten; 7,285 + 594 retired Papua kecamatan.
    assert by_length == {2: 38, 5: 540, 8: 7879}
    known = set(codes)
    assert all(c[:-3] in known for c in codes if len(c) > 2), "every parent is listed"


def test_musi_banyuasin_file_matches_domain_facts():
    assert len(wilayah.muba_kecamatan()) == 15
    desa = [d for k in wilayah.muba_kecamatan() for d in wilayah.desa_in(k.code)]
    assert len(desa) == 242
    assert sum(d.is_kelurahan for d in desa) == 13
    assert [d.code for d in wilayah.desa_in("160601") if d.is_kelurahan] == [
        "1606011009",  # Kayu Ara
        "1606011010",  # Serasan Jaya
        "1606011011",  # Soak Baru
        "1606011012",  # Balai Agung
    ]
    assert len(wilayah.desa_in("160611")) == 27  # Lalan, the largest


def test_musi_banyuasin_names_come_from_the_office_file():
    office = dict(_rows("wilayah_musi_banyuasin.csv"))
    for dotted_code, name in office.items():
        found = wilayah.region(dotted_code)
        assert found is not None and found.name == name


def test_lookup_by_undotted_and_dotted_code():
    sekayu = wilayah.region("160601")
    assert sekayu == wilayah.Region("160601", "Sekayu", Level.KECAMATAN)
    assert wilayah.region("16.06.01") == sekayu
    assert sekayu.parent_code == wilayah.MUBA_CODE
    kayu_ara = wilayah.region("1606011009")
    assert kayu_ara is not None and kayu_ara.level is Level.DESA and kayu_ara.is_kelurahan
    assert kayu_ara.parent_code == "160601"
    muba = wilayah.region(wilayah.MUBA_CODE)
    assert muba is not None and muba.name == "Kabupaten Musi Banyuasin"
    assert muba.level is Level.KABUPATEN and not muba.is_kelurahan
    assert wilayah.region("16").parent_code == ""


@pytest.mark.parametrize(
    "code", ["", "1", "160", "160699", "16.06.99", "abcdef", "9999", "1606.01"]
)
def test_unknown_or_malformed_codes_give_none(code):
    assert wilayah.region(code) is None


def test_national_districts_are_known():
    assert wilayah.is_known_district("160601")  # Sekayu
    assert wilayah.is_known_district("317401")  # Tebet, Jakarta Selatan
    assert wilayah.is_known_district("930101")  # Merauke since 2022 (Papua Selatan)
    assert wilayah.is_known_district("910101")  # Merauke before 2022: old NIKs carry it
    assert not wilayah.is_known_district("160699")
    assert not wilayah.is_known_district("1606")  # a kabupaten, not a kecamatan
    assert not wilayah.is_known_district("16.06.01")  # the API takes undotted codes
    assert not wilayah.is_known_district("1606011009")


def test_province_and_regency_of():
    assert wilayah.province_of("1606011009").name == "Sumatera Selatan"
    assert wilayah.regency_of("1606011009").name == "Kabupaten Musi Banyuasin"
    assert wilayah.regency_of("317401").name == "Kota Administrasi Jakarta Selatan"
    assert wilayah.regency_of("16") is None
    assert wilayah.province_of("00") is None


def test_desa_only_known_in_musi_banyuasin():
    assert wilayah.desa_in("317401") == ()
    assert wilayah.desa_in("160699") == ()
    assert wilayah.desa_in("1606") == ()
    assert wilayah.desa_in("16.06.02") == wilayah.desa_in("160602") != ()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("16", "16"),
        ("1606", "16.06"),
        ("160601", "16.06.01"),
        ("1606011009", "16.06.01.1009"),
        ("16.06.01", "16.06.01"),
    ],
)
def test_dotted_and_undotted(code, expected):
    assert wilayah.dotted(code) == expected
    assert wilayah.undotted(expected) == expected.replace(".", "")


@pytest.mark.parametrize("code", ["", "1", "16060", "16.0601", "1606011", "16-06"])
def test_dotted_rejects_malformed_codes(code):
    with pytest.raises(ValueError):
        wilayah.dotted(code)
