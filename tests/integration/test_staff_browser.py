"""The staff pages in a real browser (Debian's chromium driven by Playwright) at a 360x740
phone and a desktop viewport, against a real uvicorn server fed by a counter's signed push.

Screenshots of the main pages go to ``$KK_WEB_SCREENSHOTS`` when set (to look at them),
else to the test's tmp dir.
"""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from protocol.workflow import Role
from tests.integration.conftest import OPERATOR_PASSWORD
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
