"""The application: form F-1.02, the family, its members and its address.

This is the shape of an application everywhere: in the counter's store, on the wire and at
the centre. It is immutable; edits make a new value (``dataclasses.replace``).

Only the *shape* is checked when parsing (:meth:`Application.from_dict`): types, dates,
required fields. Whether the content follows the rules (NIK, names, codes, cross-field
rules) is :func:`protocol.validation.validate`'s job, because a draft at the counter may
be incomplete or wrong for a while and must still be saved.

Wire form: a JSON object, dates as ISO ``YYYY-MM-DD``, coded fields as SIAK integer codes
(:mod:`protocol.codes`). Sources of the elements: form F-1.02 (Permendagri 109/2019),
F-1.01 biodata elements, and the KK columns 1-17 (blangko per Permendagri 118/2017).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from protocol.errors import Issue, ValidationError, define_messages, issue
from protocol.services import ServiceRequest, parse_service

__all__ = [
    "Address",
    "Applicant",
    "Member",
    "Override",
    "Application",
    "FIELD_LABELS",
    "field_label",
]

define_messages(
    {
        "field.required": "{label} wajib diisi.",
        "field.invalid_type": "{label} harus berupa {expected}.",
        "field.invalid_date": '{label} harus berupa tanggal (TTTT-BB-HH), bukan "{value}".',
        "field.too_long": "{label} paling banyak {max} karakter.",
    }
)

_MAX_TEXT = 200  # generous bound on any free text; names have their own 60-char rule


@dataclass(frozen=True, slots=True)
class Address:
    """The family's address as the KK header prints it.

    ``desa_code`` is the 10-digit kode wilayah of the desa/kelurahan (no dots); kecamatan,
    kabupaten and provinsi follow from it (:mod:`protocol.wilayah`).
    """

    alamat: str
    rt: str
    rw: str
    desa_code: str
    kode_pos: str = ""

    @property
    def kecamatan_code(self) -> str:
        return self.desa_code[:6]


@dataclass(frozen=True, slots=True)
class Applicant:
    """F-1.02 section I (Data Pemohon) plus the WhatsApp number the SOP replies to."""

    nama: str
    nik: str
    whatsapp: str
    kk_number: str = ""
    """The applicant's current KK number; empty when they have none (e.g. from abroad)."""


@dataclass(frozen=True, slots=True)
class Member:
    """One family member: every element the KK prints (columns 1-17) plus parents' NIKs.

    ``nik`` is empty for a person who has none yet (a newborn): SIAK issues it when the
    biodata is recorded. Optional elements use ``None``/empty strings, never placeholders.
    """

    nama: str  # (1)
    nik: str  # (2)
    jenis_kelamin: int  # (3)
    tempat_lahir: str  # (4)
    tanggal_lahir: date  # (5)
    agama: int  # (6)
    pendidikan: int  # (7)
    pekerjaan: int  # (8)
    golongan_darah: int  # (9)
    status_perkawinan: int  # (10)
    shdk: int  # (12)
    kewarganegaraan: int  # (13)
    nama_ayah: str  # (16)
    nama_ibu: str  # (17)
    tanggal_perkawinan: date | None = None  # (11)
    no_paspor: str = ""  # (14)
    no_kitap: str = ""  # (15)
    nik_ayah: str = ""
    nik_ibu: str = ""
    disabilitas: int | None = None
    """Code from :data:`protocol.codes.DISABILITAS`; ``None`` when the member has none."""


@dataclass(frozen=True, slots=True)
class Override:
    """An operator's decision to go on despite a warning, with the reason why.

    Keyed by the warning's code and field, so an override never silences another warning.
    """

    code: str
    field: str
    reason: str
    operator_id: str = ""

    def matches(self, found: Issue) -> bool:
        return self.code == found.code and self.field == found.field


@dataclass(frozen=True, slots=True)
class Application:
    """One KK application from F-1.02 to the issued card."""

    id: str
    service: ServiceRequest
    applicant: Applicant
    address: Address
    members: tuple[Member, ...]
    kk_number: str = ""
    """The family's KK number: kept for data changes and lost/damaged KKs, empty for a new
    family (allocated centrally, never at the counter)."""
    attached_documents: frozenset[str] = field(default_factory=frozenset)
    """Codes of the documents attached (:data:`protocol.requirements.DOCUMENTS`)."""
    overrides: tuple[Override, ...] = ()

    @property
    def head(self) -> Member | None:
        """The Kepala Keluarga, if exactly one member is marked as such."""
        from protocol.codes import SHDK_KEPALA_KELUARGA

        heads = [m for m in self.members if m.shdk == SHDK_KEPALA_KELUARGA]
        return heads[0] if len(heads) == 1 else None

    # -- wire form -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe wire form (dates as ISO strings, sets as sorted lists)."""
        return {
            "id": self.id,
            "service": self.service.to_dict(),
            "applicant": _plain(self.applicant),
            "kk_number": self.kk_number,
            "address": _plain(self.address),
            "members": [_plain(m) for m in self.members],
            "attached_documents": sorted(self.attached_documents),
            "overrides": [_plain(o) for o in self.overrides],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Application:
        """Parse the wire form; raise :class:`ValidationError` listing every shape problem."""
        r = _Reader()
        app_id = r.text(data, "id", required=True)
        service = r.nested(data, "service", _service)
        applicant = r.nested(data, "applicant", _applicant)
        address = r.nested(data, "address", _address)
        members_raw = r.value(data, "members", list, "daftar", required=True)
        members: list[Member] = []
        for i, item in enumerate(members_raw or []):
            m = r.nested_value(item, f"members[{i}]", _member)
            if m is not None:
                members.append(m)
        docs_raw = r.value(data, "attached_documents", list, "daftar") or []
        docs: set[str] = set()
        for i, code in enumerate(docs_raw):
            if isinstance(code, str) and code:
                docs.add(code)
            else:
                r.add("field.invalid_type", f"attached_documents[{i}]", expected="teks")
        overrides: list[Override] = []
        for i, item in enumerate(r.value(data, "overrides", list, "daftar") or []):
            o = r.nested_value(item, f"overrides[{i}]", _override)
            if o is not None:
                overrides.append(o)
        kk_number = r.text(data, "kk_number")
        r.raise_if_any()
        assert service and applicant and address and app_id  # guaranteed by raise_if_any
        return cls(
            id=app_id,
            service=service,
            applicant=applicant,
            address=address,
            members=tuple(members),
            kk_number=kk_number,
            attached_documents=frozenset(docs),
            overrides=tuple(overrides),
        )


# -- field labels ------------------------------------------------------------------------

FIELD_LABELS: Mapping[str, str] = {
    "id": "ID permohonan",
    "service": "Jenis permohonan",
    "service.service_type": "Jenis permohonan",
    "service.sub_type": "Sub jenis permohonan",
    "service.peristiwa": "Peristiwa penting",
    "applicant": "Data pemohon",
    "applicant.nama": "Nama pemohon",
    "applicant.nik": "NIK pemohon",
    "applicant.whatsapp": "Nomor WhatsApp",
    "applicant.kk_number": "Nomor KK pemohon",
    "kk_number": "Nomor KK keluarga",
    "address": "Alamat",
    "address.alamat": "Alamat",
    "address.rt": "RT",
    "address.rw": "RW",
    "address.desa_code": "Desa/Kelurahan",
    "address.kode_pos": "Kode pos",
    "members": "Anggota keluarga",
    "members[]": "Anggota keluarga",
    "members[].nama": "Nama lengkap",
    "members[].nik": "NIK",
    "members[].jenis_kelamin": "Jenis kelamin",
    "members[].tempat_lahir": "Tempat lahir",
    "members[].tanggal_lahir": "Tanggal lahir",
    "members[].agama": "Agama",
    "members[].pendidikan": "Pendidikan",
    "members[].pekerjaan": "Jenis pekerjaan",
    "members[].golongan_darah": "Golongan darah",
    "members[].status_perkawinan": "Status perkawinan",
    "members[].tanggal_perkawinan": "Tanggal perkawinan",
    "members[].shdk": "Status hubungan dalam keluarga",
    "members[].kewarganegaraan": "Kewarganegaraan",
    "members[].no_paspor": "Nomor paspor",
    "members[].no_kitap": "Nomor KITAP",
    "members[].nama_ayah": "Nama ayah",
    "members[].nama_ibu": "Nama ibu",
    "members[].nik_ayah": "NIK ayah",
    "members[].nik_ibu": "NIK ibu",
    "members[].disabilitas": "Disabilitas",
    "attached_documents": "Dokumen",
    "attached_documents[]": "Kode dokumen",
    "overrides": "Pengecualian",
    "overrides[]": "Pengecualian",
    "overrides[].code": "Kode peringatan",
    "overrides[].field": "Kolom",
    "overrides[].reason": "Alasan pengecualian",
    "overrides[].operator_id": "Operator",
}
"""Indonesian names of the fields an Issue can point at (indexes written as ``[]``)."""

_INDEX = re.compile(r"\[(\d+)\]")


def _label(path: str) -> str:
    return FIELD_LABELS.get(_INDEX.sub("[]", path), path)


def field_label(path: str) -> str:
    """Where an issue points, in words an operator reads: ``members[2].nik`` -> ``Anggota
    ke-3, NIK``."""
    if path.startswith("checklist."):
        return "Persyaratan"  # the message itself names the document
    label = _label(path)
    found = _INDEX.search(path)
    if found and path.startswith("members[") and path != found.group(0):
        ordinal = f"Anggota ke-{int(found.group(1)) + 1}"
        return ordinal if path.endswith("]") else f"{ordinal}, {label}"
    return label


# -- parsing helpers ---------------------------------------------------------------------

_T = TypeVar("_T")


class _Reader:
    """Collects every shape problem instead of stopping at the first."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.issues: list[Issue] = []

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def add(self, code: str, key: str, **params: Any) -> None:
        path = self.path(key)
        self.issues.append(issue(code, field=path, label=_label(path), **params))

    def value(
        self,
        data: Mapping[str, Any],
        key: str,
        kind: type | tuple[type, ...],
        expected: str,
        *,
        required: bool = False,
    ) -> Any:
        raw = data.get(key)
        if raw is None or raw == "":
            if required:
                self.add("field.required", key)
            return None
        # bool is an int in Python; a true/false where a code is expected is a type error.
        if not isinstance(raw, kind) or (isinstance(raw, bool) and kind is not bool):
            self.add("field.invalid_type", key, expected=expected)
            return None
        return raw

    def text(self, data: Mapping[str, Any], key: str, *, required: bool = False) -> str:
        raw = self.value(data, key, str, "teks", required=required)
        if raw is None:
            return ""
        raw = raw.strip()
        if len(raw) > _MAX_TEXT:
            self.add("field.too_long", key, max=_MAX_TEXT)
            return ""
        return raw

    def code(self, data: Mapping[str, Any], key: str, *, required: bool = True) -> int:
        raw = self.value(data, key, int, "kode angka", required=required)
        return 0 if raw is None else raw

    def date(self, data: Mapping[str, Any], key: str, *, required: bool = False) -> date | None:
        raw = self.value(data, key, str, "tanggal", required=required)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            self.add("field.invalid_date", key, value=raw)
            return None

    def nested(
        self,
        data: Mapping[str, Any],
        key: str,
        parse: Callable[[_Reader, Mapping[str, Any]], _T],
    ) -> _T | None:
        return self.nested_value(data.get(key), key, parse)

    def nested_value(
        self, raw: Any, key: str, parse: Callable[[_Reader, Mapping[str, Any]], _T]
    ) -> _T | None:
        if raw is None:
            self.add("field.required", key)
            return None
        if not isinstance(raw, Mapping):
            self.add("field.invalid_type", key, expected="objek")
            return None
        sub = _Reader(self.path(key))
        result = parse(sub, raw)
        self.issues.extend(sub.issues)
        return None if sub.issues else result

    def raise_if_any(self) -> None:
        if self.issues:
            raise ValidationError(self.issues)


def _service(r: _Reader, d: Mapping[str, Any]) -> ServiceRequest | None:
    service_type = r.text(d, "service_type", required=True)
    number = r.code(d, "sub_type")
    peristiwa = r.text(d, "peristiwa")
    if r.issues:
        return None
    try:
        return parse_service(service_type, number, peristiwa or None)
    except ValidationError as exc:
        # Re-anchor the service module's field paths under this reader's prefix.
        r.issues.extend(
            Issue(i.code, i.message, r.path(i.field.removeprefix("service.")), i.severity, i.params)
            for i in exc.issues
        )
        return None


def _applicant(r: _Reader, d: Mapping[str, Any]) -> Applicant:
    return Applicant(
        nama=r.text(d, "nama", required=True),
        nik=r.text(d, "nik", required=True),
        whatsapp=r.text(d, "whatsapp", required=True),
        kk_number=r.text(d, "kk_number"),
    )


def _address(r: _Reader, d: Mapping[str, Any]) -> Address:
    return Address(
        alamat=r.text(d, "alamat", required=True),
        rt=r.text(d, "rt", required=True),
        rw=r.text(d, "rw", required=True),
        desa_code=r.text(d, "desa_code", required=True),
        kode_pos=r.text(d, "kode_pos"),
    )


def _member(r: _Reader, d: Mapping[str, Any]) -> Member:
    birth = r.date(d, "tanggal_lahir", required=True)
    disabilitas = r.value(d, "disabilitas", int, "kode angka")
    return Member(
        nama=r.text(d, "nama", required=True),
        nik=r.text(d, "nik"),
        jenis_kelamin=r.code(d, "jenis_kelamin"),
        tempat_lahir=r.text(d, "tempat_lahir", required=True),
        tanggal_lahir=birth or date.min,
        agama=r.code(d, "agama"),
        pendidikan=r.code(d, "pendidikan"),
        pekerjaan=r.code(d, "pekerjaan"),
        golongan_darah=r.code(d, "golongan_darah"),
        status_perkawinan=r.code(d, "status_perkawinan"),
        shdk=r.code(d, "shdk"),
        kewarganegaraan=r.code(d, "kewarganegaraan"),
        nama_ayah=r.text(d, "nama_ayah"),
        nama_ibu=r.text(d, "nama_ibu"),
        tanggal_perkawinan=r.date(d, "tanggal_perkawinan"),
        no_paspor=r.text(d, "no_paspor"),
        no_kitap=r.text(d, "no_kitap"),
        nik_ayah=r.text(d, "nik_ayah"),
        nik_ibu=r.text(d, "nik_ibu"),
        disabilitas=disabilitas,
    )


def _override(r: _Reader, d: Mapping[str, Any]) -> Override:
    return Override(
        code=r.text(d, "code", required=True),
        field=r.text(d, "field"),
        reason=r.text(d, "reason", required=True),
        operator_id=r.text(d, "operator_id"),
    )


def _plain(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        out[name] = value.isoformat() if isinstance(value, date) else value
    return out
