"""The staff pages in a real browser (Debian's chromium driven by Playwright) at a 360x740
phone and a desktop viewport, against a real uvicorn server fed by a counter's signed push.

Screenshots of the main pages go to ``$KK_WEB_SCREENSHOTS`` when set (to look at them),
else to the test's tmp dir.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from protocol.application import Application
from protocol.workflow import Action, Role
from sync_server.clock import utc_now
from sync_server.services.decisions import record_decision
from tests.factories import application_dict
from tests.integration.conftest import OPERATOR_PASSWORD, TTE_PASSPHRASE, tte_config
from tests.integration.test_pull import submitted_application
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    STAFF,
    counter,
    operator,
    staff,
)
from tests.support.browser import DESKTOP, PHONE, launch, login, new_page


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser for every test here. Module-scoped, not session-scoped: Playwright's sync
    API keeps an event loop marked running in this thread while it is open, which would
    break every later test that calls asyncio.run()."""
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture
def server_config(tmp_path, demo_pki):
    """The server signs KKs with the demo PKI (the Kepala Dinas types the passphrase)."""
    return tte_config(tmp_path, demo_pki)


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("KK_WEB_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def snap(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def fits_the_screen(page: Page) -> None:
    """Nothing wider than the viewport: no sideways scrolling on a phone."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the screen"


def open_as(browser: Browser, base_url: str, role: Role, viewport: dict[str, int]) -> Page:
    page = new_page(browser, base_url, viewport)
    login(page, STAFF[role][0], OPERATOR_PASSWORD)
    return page


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_verifikator_finds_and_reads_a_pushed_application(
    browser, server, client, staff, counter, operator, shots, viewport
):
    app_id = submitted_application(counter, client, operator)
    name = "phone" if viewport is PHONE else "desktop"
    page = new_page(browser, server.base_url, viewport)
    page.goto("/staf/antrean")
    expect(page).to_have_url(f"{server.base_url}/staf/masuk?lanjut=/staf/antrean")
    snap(page, shots, f"{name}-login")
    page.get_by_label("Nama pengguna").fill(STAFF[Role.VERIFIKATOR][0])
    page.get_by_label("Kata sandi").fill(OPERATOR_PASSWORD)
    page.keyboard.press("Enter")  # the keyboard alone logs in

    expect(page.get_by_role("heading", level=1)).to_have_text("Antrean Verifikator/Sub Koord")
    expect(page.get_by_text("target 5 mnt")).to_be_visible()
    page.get_by_label("Cari nama pemohon, NIK atau nomor permohonan").fill("fauzi")
    page.get_by_role("button", name="Cari").click()
    fits_the_screen(page)
    snap(page, shots, f"{name}-queue")

    page.get_by_role("link", name="Ahmad Fauzi").click()
    expect(page).to_have_url(f"{server.base_url}/staf/permohonan/{app_id}")
    expect(page.get_by_role("heading", name="Anggota keluarga (3)")).to_be_visible()
    expect(page.get_by_text("RINA MARLINA", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Checklist persyaratan")).to_be_visible()
    fits_the_screen(page)
    snap(page, shots, f"{name}-application")
    page.context.close()


def decide_in_page(page: Page, button: str, confirm: str, passphrase: str | None = None) -> None:
    """Press a decision button, check the confirmation page, confirm."""
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Konfirmasi")
    if passphrase is not None:
        page.get_by_label("Frasa sandi sertifikat TTE").fill(passphrase)
    page.get_by_role("button", name=confirm).click()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_sop_from_a_pushed_application_to_a_signed_decision_with_a_return(
    browser, server, client, staff, counter, operator, shots, viewport
):
    name = "phone" if viewport is PHONE else "desktop"
    app_id = submitted_application(counter, client, operator)

    # Verifikator: a return without any reason is refused on the spot, with reasons it goes.
    verif = open_as(browser, server.base_url, Role.VERIFIKATOR, viewport)
    verif.get_by_role("link", name="Ahmad Fauzi").click()
    verif.get_by_role("button", name="Kembalikan ke operator", exact=True).click()
    expect(verif.get_by_role("alert")).to_contain_text("memerlukan alasan")
    verif.get_by_role("link", name="Kembali", exact=True).click()
    verif.get_by_label("Foto/pindaian dokumen tidak terbaca atau terpotong").check()
    verif.get_by_label("Penjelasan").fill("Halaman 2 buku nikah terpotong.")
    snap(verif, shots, f"{name}-return-form")
    verif.get_by_role("button", name="Kembalikan ke operator", exact=True).click()
    expect(verif.get_by_text("Halaman 2 buku nikah terpotong.")).to_be_visible()
    fits_the_screen(verif)
    snap(verif, shots, f"{name}-confirm-return")
    verif.get_by_role("button", name="Ya, kembalikan ke operator").click()
    expect(verif.get_by_role("status")).to_contain_text("dikembalikan ke operator")
    expect(verif.get_by_text("0 permohonan.")).to_be_visible()

    # The counter receives the return with its reasons, fixes and resubmits.
    counter.pull(client)
    [returned] = counter.store.decisions(app_id)
    assert returned.reasons.items == ("dokumen_tidak_terbaca",)
    assert returned.reasons.text == "Halaman 2 buku nikah terpotong."
    counter.counter.resubmit(app_id, operator_id=operator)
    assert [r["status"] for r in counter.push(client)] == ["applied"]

    verif.reload()
    verif.get_by_role("link", name="Ahmad Fauzi").click()
    expect(verif.get_by_text("Halaman 2 buku nikah terpotong.")).to_be_visible()  # history
    decide_in_page(verif, "Validasi berkas", "Ya, validasi berkas")
    expect(verif.get_by_role("status")).to_contain_text("diteruskan ke Kabid")

    kabid = open_as(browser, server.base_url, Role.KABID, viewport)
    expect(kabid.get_by_role("button", name="Ambil berkas")).to_be_visible()
    fits_the_screen(kabid)  # the queue, with its "Ambil berkas" buttons
    kabid.get_by_role("link", name="Ahmad Fauzi").click()
    kabid.get_by_role("button", name="Ambil berkas").click()
    expect(kabid.get_by_role("status")).to_contain_text("sekarang Anda kerjakan")
    expect(kabid.get_by_role("button", name="Lepaskan")).to_be_visible()
    decide_in_page(kabid, "Verifikasi dan setujui", "Ya, verifikasi dan setujui")
    expect(kabid.get_by_role("status")).to_contain_text("diteruskan ke Kepala Dinas")
    # SIAK: the approved file waits for its entry; the reference is recorded after "Ya".
    kabid.get_by_role("link", name="SIAK", exact=True).click()
    expect(kabid.get_by_role("heading", level=1)).to_have_text("Entri SIAK")
    fits_the_screen(kabid)
    kabid.get_by_label("Referensi SIAK").fill("SIAK-1606-000001")
    kabid.get_by_role("button", name="Catat entri SIAK").click()
    kabid.get_by_role("button", name="Ya, catat entri SIAK").click()
    expect(kabid.get_by_role("status")).to_contain_text("sudah tercatat")
    snap(kabid, shots, f"{name}-siak")

    kadis = open_as(browser, server.base_url, Role.KEPALA_DINAS, viewport)
    kadis.get_by_role("link", name="Ahmad Fauzi").click()
    decide_in_page(kadis, "Tanda tangani (TTE)", "Ya, tanda tangani (tte)", "salah-sandi")
    expect(kadis.get_by_role("alert")).to_contain_text("frasa sandi")
    kadis.get_by_role("link", name="Kembali", exact=True).click()
    decide_in_page(kadis, "Tanda tangani (TTE)", "Ya, tanda tangani (tte)", TTE_PASSPHRASE)
    expect(kadis.get_by_role("status")).to_contain_text("sudah ditandatangani")
    snap(kadis, shots, f"{name}-signed")

    with server.db.read() as conn:
        state = conn.execute(
            "SELECT state FROM applications WHERE application_id = ?", (app_id,)
        ).fetchone()["state"]
    assert state == "signed"
    with server.db.read() as conn:
        assert conn.execute("SELECT count(*) FROM kk_documents").fetchone()[0] == 1
    counter.pull(client)
    assert counter.store.get_application(app_id).state.value == "signed"

    kadis.get_by_role("link", name="Dasbor SLA").click()
    expect(kadis.get_by_role("heading", level=1)).to_have_text("Dasbor SLA")
    expect(kadis.get_by_role("img", name="Pengembalian per alasan")).to_be_visible()
    kadis.get_by_role("link", name="Semua").click()
    fits_the_screen(kadis)
    snap(kadis, shots, f"{name}-dashboard")
    for page in (verif, kabid, kadis):
        page.context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_admin_manages_accounts_and_devices_and_checks_the_audit_chain(
    browser, server, staff, shots, viewport
):
    name = "phone" if viewport is PHONE else "desktop"
    admin = open_as(browser, server.base_url, Role.ADMIN, viewport)
    expect(admin.get_by_role("heading", level=1)).to_have_text("Pengguna dan operator")
    admin.get_by_label("Nama pengguna").fill("wati.loket")
    admin.get_by_label("Nama lengkap").fill("Wati Lestari")
    admin.get_by_label("Peran").select_option(label="Operator Online SIAK")
    admin.get_by_label("Kecamatan (hanya untuk operator)").select_option(label="Sekayu")
    admin.get_by_label("Kata sandi awal").fill("sandi-awal-123")
    admin.get_by_role("button", name="Buat akun").click()
    expect(admin.get_by_role("status")).to_have_text("Akun sudah dibuat.")
    # The keyboard opens the confirmation.
    admin.get_by_text("Atur ulang kata sandi wati.loket", exact=True).press("Enter")
    reset = admin.locator('form[action="/staf/admin/pengguna/wati.loket/sandi"]')
    expect(reset).to_contain_text("Loket kecamatannya menerima sandi baru")
    reset.get_by_label("Kata sandi baru", exact=True).fill("sandi-wati-baru")
    reset.get_by_label("Ulangi kata sandi baru", exact=True).fill("sandi-wati-baru")
    reset.get_by_role("button", name="Atur ulang sandi wati.loket").click()
    expect(admin.get_by_role("status")).to_contain_text("Kata sandi sudah diatur ulang")
    admin.get_by_text("Nonaktifkan wati.loket", exact=True).press("Enter")
    admin.get_by_role("button", name="Ya, nonaktifkan wati.loket").click()
    expect(admin.get_by_role("status")).to_contain_text("dinonaktifkan")
    fits_the_screen(admin)
    snap(admin, shots, f"{name}-admin-users")

    admin.get_by_role("link", name="Perangkat loket").click()
    admin.get_by_label("Label perangkat").fill("Loket 1 Sekayu")
    admin.get_by_role("button", name="Buat kode").click()
    expect(admin.locator(".bigcode")).to_have_text(
        re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")
    )
    fits_the_screen(admin)
    snap(admin, shots, f"{name}-admin-devices")

    admin.get_by_role("link", name="Audit").click()
    expect(admin.get_by_role("status")).to_contain_text("Utuh.")
    fits_the_screen(admin)
    snap(admin, shots, f"{name}-admin-audit")
    admin.context.close()


def approved_applications(server, client, counter, operator, staff, count: int) -> list[str]:
    """``count`` applications pushed by the counter, validated and approved."""
    counter.pull(client)
    ids = []
    for _ in range(count):
        app = Application.from_dict(application_dict(id=str(uuid.uuid4())))
        counter.counter.create_application(app, operator_id=operator)
        counter.counter.submit(app.id, operator_id=operator)
        ids.append(app.id)
    assert {r["status"] for r in counter.push(client)} == {"applied"}
    for app_id in ids:
        for action, role in ((Action.VERIFY, Role.VERIFIKATOR), (Action.APPROVE, Role.KABID)):
            record_decision(
                server.db,
                application_id=app_id,
                action=action,
                role=role,
                actor_id=staff[role],
                actor_name=STAFF[role][1],
                reasons=None,
                now=utc_now(),
            )
    return ids


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_kepala_dinas_signs_a_batch_with_one_passphrase_and_sees_the_progress(
    browser, server, client, staff, counter, operator, shots, viewport
):
    name = "phone" if viewport is PHONE else "desktop"
    ids = approved_applications(server, client, counter, operator, staff, 3)
    kadis = open_as(browser, server.base_url, Role.KEPALA_DINAS, viewport)
    kadis.get_by_role("link", name="TTE massal", exact=True).click()
    expect(kadis.get_by_role("group", name="3 permohonan menunggu TTE")).to_be_visible()
    kadis.get_by_role("link", name="Pilih semua").click()
    for box in kadis.get_by_role("checkbox").all():
        expect(box).to_be_checked()
    fits_the_screen(kadis)
    snap(kadis, shots, f"{name}-tte-batch")

    kadis.get_by_label("Frasa sandi sertifikat TTE").fill("bukan-frasa-sandinya")
    kadis.get_by_role("button", name="Tanda tangani yang dipilih").click()
    expect(kadis.get_by_role("alert")).to_contain_text("frasa sandi")
    assert signed_count(server) == 0  # a wrong passphrase signs nothing

    kadis.goto("/staf/tte?semua=1")
    # Meanwhile another session signs the first one: the batch reports it and goes on.
    with httpx.Client(base_url=server.base_url) as api:
        token = api.post(
            "/api/v1/auth/login",
            json={"username": STAFF[Role.KEPALA_DINAS][0], "password": OPERATOR_PASSWORD},
        ).json()["token"]
        answer = api.post(
            "/api/v1/tte/sign-batch",
            json={"application_ids": ids[:1], "passphrase": TTE_PASSPHRASE},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
    kadis.get_by_label("Frasa sandi sertifikat TTE").fill(TTE_PASSPHRASE)
    kadis.get_by_role("button", name="Tanda tangani yang dipilih").click()
    expect(kadis.get_by_role("status")).to_have_text("Selesai: 2 ditandatangani, 1 tidak.")
    expect(kadis.locator("ol.progress li.ok")).to_have_count(2)
    expect(kadis.locator("ol.progress li").first).to_contain_text("1/3")
    fits_the_screen(kadis)
    snap(kadis, shots, f"{name}-tte-progress")
    assert signed_count(server) == 3
    kadis.context.close()


def signed_count(server) -> int:
    with server.db.read() as conn:
        return conn.execute("SELECT count(*) FROM applications WHERE state = 'signed'").fetchone()[
            0
        ]


def test_a_scan_opens_fitted_to_a_phone_and_zooms_to_full_size(
    browser, server, client, staff, shots
):
    from tests.integration.test_scan_upload import APP_ID, chunk
    from tests.integration.test_scan_upload import Counter as ScanCounter
    from tests.support.scan_samples import jpeg_scan

    scans = ScanCounter(server, client)
    photo_id, blob = scans.attach(jpeg_scan(seed=5), document="buku_nikah")
    chunk(client, scans.device, photo_id, 0, blob)
    page = open_as(browser, server.base_url, Role.VERIFIKATOR, PHONE)
    page.goto(f"/staf/permohonan/{APP_ID}")
    page.get_by_role("link", name="Lihat Buku Nikah").click()
    image = page.get_by_role("img", name=re.compile("Pindaian dokumen pemohon"))
    expect(image).to_be_visible()
    fitted = image.bounding_box()
    assert fitted and fitted["width"] <= PHONE["width"]
    fits_the_screen(page)
    snap(page, shots, "phone-scan")
    page.get_by_role("link", name="Perbesar (ukuran asli)").click()
    expect(page.get_by_role("link", name="Sesuaikan layar")).to_be_visible()
    page.wait_for_function("document.querySelector('.scanview img').naturalWidth > 0")
    natural = page.evaluate("document.querySelector('.scanview img').naturalWidth")
    assert natural > PHONE["width"]
    assert page.get_by_role("img").bounding_box()["width"] == natural
    page.context.close()
