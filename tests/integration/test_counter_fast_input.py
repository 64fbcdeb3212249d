"""Fast input at the counter: a paste or a barcode scanner types faster than the screen
moves focus. Keys after Enter or Tab must land in the next field, never in the one left.

The keys are sent in one burst, as the terminal hands them to the app (``burst``), not
one by one with a wait as ``pilot.press`` does.
"""

# ruff: noqa: F811  (the enrolled counter fixture comes from the form's tests)

from __future__ import annotations

from textual.widgets import Input

from field_client.screens import DashboardScreen
from tests.integration.conftest import OPERATOR_PASSWORD
from tests.integration.test_counter_application_form import config  # noqa: F401
from tests.support.counter_ui import (
    SIZE,
    app_for,
    burst,
    field,
    log_in,
    new_application,
    until,
)


async def test_a_burst_of_username_enter_password_enter_logs_in(config):
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.store.active_operator_count() > 0)
        await until(pilot, lambda: app.screen.query_one("#username", Input).has_focus)
        burst(pilot, *"budi", "enter", *OPERATOR_PASSWORD, "enter")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen))
        await pilot.pause()  # the new screen's header sets its title (a callback of the app)
        assert app.operator is not None and app.operator.username == "budi"


async def test_keys_after_enter_and_tab_land_in_the_next_field(config):
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        form = await new_application(pilot)
        form.query_one(field("applicant.nama")).focus()
        await until(pilot, lambda: form.query_one(field("applicant.nama")).has_focus)
        # A KTP reader: name, Enter, NIK, Tab, WhatsApp number, Enter, then the KK number.
        burst(
            pilot,
            *"Ahmad Fauzi",
            "enter",
            *"1606011403950002",
            "tab",
            *"081277881234",
            "enter",
            *"1606010101010001",
        )

        def value(path: str) -> str:
            return form.query_one(field(path), Input).value

        await until(pilot, lambda: value("applicant.kk_number") != "")
        await pilot.pause()
        assert value("applicant.nama") == "Ahmad Fauzi"
        assert value("applicant.nik") == "1606011403950002"
        assert value("applicant.whatsapp") == "081277881234"
        assert value("applicant.kk_number") == "1606010101010001"
