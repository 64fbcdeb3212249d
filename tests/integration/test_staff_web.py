"""The staff pages over plain HTTP (no browser) on a real uvicorn server: cookie flags, CSRF,
login refusals, role separation, the queue's search and the access log of a page view.

The walk through the SOP in a real browser is in ``test_staff_browser.py``.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from protocol.workflow import Role
from sync_server.config import ServerConfig
from sync_server.services import access_log
from tests.factories import application_dict, member_dict
from tests.integration.conftest import OPERATOR_PASSWORD, start_server
from tests.integration.test_duplicates import app_id as numbered_id
from tests.integration.test_duplicates import submitted
from tests.integration.test_pull import submitted_application
from tests.integration.test_staff_claims import claim
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    STAFF,
    counter,
    operator,
    staff,
    tokens,
)

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


def web_login(
    http: httpx.Client, role: Role, password: str = OPERATOR_PASSWORD, **fields: str
) -> httpx.Response:
    """Log in through the form (its CSRF token first), with extra form ``fields``."""
    form = http.get("/staf/masuk")
    return http.post(
        "/staf/masuk",
        data={"csrf": csrf_of(form), "username": STAFF[role][0], "password": password, **fields},
    )


@pytest.fixture
def browser_like(server) -> Iterator[httpx.Client]:
    """A cookie-keeping client that does not follow redirects (so the tests see them)."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


def test_login_sets_a_strict_httponly_session_cookie_and_lands_on_the_role_page(
    browser_like, staff
):
    answer = web_login(browser_like, Role.VERIFIKATOR)
    assert answer.status_code == 303 and answer.headers["location"] == "/staf/antrean"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("kk_staf="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/staf", "samesite=strict"} <= flags
    assert "secure" not in flags  # plain HTTP on loopback, nothing configured
    assert browser_like.get("/staf/antrean").status_code == 200

    with httpx.Client(base_url=browser_like.base_url) as admin:
        assert web_login(admin, Role.ADMIN).headers["location"] == "/staf/admin/pengguna"


def test_the_cookie_is_secure_when_configured_behind_tls(tmp_path, staff, server):
    config = ServerConfig(data_dir=server.config.data_dir, web_cookie_secure=True)
    secure = start_server(config)
    try:
        with httpx.Client(base_url=secure.base_url) as http:
            form = http.get("/staf/masuk")
            assert "secure" in form.headers["set-cookie"].lower()
            # A browser sends a Secure cookie only over HTTPS: send it by hand on loopback.
            answer = http.post(
                "/staf/masuk",
                data={
                    "csrf": csrf_of(form),
                    "username": STAFF[Role.KABID][0],
                    "password": OPERATOR_PASSWORD,
                },
                headers={"Cookie": f"kk_csrf={csrf_of(form)}"},
            )
        assert answer.status_code == 303
        cookie = next(c for c in answer.headers.get_list("set-cookie") if "kk_staf=" in c)
        assert "secure" in cookie.lower()
    finally:
        secure.stop()


def test_forms_without_the_csrf_token_are_refused(browser_like, staff):
    browser_like.get("/staf/masuk")
    forged = browser_like.post(
        "/staf/masuk",
        data={"csrf": "x" * 43, "username": STAFF[Role.KABID][0], "password": OPERATOR_PASSWORD},
    )
    assert forged.status_code == 403
    assert "Formulir kedaluwarsa" in forged.text and "kk_staf" not in forged.headers.get(
        "set-cookie", ""
    )

    assert web_login(browser_like, Role.KABID).status_code == 303
    queue = browser_like.get("/staf/antrean")
    logout = browser_like.post("/staf/keluar", data={"csrf": "bukan-token"})
    assert logout.status_code == 403 and "text/html" in logout.headers["content-type"]
    assert browser_like.get("/staf/antrean").status_code == 200  # still logged in
    done = browser_like.post("/staf/keluar", data={"csrf": csrf_of(queue)})
    assert done.status_code == 303 and done.headers["location"] == "/staf/masuk"
    # The session itself ended on the server, not only the cookie in this browser.
    assert browser_like.get("/staf/antrean").headers["location"].startswith("/staf/masuk")


def test_login_refusals_are_shown_on_the_form_in_indonesian(browser_like, staff):
    wrong = web_login(browser_like, Role.KEPALA_DINAS, password="bukan-sandinya")
    assert wrong.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in wrong.text
    assert 'value="kadis"' in wrong.text  # the username stays filled in
    operator_at_centre = browser_like.post(
        "/staf/masuk",
        data={
            "csrf": csrf_of(browser_like.get("/staf/masuk")),
            "username": "budi",
            "password": OPERATOR_PASSWORD,
        },
    )
    assert operator_at_centre.status_code in (401, 403)


def test_pages_need_a_session_and_come_back_after_login(browser_like, staff):
    away = browser_like.get("/staf/antrean")
    assert away.status_code == 303
    assert away.headers["location"] == "/staf/masuk?lanjut=/staf/antrean"
    assert 'name="lanjut" value="/staf/antrean"' in browser_like.get(away.headers["location"]).text
    answer = web_login(browser_like, Role.KABID, lanjut="/staf/dasbor")
    assert answer.headers["location"] == "/staf/dasbor"
    # Only our own pages: an outside address is ignored (no open redirect).
    browser_like.cookies.clear()
    answer = web_login(browser_like, Role.KABID, lanjut="//evil.example/staf/")
    assert answer.headers["location"] == "/staf/antrean"


def test_the_admin_sees_no_queue_and_no_personal_data(browser_like, staff, counter, operator):
    app_id = submitted_application(counter, browser_like, operator)
    web_login(browser_like, Role.ADMIN)
    for path in ("/staf/antrean", f"/staf/permohonan/{app_id}"):
        page = browser_like.get(path)
        assert page.status_code == 403, path
        assert "tidak berwenang" in page.text and "Ahmad Fauzi" not in page.text


def test_queue_search_and_a_page_view_lands_in_the_access_log(
    server, browser_like, staff, counter, operator
):
    app_id = submitted_application(counter, browser_like, operator)
    web_login(browser_like, Role.VERIFIKATOR)
    queue = browser_like.get("/staf/antrean")
    assert "Ahmad Fauzi" in queue.text and "target 5 mnt" in queue.text
    for found in ("fauzi", "1606011403", app_id[:8]):
        assert "Ahmad Fauzi" in browser_like.get("/staf/antrean", params={"q": found}).text
    for missing in ("siti", "3206", "%", "_"):
        page = browser_like.get("/staf/antrean", params={"q": missing})
        assert "Ahmad Fauzi" not in page.text and "0 permohonan" in page.text, missing

    page = browser_like.get(f"/staf/permohonan/{app_id}")
    assert page.status_code == 200
    for shown in ("RINA MARLINA", "ISTRI", "Formulir F-1.02", "Ajukan ke verifikator"):
        assert shown in page.text
    with server.db.read() as conn:
        [record] = access_log.entries(conn, application_id=app_id)
    assert (record.action, record.actor_id, record.detail) == (
        access_log.READ,
        staff[Role.VERIFIKATOR],
        "halaman staf",
    )

    again = browser_like.get(f"/staf/permohonan/{app_id}").text
    assert "Log akses berkas ini (2)" in again and "halaman staf" in again

    unknown = browser_like.get("/staf/permohonan/tidak-ada")
    assert unknown.status_code == 404 and "tidak tercatat" in unknown.text


def test_the_queue_and_the_file_show_who_holds_it_and_duplicate_niks(
    browser_like, client, staff, tokens, counter, operator
):
    first = submitted(counter, client, operator, application_dict(id=numbered_id(1)))
    # Another family's application with the first one's wife, under another name.
    wife = member_dict(1, nama="RINA MARLINA BINTI USMAN")
    head = member_dict(0, nik="1606011403950005", nama="JOKO SUSILO")
    second = submitted(
        counter, client, operator, application_dict(id=numbered_id(2), members=[head, wife])
    )
    assert claim(client, tokens[Role.VERIFIKATOR], first).status_code == 200
    holder = STAFF[Role.VERIFIKATOR][1]

    web_login(browser_like, Role.VERIFIKATOR)
    queue = browser_like.get("/staf/antrean").text
    assert queue.count(f"Dikerjakan: {holder}") == 1
    assert queue.count("1 NIK ganda") == 2

    held = browser_like.get(f"/staf/permohonan/{first}").text
    assert f"Sedang dikerjakan oleh <strong>{holder}</strong>" in held
    flagged = browser_like.get(f"/staf/permohonan/{second}").text
    assert "Sedang dikerjakan" not in flagged
    assert "Peringatan NIK ganda (1)" in flagged
    assert "RINA MARLINA BINTI USMAN" in flagged and "atas nama RINA MARLINA," in flagged
    assert "permohonan lain yang masih berjalan" in flagged and first in flagged


def test_a_decision_writes_nothing_until_confirmed_and_a_stale_one_is_refused(
    server, browser_like, staff, counter, operator
):
    app_id = submitted_application(counter, browser_like, operator)
    web_login(browser_like, Role.VERIFIKATOR)
    page = browser_like.get(f"/staf/permohonan/{app_id}")
    form = {"csrf": csrf_of(page), "action": "verify", "expected_state": "submitted"}
    path = f"/staf/permohonan/{app_id}/keputusan"

    confirm = browser_like.post(path, data=form)
    assert confirm.status_code == 200 and "Konfirmasi: Validasi berkas" in confirm.text
    assert server_state(server, app_id) == "submitted"  # nothing yet
    assert (
        browser_like.post(path, data={**form, "csrf": "palsu", "konfirmasi": "ya"}).status_code
        == 403
    )
    assert server_state(server, app_id) == "submitted"

    done = browser_like.post(path, data={**form, "konfirmasi": "ya"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/staf/antrean?selesai=verify&id={app_id}"
    assert server_state(server, app_id) == "verified"

    # The same form sent again (another tab, a double tap): the state moved on.
    again = browser_like.post(path, data={**form, "konfirmasi": "ya"})
    assert again.status_code == 409 and "text/html" in again.headers["content-type"]
    assert server_state(server, app_id) == "verified"

    with httpx.Client(base_url=server.base_url) as kabid:
        web_login(kabid, Role.KABID)
        page = kabid.get(f"/staf/permohonan/{app_id}")
        wrong = kabid.post(
            path,
            data={"csrf": csrf_of(page), "action": "sign", "expected_state": "verified"},
        )
        assert wrong.status_code == 409 and "tidak dapat dilakukan" in wrong.text
        unknown_item = kabid.post(
            path,
            data={
                "csrf": csrf_of(page),
                "action": "return",
                "expected_state": "verified",
                "items": "bukan_butir",
            },
        )
        assert unknown_item.status_code == 422 and "tidak dikenal" in unknown_item.text
    assert server_state(server, app_id) == "verified"


def server_state(server, app_id: str) -> str:
    with server.db.read() as conn:
        row = conn.execute(
            "SELECT state FROM applications WHERE application_id = ?", (app_id,)
        ).fetchone()
    return row["state"]
