"""Jenis permohonan for the Kartu Keluarga, exactly as form F-1.02 section II.I lists them.

Source: Permendagri 109/2019 (formulir F-1.02 "Formulir Pendaftaran Peristiwa Kependudukan"),
Perpres 96/2018 Pasal 10-13 (the three kinds of KK service).

A service is identified on the wire by ``service_type`` (``BARU``, ``PERUBAHAN_DATA``,
``HILANG_RUSAK``; the form's A/B/C) and ``sub_type`` (the form's number within that column).
``PERUBAHAN_DATA`` / 2 (Peristiwa Penting) also names which event happened, because the
documents it requires depend on it (Perpres 96/2018 Pasal 12).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocol.errors import ValidationError, define_messages

__all__ = [
    "ServiceType",
    "SubType",
    "PeristiwaPenting",
    "ServiceRequest",
    "SUB_TYPES",
    "sub_type",
    "parse_service",
]

define_messages(
    {
        "service.unknown_type": 'Jenis permohonan "{value}" tidak dikenal. Pilih BARU, '
        "PERUBAHAN DATA, atau HILANG/RUSAK.",
        "service.unknown_sub_type": "Sub jenis permohonan {value} tidak ada untuk {service}.",
        "service.peristiwa_required": "Untuk perubahan data karena Peristiwa Penting, "
        "pilih peristiwa yang terjadi.",
        "service.peristiwa_unknown": 'Peristiwa penting "{value}" tidak dikenal.',
        "service.peristiwa_not_applicable": "Peristiwa penting hanya diisi untuk perubahan "
        "data karena Peristiwa Penting.",
    }
)


class ServiceType(enum.StrEnum):
    """Column I of F-1.02 section II: the three kinds of KK service."""

    BARU = "BARU"
    PERUBAHAN_DATA = "PERUBAHAN_DATA"
    HILANG_RUSAK = "HILANG_RUSAK"

    @property
    def letter(self) -> str:
        """The letter printed on F-1.02 (A, B, C)."""
        return {"BARU": "A", "PERUBAHAN_DATA": "B", "HILANG_RUSAK": "C"}[self.value]

    @property
    def label(self) -> str:
        return {
            "BARU": "BARU",
            "PERUBAHAN_DATA": "PERUBAHAN DATA",
            "HILANG_RUSAK": "HILANG / RUSAK",
        }[self.value]


@dataclass(frozen=True, slots=True)
class SubType:
    """One tick box of F-1.02 section II.I."""

    service_type: ServiceType
    number: int
    key: str
    """Stable identifier used in code and rule tables, e.g. ``pisah_kk``."""
    label: str
    """Text exactly as the form prints it."""
    creates_family: bool
    """True when the service creates a family and so needs a new KK number (design.md §1)."""

    @property
    def form_code(self) -> str:
        """Position on the form, e.g. ``A.3``."""
        return f"{self.service_type.letter}.{self.number}"


_B, _P, _H = ServiceType.BARU, ServiceType.PERUBAHAN_DATA, ServiceType.HILANG_RUSAK

SUB_TYPES: tuple[SubType, ...] = (
    SubType(_B, 1, "membentuk_keluarga_baru", "Membentuk Keluarga Baru", True),
    SubType(_B, 2, "penggantian_kepala_keluarga", "Penggantian Kepala Keluarga", True),
    SubType(_B, 3, "pisah_kk", "Pisah KK", True),
    SubType(_B, 4, "pindah_datang", "Pindah Datang", True),
    SubType(_B, 5, "wni_dari_ln", "WNI dari LN karena Pindah", True),
    SubType(_B, 6, "rentan_adminduk", "Rentan Adminduk", True),
    SubType(_P, 1, "menumpang_dalam_kk", "Menumpang dalam KK", False),
    SubType(_P, 2, "peristiwa_penting", "Peristiwa Penting", False),
    SubType(_P, 3, "perubahan_elemen_data", "Perubahan elemen data yang tercantum dalam KK", False),
    SubType(_H, 1, "hilang", "Hilang", False),
    SubType(_H, 2, "rusak", "Rusak", False),
)

_BY_POSITION = {(s.service_type, s.number): s for s in SUB_TYPES}


class PeristiwaPenting(enum.StrEnum):
    """Important events that change a KK (Perpres 96/2018 Pasal 12; UU 23/2006 Pasal 1 angka 17)."""

    KELAHIRAN = "kelahiran"
    KEMATIAN = "kematian"
    PERKAWINAN = "perkawinan"
    PEMBATALAN_PERKAWINAN = "pembatalan_perkawinan"
    PERCERAIAN = "perceraian"
    PEMBATALAN_PERCERAIAN = "pembatalan_perceraian"
    PENGANGKATAN_ANAK = "pengangkatan_anak"
    PENGAKUAN_ANAK = "pengakuan_anak"
    PENGESAHAN_ANAK = "pengesahan_anak"
    PERUBAHAN_NAMA = "perubahan_nama"
    PERUBAHAN_KEWARGANEGARAAN = "perubahan_kewarganegaraan"
    PEMBETULAN_AKTA = "pembetulan_akta"
    PEMBATALAN_AKTA = "pembatalan_akta"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """What the applicant ticked on F-1.02, validated."""

    sub_type: SubType
    peristiwa: PeristiwaPenting | None = None

    @property
    def service_type(self) -> ServiceType:
        return self.sub_type.service_type

    @property
    def creates_family(self) -> bool:
        return self.sub_type.creates_family

    @property
    def label(self) -> str:
        text = f"KK {self.service_type.label}: {self.sub_type.label}"
        if self.peristiwa is not None:
            text += f" ({self.peristiwa.label})"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "service_type": self.service_type.value,
            "sub_type": self.sub_type.number,
            "peristiwa": self.peristiwa.value if self.peristiwa else None,
        }


def sub_type(service_type: ServiceType | str, number: int) -> SubType:
    """Look up a tick box by column and number; raises :class:`ValidationError`."""
    st = _parse_type(service_type)
    try:
        return _BY_POSITION[(st, int(number))]
    except (KeyError, TypeError, ValueError):
        raise ValidationError.single(
            "service.unknown_sub_type", field="service.sub_type", value=number, service=st.label
        ) from None


def parse_service(
    service_type: ServiceType | str, number: int, peristiwa: str | None = None
) -> ServiceRequest:
    """Validate what was ticked on F-1.02 and return a :class:`ServiceRequest`."""
    st = sub_type(service_type, number)
    if st.key == "peristiwa_penting":
        if not peristiwa:
            raise ValidationError.single("service.peristiwa_required", field="service.peristiwa")
        try:
            event = PeristiwaPenting(peristiwa)
        except ValueError:
            raise ValidationError.single(
                "service.peristiwa_unknown", field="service.peristiwa", value=peristiwa
            ) from None
        return ServiceRequest(st, event)
    if peristiwa:
        raise ValidationError.single("service.peristiwa_not_applicable", field="service.peristiwa")
    return ServiceRequest(st)


def _parse_type(value: ServiceType | str) -> ServiceType:
    try:
        return ServiceType(value)
    except ValueError:
        raise ValidationError.single(
            "service.unknown_type", field="service.service_type", value=value
        ) from None
