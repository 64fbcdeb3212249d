"""Playwright on Debian's chromium (never a downloaded browser), for the staff page tests.

``make system-deps`` installs ``chromium`` when it is missing; the tests fail (never skip)
without it. One browser per test session; each test opens its own contexts (cookie jars).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

__all__ = ["CHROMIUM", "PHONE", "DESKTOP", "launch", "new_page", "login"]

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1366, "height": 900}
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(playwright: Playwright) -> Browser:
    assert CHROMIUM.exists(), "chromium missing: run `make system-deps` (apt-get install chromium)"
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=_ARGS)


def new_page(browser: Browser, base_url: str, viewport: dict[str, int]) -> Page:
    """A page in a fresh context (its own cookies) at ``viewport``, Indonesian locale."""
    is_phone = viewport["width"] < 600
    context = browser.new_context(
        base_url=base_url,
        viewport=viewport,
        locale="id-ID",
        is_mobile=is_phone,
        has_touch=is_phone,
        device_scale_factor=1,
    )
    context.set_default_timeout(20_000)
    return context.new_page()


def login(page: Page, username: str, password: str) -> None:
    """Log in through the form, by its labels, the way a person does."""
    page.goto("/staf/masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
