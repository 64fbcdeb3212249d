"""The SIAK page (``/staf/siak``) on a real server: what still has to go into SIAK, the
export downloads (the API's own JSON and CSV), recording the entry after a confirmation,
and the admin's read-only status without personal data."""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

import csv
import io

import httpx

from protocol.workflow import Role
from sync_server.services.access_log import entries
from sync_server.services.siak_format import CSV_COLUMNS
from tests.factories import HEAD_NIK, application_dict
from tests.integration.test_duplicates import app_id as numbered_id
from tests.integration.test_duplicates import submitted
from tests.integration.test_siak import approved, export
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    STAFF,
    counter,
    operator,
    staff,
    tokens,
)
from tests.integration.test_staff_web import browser_like, csrf_of, web_login  # noqa: F401


def test_pending_export_downloads_and_a_confirmed_entry_leave_the_list(
    server, client, browser_like, staff, tokens, counter, operator
):
    app_id = approved(client, tokens, counter, operator)
    web_login(browser_like, Role.KABID)

    page = browser_like.get("/staf/siak")
    assert page.status_code == 200
    assert "<strong>1</strong> permohonan sudah diverifikasi Kabid" in page.text
    assert f'for="ref-{app_id}">Referensi SIAK</label>' in page.text
    assert 'href="/staf/siak"' in page.text  # in the menu

    as_json = browser_like.get(f"/staf/siak/{app_id}/ekspor", params={"format": "json"})
    assert as_json.status_code == 200
    assert f'attachment; filename="siak-{app_id}.json"' == as_json.headers["content-disposition"]
    assert as_json.headers["cache-control"] == "no-store"
    api = export(client, tokens[Role.KABID], app_id).json()
    record = as_json.json()
    assert {k: v for k, v in record.items() if k != "exported_at"} == {
        k: v for k, v in api.items() if k != "exported_at"
    }
    as_csv = browser_like.get(f"/staf/siak/{app_id}/ekspor", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert list(rows[0]) == list(CSV_COLUMNS) and HEAD_NIK in as_csv.text

    path = f"/staf/siak/{app_id}/entri"
    bad = browser_like.post(path, data={"csrf": csrf_of(page), "referensi": "<script>"})
    assert bad.status_code == 400 and "text/html" in bad.headers["content-type"]
    form = {"csrf": csrf_of(page), "referensi": " SIAK-1606-000123 "}
    confirm = browser_like.post(path, data=form)
    assert confirm.status_code == 200 and "Konfirmasi entri SIAK" in confirm.text
    assert "<strong>SIAK-1606-000123</strong>" in confirm.text
    with server.db.read() as conn:  # nothing written before "Ya"
        assert conn.execute("SELECT count(*) FROM siak_entries").fetchone()[0] == 0
    forged = browser_like.post(path, data={**form, "csrf": "x", "konfirmasi": "ya"})
    assert forged.status_code == 403

    done = browser_like.post(path, data={**form, "konfirmasi": "ya"})
    assert done.status_code == 303 and done.headers["location"] == f"/staf/siak?tercatat={app_id}"
    after = browser_like.get(done.headers["location"]).text
    assert f"Entri SIAK permohonan {app_id} sudah tercatat." in after
    assert "<strong>0</strong> permohonan" in after and "<strong>1</strong> sudah tercatat" in after
    assert (
        "Sudah dientri ke SIAK (referensi SIAK-1606-000123)"
        in browser_like.get(f"/staf/permohonan/{app_id}").text
    )

    again = browser_like.post(path, data={**form, "konfirmasi": "ya"})
    assert again.status_code == 409 and "sudah tercatat dientri ke SIAK" in again.text
    with server.db.read() as conn:
        actions = [e.action for e in entries(conn, application_id=app_id)]
    assert actions.count("application.exported") == 3  # two page downloads, one API export
    assert actions.count("application.siak_entered") == 1


def test_not_yet_approved_is_refused_and_the_admin_sees_status_without_names(
    server, client, browser_like, staff, tokens, counter, operator
):
    app_id = approved(client, tokens, counter, operator)
    web_login(browser_like, Role.VERIFIKATOR)
    page = browser_like.get("/staf/siak")
    confirm = {"csrf": csrf_of(page), "referensi": "SIAK-9", "konfirmasi": "ya"}
    assert browser_like.post(f"/staf/siak/{app_id}/entri", data=confirm).status_code == 303
    waiting = submitted(counter, client, operator, application_dict(id=numbered_id(2)))
    early = browser_like.post(f"/staf/siak/{waiting}/entri", data=confirm)
    assert early.status_code == 409 and "hanya permohonan yang sudah diverifikasi" in early.text
    assert browser_like.get(f"/staf/siak/{waiting}/ekspor").status_code == 409

    with httpx.Client(base_url=server.base_url) as admin:
        web_login(admin, Role.ADMIN)
        status = admin.get("/staf/siak")
        assert status.status_code == 200
        assert "<strong>0</strong> permohonan" in status.text
        assert "SIAK-9" in status.text and STAFF[Role.VERIFIKATOR][1] in status.text
        assert "Catat entri SIAK" not in status.text and HEAD_NIK not in status.text
        assert "Unduh JSON" not in status.text
        refused = admin.get(f"/staf/siak/{app_id}/ekspor")
        assert refused.status_code == 403 and "auth.forbidden_role" in refused.text
