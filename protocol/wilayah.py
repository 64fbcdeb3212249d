"""Kode wilayah: the administrative region codes used in NIK, No. KK and addresses.

Codes follow the codification of Permendagri 58/2021 (used by Kepmendagri 300.2.2-2430/2025):
provinsi 2 digits, kabupaten/kota 4 (kabupaten 01-69, kota 71-99), kecamatan 6,
desa/kelurahan 10. In this API a code is always the
undotted digit string, as it appears inside a NIK (``160601``); :func:`dotted` gives the
published form (``16.06.01``).

Two package data files back it (see ``protocol/data/SOURCES.md``):

* ``kode_wilayah.csv``: every provinsi, kabupaten/kota and kecamatan in Indonesia, including
  codes retired since 2015, because a NIK keeps the code of first registration for life;
* ``wilayah_musi_banyuasin.csv``: Kabupaten Musi Banyuasin down to desa/kelurahan. It is the
  office's own list, so its names win over the national file.

Desa/kelurahan are known for Musi Banyuasin only. Names are stored as published (title case);
upper-casing for print is the caller's job.
"""

from __future__ import annotations

import csv
import enum
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "Level",
    "Region",
    "MUBA_CODE",
    "region",
    "is_known_district",
    "province_of",
    "regency_of",
    "muba_kecamatan",
    "desa_in",
    "dotted",
    "undotted",
]

MUBA_CODE = "1606"
"""Kabupaten Musi Banyuasin."""

_NATIONAL_FILE = "kode_wilayah.csv"
_MUBA_FILE = "wilayah_musi_banyuasin.csv"
_UNDOTTED_RE = re.compile(r"^(?:[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{10})$")
_DOTTED_RE = re.compile(r"^[0-9]{2}(?:\.[0-9]{2}(?:\.[0-9]{2}(?:\.[0-9]{4})?)?)?$")


class Level(enum.StrEnum):
    """Tier of a region, fixed by the length of its code."""

    PROVINSI = "provinsi"
    KABUPATEN = "kabupaten"
    """Kabupaten or kota (both have 4-digit codes)."""
    KECAMATAN = "kecamatan"
    DESA = "desa"
    """Desa or kelurahan (10-digit codes); see :attr:`Region.is_kelurahan`."""


_LEVEL_BY_LENGTH = {2: Level.PROVINSI, 4: Level.KABUPATEN, 6: Level.KECAMATAN, 10: Level.DESA}


@dataclass(frozen=True, slots=True)
class Region:
    """One administrative region."""

    code: str
    """Undotted digits, e.g. ``160601``."""
    name: str
    level: Level

    @property
    def is_kelurahan(self) -> bool:
        """True for a kelurahan: desa-level codes 1xxx are kelurahan, 2xxx are desa.

        Source: Permendagri 58/2021 (kodefikasi desa/kelurahan). Desa adat (3xxx) do not
        occur in Musi Banyuasin.
        """
        return self.level is Level.DESA and self.code[6] == "1"

    @property
    def parent_code(self) -> str:
        """Code of the region one level up; empty for a provinsi."""
        if self.level is Level.DESA:
            return self.code[:6]
        return self.code[:-2]


def undotted(code: str) -> str:
    """Return ``code`` as bare digits (``16.06.01`` -> ``160601``).

    Raises :class:`ValueError` when it is not a well-formed region code; this guards
    programming errors, user input is checked by the parsers in :mod:`protocol.identity`.
    """
    text = code.strip()
    if _DOTTED_RE.match(text):
        text = text.replace(".", "")
    if not _UNDOTTED_RE.match(text):
        raise ValueError(f"not a region code: {code!r}")
    return text


def dotted(code: str) -> str:
    """Return the published dotted form (``1606011009`` -> ``16.06.01.1009``)."""
    digits = undotted(code)
    parts = [digits[i : i + 2] for i in range(0, min(len(digits), 6), 2)]
    if len(digits) == 10:
        parts.append(digits[6:])
    return ".".join(parts)


def region(code: str) -> Region | None:
    """Look up a region by code (undotted, dotted also accepted); ``None`` when unknown.

    Desa/kelurahan are only known inside Musi Banyuasin.
    """
    try:
        return _regions().get(undotted(code))
    except ValueError:
        return None


def is_known_district(code: str) -> bool:
    """True when ``code`` is a 6-digit kecamatan code in the national list or Musi Banyuasin."""
    found = _regions().get(code) if len(code) == 6 else None
    return found is not None and found.level is Level.KECAMATAN


def province_of(code: str) -> Region | None:
    """The provinsi a code belongs to, or ``None`` when that provinsi is unknown."""
    return region(code[:2]) if len(code) >= 2 else None


def regency_of(code: str) -> Region | None:
    """The kabupaten/kota a code belongs to, or ``None`` when unknown or ``code`` is a provinsi."""
    digits = code.replace(".", "")
    return region(digits[:4]) if len(digits) >= 4 else None


def muba_kecamatan() -> tuple[Region, ...]:
    """The kecamatan of Kabupaten Musi Banyuasin, in code order."""
    return _children().get(MUBA_CODE, ())


def desa_in(kecamatan_code: str) -> tuple[Region, ...]:
    """Desa and kelurahan of a kecamatan, in code order.

    Only Musi Banyuasin has desa data; any other kecamatan gives an empty tuple.
    """
    try:
        key = undotted(kecamatan_code)
    except ValueError:
        return ()
    if len(key) != 6:
        return ()
    return _children().get(key, ())


@functools.cache
def _regions() -> dict[str, Region]:
    # Musi Banyuasin is read last so the office's own names replace the national ones.
    table: dict[str, Region] = {}
    for file_name in (_NATIONAL_FILE, _MUBA_FILE):
        for code, name in _read_rows(file_name):
            table[code] = Region(code=code, name=name, level=_LEVEL_BY_LENGTH[len(code)])
    return table


@functools.cache
def _children() -> dict[str, tuple[Region, ...]]:
    grouped: dict[str, list[Region]] = {}
    for item in _regions().values():
        if item.level is not Level.PROVINSI:
            grouped.setdefault(item.parent_code, []).append(item)
    return {parent: tuple(sorted(items, key=lambda r: r.code)) for parent, items in grouped.items()}


def _read_rows(file_name: str) -> list[tuple[str, str]]:
    text = resources.files("protocol").joinpath("data", file_name).read_text(encoding="utf-8")
    rows: list[tuple[str, str]] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or (line_no == 1 and row[0] == "code"):
            continue
        if len(row) != 2 or not _DOTTED_RE.match(row[0]) or not row[1].strip():
            # Broken package data is a build defect, not a user error: fail loudly.
            raise RuntimeError(f"{file_name}:{line_no}: bad region row {row!r}")
        rows.append((row[0].replace(".", ""), row[1].strip()))
    return rows
