"""Real-looking applications for tests: a young family in Sekayu, Musi Banyuasin."""

from __future__ import annotations

import copy
from typing import Any

# NIKs of Kecamatan Sekayu (160601); women carry day + 40.
HEAD_NIK = "1606011403950002"  # laki-laki, lahir 14-03-1995
WIFE_NIK = "1606016108970003"  # perempuan, lahir 21-08-1997
CHILD_NIK = "1606010501210001"  # laki-laki, lahir 05-01-2021

_BASE: dict[str, Any] = {
    "id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a11",
    "service": {"service_type": "BARU", "sub_type": 1, "peristiwa": None},
    "applicant": {
        "nama": "Ahmad Fauzi",
        "nik": HEAD_NIK,
        "whatsapp": "0812-7788-1234",
        "kk_number": "",
    },
    "kk_number": "",
    "address": {
        "alamat": "Jl. Merdeka No. 12",
        "rt": "003",
        "rw": "001",
        "desa_code": "1606011009",
        "kode_pos": "30711",
    },
    "members": [
        {
            "nama": "AHMAD FAUZI",
            "nik": HEAD_NIK,
            "jenis_kelamin": 1,
            "tempat_lahir": "SEKAYU",
            "tanggal_lahir": "1995-03-14",
            "agama": 1,
            "pendidikan": 8,
            "pekerjaan": 15,
            "golongan_darah": 11,
            "status_perkawinan": 5,
            "tanggal_perkawinan": "2020-02-10",
            "shdk": 1,
            "kewarganegaraan": 1,
            "nama_ayah": "SUPARMAN",
            "nama_ibu": "SITI AMINAH",
        },
        {
            "nama": "RINA MARLINA",
            "nik": WIFE_NIK,
            "jenis_kelamin": 2,
            "tempat_lahir": "PALEMBANG",
            "tanggal_lahir": "1997-08-21",
            "agama": 1,
            "pendidikan": 5,
            "pekerjaan": 2,
            "golongan_darah": 13,
            "status_perkawinan": 5,
            "tanggal_perkawinan": "2020-02-10",
            "shdk": 3,
            "kewarganegaraan": 1,
            "nama_ayah": "DARMAWAN",
            "nama_ibu": "MARYATI",
        },
        {
            "nama": "MUHAMMAD RIZKI",
            "nik": CHILD_NIK,
            "jenis_kelamin": 1,
            "tempat_lahir": "SEKAYU",
            "tanggal_lahir": "2021-01-05",
            "agama": 1,
            "pendidikan": 1,
            "pekerjaan": 1,
            "golongan_darah": 13,
            "status_perkawinan": 1,
            "shdk": 4,
            "kewarganegaraan": 1,
            "nama_ayah": "AHMAD FAUZI",
            "nama_ibu": "RINA MARLINA",
            "nik_ayah": HEAD_NIK,
            "nik_ibu": WIFE_NIK,
        },
    ],
    "attached_documents": ["f102", "buku_nikah", "kk_lama"],
    "overrides": [],
}


def application_dict(**changes: Any) -> dict[str, Any]:
    """A deep copy of the sample application with top-level keys replaced."""
    data = copy.deepcopy(_BASE)
    data.update(changes)
    return data


def member_dict(index: int, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(_BASE["members"][index])
    data.update(changes)
    return data
