"""The admin's pages on a real server: accounts, counter devices, the audit chain check;
and the role table of every staff page (who gets what, with or without a session)."""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

import re

import httpx
import pytest

from protocol.workflow import Role
from sync_server.app import create_app
from sync_server.clock import utc_now
from sync_server.services import accounts
from sync_server.services.access_log import entries
from tests.integration.conftest import OPERATOR_PASSWORD, SEKAYU
from tests.integration.test_pull import submitted_application
from tests.integration.test_staff_auth import _walk as walk_routes
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    STAFF,
    counter,
    operator,
    staff,
)
from tests.integration.test_staff_web import csrf_of, web_login


@pytest.fixture
def admin(server, staff) -> httpx.Client:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert web_login(http, Role.ADMIN).status_code == 303
        yield http


def test_the_admin_adds_and_disables_accounts(server, admin, staff):
    page = admin.get("/staf/admin/pengguna")
    assert page.status_code == 200 and "sri.verif" in page.text
    form = {
        "csrf": csrf_of(page),
        "username": "rina.loket",
        "full_name": "Rina Operator",
        "role": "operator",
        "kecamatan": SEKAYU,
        "password": "pendek",
    }
    short = admin.post("/staf/admin/pengguna", data=form)
    assert short.status_code == 400 and "Kata sandi minimal 8 karakter." in short.text
    assert 'value="rina.loket"' in short.text  # the form keeps what was typed

    created = admin.post("/staf/admin/pengguna", data={**form, "password": "sandi-awal-123"})
    assert created.status_code == 303
    listing = admin.get(created.headers["location"])
    assert "Akun sudah dibuat." in listing.text and "Rina Operator" in listing.text
    taken = admin.post("/staf/admin/pengguna", data={**form, "password": "sandi-awal-123"})
    assert taken.status_code == 409 and "sudah dipakai" in taken.text

    # Disabling a staff account ends the session it has open in another browser.
    with httpx.Client(base_url=server.base_url) as kabid:
        web_login(kabid, Role.KABID)
        assert kabid.get("/staf/antrean").status_code == 200
        done = admin.post(
            f"/staf/admin/pengguna/{STAFF[Role.KABID][0]}/nonaktifkan",
            data={"csrf": csrf_of(listing)},
        )
        assert done.status_code == 303
        assert kabid.get("/staf/antrean").headers["location"].startswith("/staf/masuk")
    own = admin.post(
        f"/staf/admin/pengguna/{STAFF[Role.ADMIN][0]}/nonaktifkan",
        data={"csrf": csrf_of(listing)},
    )
    assert own.status_code == 409
    unknown = admin.post(
        "/staf/admin/pengguna/tidak.ada/nonaktifkan", data={"csrf": csrf_of(listing)}
    )
    assert unknown.status_code == 404


def test_the_admin_resets_a_password_which_ends_the_sessions_and_is_audited(server, admin, staff):
    kabid_name = STAFF[Role.KABID][0]
    page = admin.get("/staf/admin/pengguna")
    assert "Atur ulang kata sandi" in page.text
    assert f'action="/staf/admin/pengguna/{kabid_name}/sandi"' in page.text
    url = f"/staf/admin/pengguna/{kabid_name}/sandi"
    form = {"csrf": csrf_of(page), "password": "sandi-baru-kabid", "password_again": "lain-lagi-1"}
    mismatch = admin.post(url, data=form)
    assert mismatch.status_code == 400 and "Kedua kata sandi tidak sama." in mismatch.text
    short = admin.post(url, data={**form, "password": "pendek", "password_again": "pendek"})
    assert short.status_code == 400 and "Kata sandi minimal 8 karakter." in short.text
    forged = admin.post(url, data={**form, "csrf": "x", "password_again": "sandi-baru-kabid"})
    assert forged.status_code == 403

    with httpx.Client(base_url=server.base_url) as kabid:
        web_login(kabid, Role.KABID)
        assert kabid.get("/staf/antrean").status_code == 200
        done = admin.post(url, data={**form, "password_again": "sandi-baru-kabid"})
        assert done.status_code == 303
        listing = admin.get(done.headers["location"])
        assert "Kata sandi sudah diatur ulang" in listing.text
        # The Kabid's open session ended; the old password is refused, the new one works.
        assert kabid.get("/staf/antrean").headers["location"].startswith("/staf/masuk")
        assert web_login(kabid, Role.KABID, "sandi-baru-kabid").status_code == 303
        kabid.cookies.clear()
        assert web_login(kabid, Role.KABID).status_code == 401

    # A reset at the console (kk-server user set-password) is on the audit page too.
    accounts.set_password(
        server.db, STAFF[Role.KEPALA_DINAS][0], "sandi-kadis-baru", actor=None,
        client_ip="cli", now=utc_now(),
    )  # fmt: skip
    audit = admin.get("/staf/admin/audit").text
    assert "Kata sandi akun diatur ulang" in audit and f"akun {kabid_name} (" in audit
    assert "Admin Dinas" in audit and "Utuh." in audit and "sandi-baru-kabid" not in audit
    assert "Konsol server (kk-server)" in audit and f"akun {STAFF[Role.KEPALA_DINAS][0]} (" in audit

    # A disabled account keeps its (unusable) password; an unknown one is not found.
    admin.post(f"/staf/admin/pengguna/{kabid_name}/nonaktifkan", data={"csrf": form["csrf"]})
    disabled = admin.post(url, data={**form, "password_again": "sandi-baru-kabid"})
    assert disabled.status_code == 409 and "sudah dinonaktifkan" in disabled.text
    unknown = admin.post(
        "/staf/admin/pengguna/tidak.ada/sandi", data={**form, "password_again": "sandi-baru-kabid"}
    )
    assert unknown.status_code == 404


def test_a_staff_member_changes_their_own_password_and_logs_in_again(server, staff):
    new = "sandi-verif-baru"
    with (
        httpx.Client(base_url=server.base_url) as here,
        httpx.Client(base_url=server.base_url) as elsewhere,
    ):
        web_login(here, Role.VERIFIKATOR)
        web_login(elsewhere, Role.VERIFIKATOR)
        page = here.get("/staf/antrean")
        assert 'href="/staf/sandi"' in page.text
        form_page = here.get("/staf/sandi")
        assert form_page.status_code == 200 and "Kata sandi sekarang" in form_page.text
        form = {"csrf": csrf_of(form_page), "old_password": OPERATOR_PASSWORD, "password": new}
        mismatch = here.post("/staf/sandi", data={**form, "password_again": "lain-lagi-1"})
        assert mismatch.status_code == 400 and "Kedua kata sandi tidak sama." in mismatch.text
        forged = here.post("/staf/sandi", data={**form, "csrf": "x", "password_again": new})
        assert forged.status_code == 403

        done = here.post("/staf/sandi", data={**form, "password_again": new})
        assert done.status_code == 303
        assert "sudah diganti" in here.get(done.headers["location"]).text
        for http in (here, elsewhere):  # every session of the account ended
            assert http.get("/staf/antrean").headers["location"].startswith("/staf/masuk")
        assert web_login(here, Role.VERIFIKATOR, new).status_code == 303

        # The current password is checked (and counted against the login throttle).
        again = here.get("/staf/sandi")
        wrong = {
            **form,
            "csrf": csrf_of(again),
            "old_password": "bukan-sandi",
            "password_again": new,
        }
        refused = here.post("/staf/sandi", data=wrong)
        assert refused.status_code == 401 and "kata sandi salah" in refused.text
        throttled = here.post("/staf/sandi", data={**wrong, "old_password": new})
        assert throttled.status_code == 429
    with server.db.read() as conn:
        [row] = [r for r in entries(conn) if r.action == "user.password_reset"]
    assert row.actor_id == staff[Role.VERIFIKATOR] and row.role == "verifikator"
    assert row.detail == f"akun {STAFF[Role.VERIFIKATOR][0]} ({row.actor_id}); 2 sesi diakhiri"


def test_the_admin_issues_an_enrollment_code_a_counter_uses_and_revokes_the_device(
    server, admin, client
):
    page = admin.get("/staf/admin/perangkat")
    answer = admin.post(
        "/staf/admin/perangkat/kode",
        data={"csrf": csrf_of(page), "kecamatan": SEKAYU, "label": "Loket 2", "hours": "2"},
    )
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    code = re.search(r'class="bigcode">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})<', answer.text)
    assert code, answer.text
    assert code.group(1) not in admin.get("/staf/admin/perangkat").text  # shown once

    from signing.keys import generate_key, public_key_b64

    enrolled = client.post(
        "/api/v1/devices/enroll",
        json={
            "code": code.group(1),
            "public_key": public_key_b64(generate_key()),
            "label": "Loket 2",
        },
    )
    assert enrolled.status_code == 201, enrolled.text
    device_id = enrolled.json()["device_id"]
    assert device_id in admin.get("/staf/admin/perangkat").text

    revoked = admin.post(f"/staf/admin/perangkat/{device_id}/cabut", data={"csrf": csrf_of(answer)})
    assert revoked.status_code == 303
    assert "dicabut" in admin.get(revoked.headers["location"]).text
    with server.db.read() as conn:
        row = conn.execute("SELECT revoked_at FROM devices WHERE device_id = ?", (device_id,))
        assert row.fetchone()["revoked_at"]
    bad = admin.post(
        "/staf/admin/perangkat/kode",
        data={"csrf": csrf_of(answer), "kecamatan": "320101", "hours": "2"},
    )
    assert bad.status_code == 400 and "bukan kecamatan di Kabupaten Musi Banyuasin" in bad.text


def test_the_audit_page_checks_the_chain_and_names_a_tampered_row(
    server, admin, client, staff, counter, operator
):
    app_id = submitted_application(counter, client, operator)
    with httpx.Client(base_url=server.base_url) as verif:
        web_login(verif, Role.VERIFIKATOR)
        verif.get(f"/staf/permohonan/{app_id}")
        verif.get(f"/staf/permohonan/{app_id}")
    page = admin.get("/staf/admin/audit")
    assert "Utuh." in page.text and "Seluruh 2 catatan" in page.text
    assert "Sri Wahyuni, S.Sos" in page.text and "halaman staf" in page.text

    with server.db.write() as conn:  # someone edits the database behind the app's back
        conn.execute("UPDATE access_log SET client_ip = '10.0.0.9' WHERE seq = 1")
    page = admin.get("/staf/admin/audit")
    assert "Rantai rusak pada catatan no. 1." in page.text


# -- who may open which page ------------------------------------------------------------------

REVIEWERS = {Role.VERIFIKATOR, Role.KABID, Role.KEPALA_DINAS}
ALL = REVIEWERS | {Role.ADMIN}
PAGES: dict[tuple[str, str], set[Role]] = {
    ("GET", "/staf/antrean"): REVIEWERS,
    ("GET", "/staf/permohonan/{application_id}"): REVIEWERS,
    ("POST", "/staf/permohonan/{application_id}/keputusan"): REVIEWERS,
    ("POST", "/staf/permohonan/{application_id}/klaim"): REVIEWERS,
    ("GET", "/staf/siak"): ALL,
    ("GET", "/staf/siak/{application_id}/ekspor"): REVIEWERS,
    ("POST", "/staf/siak/{application_id}/entri"): REVIEWERS,
    ("GET", "/staf/permohonan/{application_id}/{name}"): REVIEWERS,
    ("GET", "/staf/permohonan/{application_id}/pindaian/{scan_id}"): REVIEWERS,
    ("GET", "/staf/permohonan/{application_id}/pindaian/{scan_id}/lihat"): REVIEWERS,
    ("GET", "/staf/tte"): {Role.KEPALA_DINAS},
    ("POST", "/staf/tte"): {Role.KEPALA_DINAS},
    ("GET", "/staf/dasbor"): ALL,
    ("GET", "/staf/"): ALL,
    ("POST", "/staf/keluar"): ALL,
    ("GET", "/staf/sandi"): ALL,
    ("POST", "/staf/sandi"): ALL,
    ("GET", "/staf/admin/pengguna"): {Role.ADMIN},
    ("POST", "/staf/admin/pengguna"): {Role.ADMIN},
    ("POST", "/staf/admin/pengguna/{username}/nonaktifkan"): {Role.ADMIN},
    ("POST", "/staf/admin/pengguna/{username}/sandi"): {Role.ADMIN},
    ("GET", "/staf/admin/perangkat"): {Role.ADMIN},
    ("POST", "/staf/admin/perangkat/kode"): {Role.ADMIN},
    ("POST", "/staf/admin/perangkat/{device_id}/cabut"): {Role.ADMIN},
    ("GET", "/staf/admin/audit"): {Role.ADMIN},
}
OPEN = {("GET", "/staf/masuk"), ("POST", "/staf/masuk")}


def staff_pages() -> set[tuple[str, str]]:
    return {(m, p) for m, p in walk_routes(create_app().routes) if p.startswith("/staf/")}


def test_every_staff_page_is_in_the_role_table():
    assert staff_pages() - OPEN == set(PAGES), "add the new page to PAGES"


def test_every_page_refuses_other_roles_and_sends_strangers_to_login(server, staff):
    sessions: dict[Role, httpx.Client] = {}
    try:
        for role in ALL:
            sessions[role] = httpx.Client(base_url=server.base_url)
            web_login(sessions[role], role)
        with httpx.Client(base_url=server.base_url) as stranger:
            for (method, path), allowed in PAGES.items():
                url = path.format(
                    application_id="x", username="x", device_id="x", name="kk.pdf", scan_id="a" * 64
                )
                answer = stranger.request(method, url, data={"csrf": "x"})
                assert answer.status_code == 303, (method, path)
                assert answer.headers["location"].startswith("/staf/masuk"), (method, path)
                for role, http in sessions.items():
                    answer = http.request(method, url, data={"csrf": "x"})
                    if role in allowed:
                        assert answer.status_code != 403 or "web.csrf_invalid" in answer.text
                    else:
                        assert answer.status_code == 403, (method, path, role)
                        assert "auth.forbidden_role" in answer.text, (method, path, role)
    finally:
        for http in sessions.values():
            http.close()
