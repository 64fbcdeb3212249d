"""The SIAK export's JSON and CSV forms of the sample family."""

from __future__ import annotations

import csv
import io

from protocol.application import Application
from sync_server.schemas import SiakExport
from sync_server.services.siak_format import CSV_COLUMNS, export_csv, export_record
from tests.factories import application_dict, member_dict


def _record(**changes):
    return export_record(
        Application.from_dict(application_dict(**changes)),
        state="approved",
        kk_number="",
        exported_at="2026-11-25T03:00:00.000Z",
        approved_at="2026-11-25T02:55:00.000Z",
        approved_by="Hendra Gunawan",
    )


def test_the_json_record_follows_its_documented_schema_with_codes_and_labels():
    record = _record()
    SiakExport.model_validate(record)  # the schema the API documents
    wife = record["members"][1]
    assert wife["jenis_kelamin"] == {"kode": 2, "label": "PEREMPUAN"}
    assert wife["shdk"] == {"kode": 3, "label": "ISTRI"}
    assert wife["disabilitas"] is None
    assert record["address"]["desa_code"] == "1606011009"
    assert record["address"]["kabupaten_code"] == "1606"
    assert record["address"]["kabupaten"].upper().endswith("MUSI BANYUASIN")


def test_the_csv_has_one_row_per_member_and_kk_dates():
    rows = list(csv.reader(io.StringIO(export_csv(_record()))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + 3
    by_name = dict(zip(CSV_COLUMNS, rows[3], strict=True))
    assert by_name["nama_lengkap"] == "MUHAMMAD RIZKI"
    assert by_name["tanggal_lahir"] == "05-01-2021"
    assert (by_name["agama_kode"], by_name["disabilitas_kode"]) == ("1", "")


def test_a_cell_a_spreadsheet_would_run_is_neutralised():
    record = _record(members=[member_dict(0, tempat_lahir="=HYPERLINK(1)")])
    [_, row] = list(csv.reader(io.StringIO(export_csv(record))))
    assert dict(zip(CSV_COLUMNS, row, strict=True))["tempat_lahir"] == "'=HYPERLINK(1)"
