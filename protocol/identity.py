"""NIK and Nomor KK: parsing, checking and building the two 16-digit identity numbers.

NIK (Nomor Induk Kependudukan), UU 23/2006 jo. UU 24/2013 Pasal 13; layout as applied by SIAK::

    PP KK CC  DDMMYY  SSSS
    kecamatan of first registration, birth date (women: DD + 40), serial 0001-9999

The NIK is issued once and never changes: not when the resident moves, and not when the
birth date or sex is later corrected (Permendagri 108/2019 Pasal 15 ayat (3)). So a NIK
whose date or sex digits disagree with the member's data is a warning the operator may
override, never a reason to "fix" the NIK (:func:`nik_mismatches`).

Nomor KK::

    PP KK CC  DDMMYY  SSSS
    kecamatan of issuance, date of issuance (no +40), family serial 0001-9999

Both numbers may come from anywhere in Indonesia (residents who moved in), so region codes
are checked against the national list in :mod:`protocol.wilayah`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from protocol import wilayah
from protocol.codes import LAKI_LAKI, PEREMPUAN
from protocol.errors import Issue, Severity, ValidationError, define_messages, issue

__all__ = [
    "ParsedNik",
    "ParsedKkNumber",
    "parse_nik",
    "nik_mismatches",
    "build_nik",
    "parse_kk_number",
    "build_kk_number",
]

define_messages(
    {
        "nik.not_16_digits": "NIK harus 16 digit angka.",
        "nik.invalid_region": "Kode wilayah NIK ({region}) tidak dikenal. Enam digit pertama NIK "
        "harus kode kecamatan yang terdaftar di Kemendagri.",
        "nik.invalid_date": "Digit ke-7 sampai ke-12 NIK ({value}) bukan tanggal lahir yang "
        "valid: harus 2 digit tanggal, 2 digit bulan, 2 digit tahun, dan untuk perempuan "
        "tanggal ditambah 40.",
        "nik.invalid_serial": "Nomor urut NIK (4 digit terakhir) tidak boleh 0000.",
        "nik.birth_date_mismatch": "Tanggal lahir {recorded} berbeda dengan tanggal lahir dalam "
        "NIK ({nik_date}). NIK tidak diubah walaupun tanggal lahir diperbaiki (Permendagri "
        "108/2019 Pasal 15 ayat (3)); periksa kembali data, atau lanjutkan dengan alasan.",
        "nik.sex_mismatch": "Jenis kelamin {recorded} berbeda dengan jenis kelamin dalam NIK "
        "({nik_sex}). NIK tidak diubah walaupun jenis kelamin diperbaiki (Permendagri 108/2019 "
        "Pasal 15 ayat (3)); periksa kembali data, atau lanjutkan dengan alasan.",
        "kk_number.not_16_digits": "Nomor KK harus 16 digit angka.",
        "kk_number.invalid_region": "Kode wilayah Nomor KK ({region}) tidak dikenal. Enam digit "
        "pertama Nomor KK harus kode kecamatan yang terdaftar di Kemendagri.",
        "kk_number.invalid_date": "Digit ke-7 sampai ke-12 Nomor KK ({value}) bukan tanggal "
        "penerbitan yang valid: harus 2 digit tanggal, 2 digit bulan, 2 digit tahun, dan tidak "
        "boleh sesudah hari ini.",
        "kk_number.invalid_serial": "Nomor urut keluarga pada Nomor KK (4 digit terakhir) "
        "tidak boleh 0000.",
    }
)

_SIXTEEN_DIGITS = re.compile(r"^[0-9]{16}$")
# A woman's birth day is written with 40 added (SIAK convention, domain.md §4).
_FEMALE_DAY_OFFSET = 40
_SEX_LABELS = {LAKI_LAKI: "laki-laki", PEREMPUAN: "perempuan"}


@dataclass(frozen=True, slots=True)
class ParsedNik:
    """A NIK that passed every structural check."""

    nik: str
    """The 16 digits, spaces removed."""
    district_code: str
    """Kecamatan of first registration (6 digits); not necessarily where the person lives."""
    province_code: str
    regency_code: str
    birth_date: date
    """The century is inferred (see :func:`parse_nik`); only DDMMYY is in the NIK."""
    sex: int
    """:data:`protocol.codes.LAKI_LAKI` or :data:`protocol.codes.PEREMPUAN`."""
    serial: int


@dataclass(frozen=True, slots=True)
class ParsedKkNumber:
    """A Nomor KK that passed every structural check."""

    number: str
    district_code: str
    """Kecamatan where the KK was issued (6 digits)."""
    issued_on: date
    serial: int


def parse_nik(value: str, *, today: date | None = None, field: str = "nik") -> ParsedNik:
    """Parse and check a NIK; raise :class:`ValidationError` with one issue on the first fault.

    Spaces anywhere are ignored (people copy NIKs in groups of four); any other non-digit is
    an error. The two-digit birth year is read as 20YY unless that puts the birth date after
    ``today`` (default: the system date), in which case it is 19YY.
    """
    digits = _sixteen_digits(value)
    if digits is None:
        raise ValidationError.single("nik.not_16_digits", field=field)
    district = digits[:6]
    if not wilayah.is_known_district(district):
        raise ValidationError.single("nik.invalid_region", field=field, region=district)
    day, sex = int(digits[6:8]), LAKI_LAKI
    if day > _FEMALE_DAY_OFFSET:
        day, sex = day - _FEMALE_DAY_OFFSET, PEREMPUAN
    birth = _resolve_date(day, int(digits[8:10]), int(digits[10:12]), today or date.today())
    if birth is None:
        raise ValidationError.single("nik.invalid_date", field=field, value=digits[6:12])
    serial = int(digits[12:])
    if serial == 0:
        raise ValidationError.single("nik.invalid_serial", field=field)
    return ParsedNik(
        nik=digits,
        district_code=district,
        province_code=digits[:2],
        regency_code=digits[:4],
        birth_date=birth,
        sex=sex,
        serial=serial,
    )


def nik_mismatches(
    parsed: ParsedNik, *, birth_date: date | None, sex: int | None, field: str = "nik"
) -> list[Issue]:
    """Warnings where the member's recorded birth date or sex disagrees with the NIK.

    Only day, month and the two-digit year are compared, since the NIK holds no century.
    Unknown values (``None``, or a sex code other than the two defined) are not compared;
    validating them is the job of the member rules.
    """
    found: list[Issue] = []
    if birth_date is not None and _ddmmyy(birth_date) != _ddmmyy(parsed.birth_date):
        found.append(
            issue(
                "nik.birth_date_mismatch",
                field=field,
                severity=Severity.WARNING,
                recorded=birth_date.strftime("%d-%m-%Y"),
                nik_date=parsed.birth_date.strftime("%d-%m-%Y"),
            )
        )
    if sex in _SEX_LABELS and sex != parsed.sex:
        found.append(
            issue(
                "nik.sex_mismatch",
                field=field,
                severity=Severity.WARNING,
                recorded=_SEX_LABELS[sex],
                nik_sex=_SEX_LABELS[parsed.sex],
            )
        )
    return found


def build_nik(district_code: str, birth_date: date, sex: int, serial: int) -> str:
    """Compose a NIK from its parts (for tests and demo data; SIAK issues real ones).

    Raises :class:`ValueError` for malformed parts. The district is not looked up, so tests
    can build NIKs with unknown regions.
    """
    if sex not in _SEX_LABELS:
        raise ValueError(f"sex must be {LAKI_LAKI} or {PEREMPUAN}, not {sex!r}")
    day = birth_date.day + (_FEMALE_DAY_OFFSET if sex == PEREMPUAN else 0)
    return _compose(district_code, day, birth_date, serial)


def parse_kk_number(
    value: str, *, today: date | None = None, field: str = "kk_number"
) -> ParsedKkNumber:
    """Parse and check a Nomor KK; raise :class:`ValidationError` with one issue.

    The two-digit year is read as 20YY: 16-digit KK numbers are issued by SIAK, which
    post-dates 2000, so a date after ``today`` is a typing error, not a 19YY issue date.
    """
    digits = _sixteen_digits(value)
    if digits is None:
        raise ValidationError.single("kk_number.not_16_digits", field=field)
    district = digits[:6]
    if not wilayah.is_known_district(district):
        raise ValidationError.single("kk_number.invalid_region", field=field, region=district)
    issued = _real_date(2000 + int(digits[10:12]), int(digits[8:10]), int(digits[6:8]))
    if issued is None or issued > (today or date.today()):
        raise ValidationError.single("kk_number.invalid_date", field=field, value=digits[6:12])
    serial = int(digits[12:])
    if serial == 0:
        raise ValidationError.single("kk_number.invalid_serial", field=field)
    return ParsedKkNumber(number=digits, district_code=district, issued_on=issued, serial=serial)


def build_kk_number(district_code: str, issued_on: date, serial: int) -> str:
    """Compose a Nomor KK from its parts (for tests and demo data).

    Raises :class:`ValueError` for malformed parts; the district is not looked up.
    """
    if not 2000 <= issued_on.year <= 2099:
        # parse_kk_number reads the two-digit year as 20YY; anything else would not round-trip.
        raise ValueError(f"issue date must be in 2000..2099, not {issued_on}")
    return _compose(district_code, issued_on.day, issued_on, serial)


def _compose(district_code: str, day: int, when: date, serial: int) -> str:
    if not re.fullmatch(r"[0-9]{6}", district_code):
        raise ValueError(f"district code must be 6 digits, not {district_code!r}")
    if not 1 <= serial <= 9999:
        raise ValueError(f"serial must be 1..9999, not {serial!r}")
    return f"{district_code}{day:02d}{when.month:02d}{when.year % 100:02d}{serial:04d}"


def _sixteen_digits(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    # Only spaces are forgiven; str.split() also drops tabs and no-break spaces from pastes.
    digits = "".join(value.split())
    return digits if _SIXTEEN_DIGITS.match(digits) else None


def _resolve_date(day: int, month: int, yy: int, today: date) -> date | None:
    # Latest century that keeps the birth date not after today. 29-02-00 stays valid because
    # 2000 was a leap year; the 1900 fallback is only reached when 20YY is in the future.
    for century in (2000, 1900):
        found = _real_date(century + yy, month, day)
        if found is not None and found <= today:
            return found
    return None


def _real_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _ddmmyy(value: date) -> tuple[int, int, int]:
    return value.day, value.month, value.year % 100
