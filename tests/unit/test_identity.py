from __future__ import annotations

import csv
from datetime import date, timedelta
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.codes import LAKI_LAKI, PEREMPUAN
from protocol.errors import Severity, ValidationError
from protocol.identity import (
    ParsedKkNumber,
    ParsedNik,
    build_kk_number,
    build_nik,
    nik_mismatches,
    parse_kk_number,
    parse_nik,
)

TODAY = date(2025, 6, 1)


def _error_code(func, value, **kwargs) -> str:
    with pytest.raises(ValidationError) as err:
        func(value, today=TODAY, **kwargs)
    assert len(err.value.issues) == 1
    return err.value.code


# --- NIK: valid numbers ---------------------------------------------------------------


def test_woman_born_in_sekayu():
    parsed = parse_nik("1606015205900001", today=TODAY)
    assert parsed == ParsedNik(
        nik="1606015205900001",
        district_code="160601",
        province_code="16",
        regency_code="1606",
        birth_date=date(1990, 5, 12),
        sex=PEREMPUAN,
        serial=1,
    )


def test_man_born_in_lais():
    parsed = parse_nik("1606021508850003", today=TODAY)
    assert parsed.birth_date == date(1985, 8, 15)
    assert parsed.sex == LAKI_LAKI
    assert parsed.district_code == "160602"
    assert parsed.serial == 3


def test_nik_from_another_province_is_accepted():
    # A woman first registered in Tebet, Jakarta Selatan, born 1 July 2000.
    parsed = parse_nik("3174014107000012", today=TODAY)
    assert (parsed.province_code, parsed.regency_code) == ("31", "3174")
    assert parsed.birth_date == date(2000, 7, 1) and parsed.sex == PEREMPUAN


def test_nik_with_a_pre_2022_papua_code_is_accepted():
    # Merauke was 91.01 (Papua) until Papua Selatan was formed; NIKs keep the old code.
    assert parse_nik("9101011203880001", today=TODAY).province_code == "91"


@pytest.mark.parametrize(
    "raw",
    ["1606 0152 0590 0001", "  1606015205900001\n", "160601 520590 0001", "1606\u00a0015205900001"],
)
def test_spaces_are_ignored(raw):
    assert parse_nik(raw, today=TODAY).nik == "1606015205900001"


@pytest.mark.parametrize(
    ("nik", "born", "sex"),
    [
        ("1606012902960001", date(1996, 2, 29), LAKI_LAKI),
        ("1606016902000001", date(2000, 2, 29), PEREMPUAN),  # 2000 was a leap year
        ("1606013112990001", date(1999, 12, 31), LAKI_LAKI),
        ("1606017112990001", date(1999, 12, 31), PEREMPUAN),  # day 71 = 31 + 40
        ("1606010105250001", date(2025, 5, 1), LAKI_LAKI),  # this year, already past
        ("1606010106250001", date(2025, 6, 1), LAKI_LAKI),  # born today
        ("1606010206250001", date(1925, 6, 2), LAKI_LAKI),  # 2025-06-02 is tomorrow: 1925
        ("1606014101300001", date(1930, 1, 1), PEREMPUAN),
    ],
)
def test_birth_date_and_century(nik, born, sex):
    parsed = parse_nik(nik, today=TODAY)
    assert (parsed.birth_date, parsed.sex) == (born, sex)


def test_today_defaults_to_the_system_date():
    assert parse_nik("1606015205900001").birth_date == date(1990, 5, 12)


# --- NIK: invalid numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "160601520590001",  # 15 digits
        "16060152059000011",  # 17 digits
        "1606-0152-0590-0001",
        "1606.0152.0590.0001",
        "16060152059O0001",  # letter O
        "\u0661" * 16,  # Arabic-Indic digits are digits to str.isdigit, not to us
        "\uff11" * 16,  # full-width digits
    ],
)
def test_not_16_digits(raw):
    assert _error_code(parse_nik, raw) == "nik.not_16_digits"


def test_non_string_is_not_16_digits():
    assert _error_code(parse_nik, 1606015205900001) == "nik.not_16_digits"
    assert _error_code(parse_nik, None) == "nik.not_16_digits"


@pytest.mark.parametrize(
    ("nik", "reason"),
    [
        ("1606010005900001", "day 00"),
        ("1606013205900001", "day 32"),
        ("1606014005900001", "day 40"),
        ("1606017205900001", "day 72 (31 + 41)"),
        ("1606011513900001", "month 13"),
        ("1606011500900001", "month 00"),
        ("1606013104900001", "31 April"),
        ("1606017104900001", "31 April for a woman"),
        ("1606012902970001", "29 February 1997"),
        ("1606016902970001", "29 February 1997 for a woman"),
        ("1606013002960001", "30 February"),
    ],
)
def test_invalid_birth_date(nik, reason):
    assert _error_code(parse_nik, nik) == "nik.invalid_date", reason


def test_invalid_serial():
    assert _error_code(parse_nik, "1606015205900000") == "nik.invalid_serial"


@pytest.mark.parametrize("nik", ["1606995205900001", "0001015205900001", "1699015205900001"])
def test_unknown_region(nik):
    assert _error_code(parse_nik, nik) == "nik.invalid_region"


def test_messages_are_indonesian_and_name_the_field():
    with pytest.raises(ValidationError) as err:
        parse_nik("1606995205900001", today=TODAY, field="members[2].nik")
    found = err.value.issues[0]
    assert found.field == "members[2].nik"
    assert found.message.startswith("Kode wilayah NIK (160699) tidak dikenal.")
    assert found.params == {"region": "160699"}
    with pytest.raises(ValidationError) as err:
        parse_nik("12345", today=TODAY)
    assert err.value.message == "NIK harus 16 digit angka."
    with pytest.raises(ValidationError) as err:
        parse_nik("1606013205900001", today=TODAY)
    assert "(320590)" in err.value.message and "ditambah 40" in err.value.message


def test_region_is_reported_before_date_and_serial():
    assert _error_code(parse_nik, "1606990013900000") == "nik.invalid_region"
    assert _error_code(parse_nik, "1606010013900000") == "nik.invalid_date"


# --- NIK vs. the member's data ----------------------------------------------------------


def test_no_mismatch_when_data_agrees():
    parsed = parse_nik("1606015205900001", today=TODAY)
    assert nik_mismatches(parsed, birth_date=date(1990, 5, 12), sex=PEREMPUAN) == []
    assert nik_mismatches(parsed, birth_date=None, sex=None) == []


def test_birth_date_mismatch_is_a_warning():
    parsed = parse_nik("1606015205900001", today=TODAY)
    (warning,) = nik_mismatches(
        parsed, birth_date=date(1990, 5, 13), sex=PEREMPUAN, field="members[0].nik"
    )
    assert warning.code == "nik.birth_date_mismatch"
    assert warning.severity is Severity.WARNING and not warning.is_error
    assert warning.field == "members[0].nik"
    assert warning.params == {"recorded": "13-05-1990", "nik_date": "12-05-1990"}
    assert "NIK tidak diubah" in warning.message and "Pasal 15" in warning.message


def test_only_the_two_digit_year_is_compared():
    # The NIK holds no century, so 1890 vs. the inferred 1990 is not a disagreement.
    parsed = parse_nik("1606015205900001", today=TODAY)
    assert nik_mismatches(parsed, birth_date=date(1890, 5, 12), sex=None) == []
    (warning,) = nik_mismatches(parsed, birth_date=date(1991, 5, 12), sex=None)
    assert warning.code == "nik.birth_date_mismatch"


def test_sex_mismatch_is_a_warning():
    parsed = parse_nik("1606015205900001", today=TODAY)
    (warning,) = nik_mismatches(parsed, birth_date=None, sex=LAKI_LAKI)
    assert warning.code == "nik.sex_mismatch"
    assert warning.severity is Severity.WARNING
    assert warning.params == {"recorded": "laki-laki", "nik_sex": "perempuan"}
    assert "NIK tidak diubah" in warning.message


def test_both_mismatches_are_reported():
    parsed = parse_nik("1606021508850003", today=TODAY)
    codes = [w.code for w in nik_mismatches(parsed, birth_date=date(1985, 1, 1), sex=PEREMPUAN)]
    assert codes == ["nik.birth_date_mismatch", "nik.sex_mismatch"]


def test_unknown_sex_code_is_left_to_other_rules():
    parsed = parse_nik("1606021508850003", today=TODAY)
    assert nik_mismatches(parsed, birth_date=None, sex=9) == []


# --- build_nik ----------------------------------------------------------------------------


def test_build_nik():
    assert build_nik("160601", date(1990, 5, 12), PEREMPUAN, 1) == "1606015205900001"
    assert build_nik("160602", date(1985, 8, 15), LAKI_LAKI, 3) == "1606021508850003"
    assert build_nik("160601", date(2000, 2, 29), PEREMPUAN, 9999) == "1606016902009999"


@pytest.mark.parametrize(
    ("district", "sex", "serial"),
    [("16060", LAKI_LAKI, 1), ("16.06.01", LAKI_LAKI, 1), ("160601", 3, 1), ("160601", 1, 0)]
    + [("160601", PEREMPUAN, 10000)],
)
def test_build_nik_rejects_bad_parts(district, sex, serial):
    with pytest.raises(ValueError):
        build_nik(district, date(1990, 5, 12), sex, serial)


# --- Nomor KK -------------------------------------------------------------------------------


def test_kk_number_round_trip():
    number = build_kk_number("160601", date(2019, 3, 14), 27)
    assert number == "1606011403190027"
    assert parse_kk_number(number, today=TODAY) == ParsedKkNumber(
        number="1606011403190027", district_code="160601", issued_on=date(2019, 3, 14), serial=27
    )


def test_kk_number_from_another_province_with_spaces():
    parsed = parse_kk_number(" 3174 0112 0315 0004 ", today=TODAY)
    assert parsed.district_code == "317401" and parsed.issued_on == date(2015, 3, 12)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("160601140319002", "kk_number.not_16_digits"),
        ("1606-0114-0319-0027", "kk_number.not_16_digits"),
        ("1606991403190027", "kk_number.invalid_region"),
        ("1606010003190027", "kk_number.invalid_date"),  # day 00
        ("1606013203190027", "kk_number.invalid_date"),  # day 32
        ("1606014103190027", "kk_number.invalid_date"),  # no +40 on a KK number
        ("1606011413190027", "kk_number.invalid_date"),  # month 13
        ("1606012902190027", "kk_number.invalid_date"),  # 2019 was no leap year
        ("1606010206250027", "kk_number.invalid_date"),  # tomorrow
        ("1606010101990027", "kk_number.invalid_date"),  # read as 2099, in the future
        ("1606011403190000", "kk_number.invalid_serial"),
    ],
)
def test_invalid_kk_numbers(number, code):
    assert _error_code(parse_kk_number, number) == code


def test_kk_number_dates_that_are_valid():
    assert parse_kk_number("1606012902200001", today=TODAY).issued_on == date(2020, 2, 29)
    assert parse_kk_number("1606010106250001", today=TODAY).issued_on == TODAY


def test_kk_number_messages_name_the_field():
    with pytest.raises(ValidationError) as err:
        parse_kk_number("12", today=TODAY, field="family.kk_number")
    assert err.value.issues[0].field == "family.kk_number"
    assert err.value.message == "Nomor KK harus 16 digit angka."


def test_build_kk_number_rejects_bad_parts():
    with pytest.raises(ValueError):
        build_kk_number("1606", date(2019, 3, 14), 1)
    with pytest.raises(ValueError):
        build_kk_number("160601", date(2019, 3, 14), 0)
    with pytest.raises(ValueError):
        build_kk_number("160601", date(1999, 3, 14), 1)  # would read back as 2099


# --- properties -------------------------------------------------------------------------------


def _known_districts() -> list[str]:
    text = resources.files("protocol").joinpath("data", "kode_wilayah.csv").read_text("utf-8")
    return sorted(
        row[0].replace(".", "") for row in csv.reader(text.splitlines()) if len(row[0]) == 8
    )


DISTRICTS = _known_districts()


def _hundred_years_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 100)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 100, day=28)


@st.composite
def _today_and_birth(draw: st.DrawFn) -> tuple[date, date]:
    # The century rule is unambiguous for anyone born less than 100 years before today.
    today = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
    earliest = max(date(1900, 1, 1), _hundred_years_before(today) + timedelta(days=1))
    return today, draw(st.dates(min_value=earliest, max_value=today))


@given(
    district=st.sampled_from(DISTRICTS),
    dates=_today_and_birth(),
    sex=st.sampled_from([LAKI_LAKI, PEREMPUAN]),
    serial=st.integers(min_value=1, max_value=9999),
)
def test_built_nik_parses_back(district, dates, sex, serial):
    today, born = dates
    parsed = parse_nik(build_nik(district, born, sex, serial), today=today)
    assert (parsed.district_code, parsed.birth_date, parsed.sex, parsed.serial) == (
        district,
        born,
        sex,
        serial,
    )
    assert nik_mismatches(parsed, birth_date=born, sex=sex) == []


@given(digits=st.text(alphabet="0123456789", max_size=40).filter(lambda s: len(s) != 16))
def test_wrong_length_is_not_16_digits(digits):
    with pytest.raises(ValidationError) as err:
        parse_nik(digits, today=TODAY)
    assert err.value.code == "nik.not_16_digits"


@given(
    district=st.sampled_from(DISTRICTS),
    issued=st.dates(min_value=date(2000, 1, 1), max_value=TODAY),
    serial=st.integers(min_value=1, max_value=9999),
)
def test_built_kk_number_parses_back(district, issued, serial):
    parsed = parse_kk_number(build_kk_number(district, issued, serial), today=TODAY)
    assert (parsed.district_code, parsed.issued_on, parsed.serial) == (district, issued, serial)
