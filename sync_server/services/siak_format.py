"""The SIAK export of one application: a documented JSON record and a CSV with one row per
member, for the staff member who enters the approved family into SIAK (docs/workflow.md,
"SIAK export"). Pure: no database, no clock.

JSON (``format`` = :data:`FORMAT`, ``version`` = :data:`VERSION`): the application id,
state, export and approval times, the service (type, number, F-1.02 position, label,
peristiwa, whether it creates a family), the family KK number (empty for a new family
until it is allocated), the applicant, the address with the region names, and the members
in KK order, each coded element as ``{"kode": <SIAK code>, "label": <KK label>}`` and dates
as ``YYYY-MM-DD``.

CSV (:data:`CSV_COLUMNS`, RFC 4180, UTF-8, comma, header row): one row per member in KK
order with the family's columns repeated, codes and labels in separate columns, dates as
``DD-MM-YYYY`` as the KK prints them. A cell that a spreadsheet would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from protocol import codes, wilayah
from protocol.application import Application, Member

__all__ = ["FORMAT", "VERSION", "CSV_COLUMNS", "export_record", "export_csv"]

FORMAT = "kk-online/siak-export"
VERSION = 1

_CODED: tuple[tuple[str, codes.CodeList], ...] = (
    ("jenis_kelamin", codes.JENIS_KELAMIN),
    ("agama", codes.AGAMA),
    ("pendidikan", codes.PENDIDIKAN),
    ("pekerjaan", codes.PEKERJAAN),
    ("golongan_darah", codes.GOLONGAN_DARAH),
    ("status_perkawinan", codes.STATUS_PERKAWINAN),
    ("shdk", codes.SHDK),
    ("kewarganegaraan", codes.KEWARGANEGARAAN),
)

CSV_COLUMNS: tuple[str, ...] = (
    "application_id",
    "jenis_permohonan",
    "no_kk",
    "alamat",
    "rt",
    "rw",
    "kode_desa",
    "desa",
    "kecamatan",
    "kode_pos",
    "no",
    "nik",
    "nama_lengkap",
    "jenis_kelamin_kode",
    "jenis_kelamin",
    "tempat_lahir",
    "tanggal_lahir",
    "agama_kode",
    "agama",
    "pendidikan_kode",
    "pendidikan",
    "pekerjaan_kode",
    "pekerjaan",
    "golongan_darah_kode",
    "golongan_darah",
    "status_perkawinan_kode",
    "status_perkawinan",
    "tanggal_perkawinan",
    "shdk_kode",
    "shdk",
    "kewarganegaraan_kode",
    "kewarganegaraan",
    "no_paspor",
    "no_kitap",
    "nik_ayah",
    "nama_ayah",
    "nik_ibu",
    "nama_ibu",
    "disabilitas_kode",
    "disabilitas",
)
"""The CSV header, in order (documented in docs/workflow.md)."""


def _coded(code_list: codes.CodeList, code: int | None) -> dict[str, Any] | None:
    if code is None:
        return None
    label = code_list.label(code) if code in code_list else ""
    return {"kode": code, "label": label}


def _region(code: str) -> str:
    found = wilayah.region(code)
    return found.name if found else ""


def _member(number: int, member: Member) -> dict[str, Any]:
    record: dict[str, Any] = {
        "no": number,
        "nik": member.nik,
        "nama": member.nama,
        "tempat_lahir": member.tempat_lahir,
        "tanggal_lahir": member.tanggal_lahir.isoformat(),
        "tanggal_perkawinan": (
            member.tanggal_perkawinan.isoformat() if member.tanggal_perkawinan else None
        ),
        "no_paspor": member.no_paspor,
        "no_kitap": member.no_kitap,
        "nik_ayah": member.nik_ayah,
        "nama_ayah": member.nama_ayah,
        "nik_ibu": member.nik_ibu,
        "nama_ibu": member.nama_ibu,
        "disabilitas": _coded(codes.DISABILITAS, member.disabilitas),
    }
    for name, code_list in _CODED:
        record[name] = _coded(code_list, getattr(member, name))
    return record


def export_record(
    app: Application,
    *,
    state: str,
    kk_number: str,
    exported_at: str,
    approved_at: str | None,
    approved_by: str | None,
) -> dict[str, Any]:
    """The JSON export of ``app`` (see the module docstring)."""
    address = app.address
    desa = address.desa_code
    service = app.service
    return {
        "format": FORMAT,
        "version": VERSION,
        "application_id": app.id,
        "state": state,
        "exported_at": exported_at,
        "approved_at": approved_at,
        "approved_by": approved_by,
        "service": {
            **service.to_dict(),
            "form_code": service.sub_type.form_code,
            "label": service.label,
            "creates_family": service.creates_family,
        },
        "kk_number": kk_number,
        "applicant": {
            "nama": app.applicant.nama,
            "nik": app.applicant.nik,
            "whatsapp": app.applicant.whatsapp,
            "kk_number": app.applicant.kk_number,
        },
        "address": {
            "alamat": address.alamat,
            "rt": address.rt,
            "rw": address.rw,
            "kode_pos": address.kode_pos,
            "desa_code": desa,
            "desa": _region(desa),
            "kecamatan_code": desa[:6],
            "kecamatan": _region(desa[:6]),
            "kabupaten_code": desa[:4],
            "kabupaten": _region(desa[:4]),
            "provinsi_code": desa[:2],
            "provinsi": _region(desa[:2]),
        },
        "members": [_member(i, m) for i, m in enumerate(app.members, start=1)],
    }


def _kk_date(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%d-%m-%Y") if iso else ""


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_csv(record: dict[str, Any]) -> str:
    """The CSV export of a JSON export record (:func:`export_record`)."""
    address = record["address"]
    family = {
        "application_id": record["application_id"],
        "jenis_permohonan": record["service"]["label"],
        "no_kk": record["kk_number"],
        "alamat": address["alamat"],
        "rt": address["rt"],
        "rw": address["rw"],
        "kode_desa": address["desa_code"],
        "desa": address["desa"],
        "kecamatan": address["kecamatan"],
        "kode_pos": address["kode_pos"],
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for member in record["members"]:
        row: dict[str, Any] = {
            **family,
            "no": member["no"],
            "nik": member["nik"],
            "nama_lengkap": member["nama"],
            "tempat_lahir": member["tempat_lahir"],
            "tanggal_lahir": _kk_date(member["tanggal_lahir"]),
            "tanggal_perkawinan": _kk_date(member["tanggal_perkawinan"]),
            "no_paspor": member["no_paspor"],
            "no_kitap": member["no_kitap"],
            "nik_ayah": member["nik_ayah"],
            "nama_ayah": member["nama_ayah"],
            "nik_ibu": member["nik_ibu"],
            "nama_ibu": member["nama_ibu"],
        }
        for name in (*(n for n, _ in _CODED), "disabilitas"):
            coded = member[name]
            row[f"{name}_kode"] = coded["kode"] if coded else ""
            row[name] = coded["label"] if coded else ""
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
    return out.getvalue()
