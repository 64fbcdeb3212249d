"""The counter says one thing one way: the same key has the same label on every screen.

Pilot at 80x24 against a real server (the enrolled counter of the form tests).
"""

from __future__ import annotations

from field_client.screens import DashboardScreen, InboxScreen, LoginScreen
from tests.integration.conftest import OPERATOR_PASSWORD
from tests.integration.test_counter_application_form import config  # noqa: F401
from tests.support.counter_ui import SIZE, app_for, log_in, until


def footer_label(app, key: str) -> str:
    """What the footer of the current screen says for ``key``."""
    [label] = {
        b.binding.description
        for b in app.screen.active_bindings.values()
        if b.binding.key == key and b.binding.show
    }
    return label


async def test_the_sync_key_has_one_label_on_every_screen(config):  # noqa: F811
    app = app_for(config)
    labels: dict[str, str] = {}
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        labels["login"] = footer_label(app, "f5")
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        assert isinstance(app.screen, DashboardScreen)
        labels["dashboard"] = footer_label(app, "f5")
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, InboxScreen))
        labels["inbox"] = footer_label(app, "f5")
    assert set(labels.values()) == {"Sinkron"}, labels
