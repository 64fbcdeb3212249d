"""Demo data for ``kk-tte sample``: a young family in Kelurahan Kayu Ara, Sekayu (fictitious).

The test suite's factories build on this family too (``tests/factories.py``).
"""

from __future__ import annotations

from typing import Any

SAMPLE_APPLICATION: dict[str, Any] = {
    "id": "0b5f1a52-7a0e-4d3e-9a55-2f1c0c9e8a11",
    "service": {"service_type": "BARU", "sub_type": 1, "peristiwa": None},
    "applicant": {
        "nama": "Ahmad Fauzi",
        "nik": "1606011403950002",
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
            "nik": "1606011403950002",
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
            "nik": "1606016108970003",
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
            "nik": "1606010501210001",
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
            "nik_ayah": "1606011403950002",
            "nik_ibu": "1606016108970003",
        },
    ],
    "attached_documents": ["f102", "buku_nikah", "kk_lama"],
    "overrides": [],
}
