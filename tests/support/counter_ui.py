"""Driving the counter app with Textual's Pilot at 80x24, the way an operator does."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Select, Static

from field_client.app import CounterApp, make_counter_app
from field_client.config import CounterConfig
from field_client.screens import DashboardScreen
from field_client.sync import SyncEngine

SIZE = (80, 24)
"""The terminal the kecamatan PCs have."""


def counter_config(data_dir: Path, **changes: object) -> CounterConfig:
    """A counter with short timeouts and backoff, so tests of a cut link stay quick."""
    settings: dict[str, object] = {
        "data_dir": data_dir,
        "connect_timeout_s": 3,
        "read_timeout_s": 10,
        "write_timeout_s": 10,
        "request_deadline_s": 20,
        "backoff_base_s": 0.05,
        "backoff_cap_s": 0.2,
        "poll_interval_s": 60,
        "trust_env": False,
    }
    settings.update(changes)
    return CounterConfig(**settings)


def app_for(config: CounterConfig) -> CounterApp:
    """The app with a sync engine on a seeded RNG (repeatable backoff)."""
    return make_counter_app(config, engine_factory=lambda c: SyncEngine(c, rng=random.Random(1)))


def text(app: CounterApp, selector: str) -> str:
    """What a Static shows, as plain text."""
    return str(app.screen.query_one(selector, Static).render())


async def until(pilot: Pilot[None], predicate: Callable[[], bool], timeout: float = 15) -> None:
    """Wait (condition-based) until ``predicate`` holds; generous for a loaded machine."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await pilot.pause(0.05)


def burst(pilot: Pilot[None], *keys: str) -> None:
    """Send ``keys`` the way a terminal delivers a paste or a barcode scanner's typing: all
    in one go, without waiting for the app between keys (``pilot.press`` waits). The events
    are made as ``pilot.press`` makes them."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    driver = pilot.app._driver
    assert driver is not None
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            name = _get_unicode_name_from_key(REPLACED_KEYS.get(key, key))
            char: str | None = unicodedata.lookup(name)
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(pilot.app)
        driver.send_message(event)


async def type_into(pilot: Pilot[None], selector: str, value: str, *, clear: bool = False) -> None:
    """Focus a field (as a click would) and type."""
    widget = pilot.app.screen.query_one(selector)
    widget.focus()
    await pilot.pause()
    if clear and isinstance(widget, Input):
        widget.value = ""
    await pilot.press(*value)


async def choose(pilot: Pilot[None], selector: str, label: str) -> None:
    """Pick an entry of a pick-list with the keyboard: open, type to search, Enter."""
    select = pilot.app.screen.query_one(selector, Select)
    select.focus()
    await pilot.press("enter")
    await pilot.pause()
    await pilot.press(*label)
    await pilot.press("enter")
    await pilot.pause()


async def log_in(pilot: Pilot[None], username: str, password: str) -> None:
    """Wait for the pulled accounts, then log in from the login screen."""
    app = pilot.app
    assert isinstance(app, CounterApp)
    await until(pilot, lambda: app.store is not None and app.store.active_operator_count() > 0)
    await type_into(pilot, "#username", username)
    await pilot.press("enter", *password, "enter")
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen))


def field(path: str) -> str:
    """The selector of a form field's control (``applicant.nik``, or ``nik`` for a member)."""
    from field_client.widgets.form.field_row import control_id

    return f"#{control_id(path)}"


def row_message(app: CounterApp, path: str) -> str:
    """The message line under a form field."""
    control = app.screen.query_one(field(path))
    assert control.parent is not None and control.parent.parent is not None
    return str(control.parent.parent.query_one(".row-message", Static).render())


async def fill_service_applicant_address(pilot: Pilot[None]) -> None:
    """SOP step 1 on the new-application form: KK baru for a new family in Kayu Ara."""
    await choose(pilot, field("service.service_type"), "A")
    await choose(pilot, field("service.sub_type"), "A.1")
    await type_into(pilot, field("applicant.nama"), "Ahmad Fauzi")
    await type_into(pilot, field("applicant.nik"), "1606011403950002")
    await type_into(pilot, field("applicant.whatsapp"), "0812 7788 1234")
    await type_into(pilot, field("address.alamat"), "Jl. Merdeka No. 12")
    await type_into(pilot, field("address.rt"), "3")
    await type_into(pilot, field("address.rw"), "1")
    await choose(pilot, field("address.desa_code"), "Kayu Ara")


async def fill_head_of_family(pilot: Pilot[None]) -> None:
    """The member form for the head of the family, typed as an operator would (the NIK
    fills birth date and sex)."""
    await type_into(pilot, field("nama"), "ahmad  fauzi")
    await type_into(pilot, field("nik"), "1606011403950002")
    await pilot.pause()
    await type_into(pilot, field("tempat_lahir"), "sekayu")
    await choose(pilot, field("agama"), "ISLAM")
    await choose(pilot, field("pendidikan"), "DIPLOMA IV")
    await choose(pilot, field("pekerjaan"), "KARYAWAN SWASTA")
    await choose(pilot, field("golongan_darah"), "O+")
    await choose(pilot, field("status_perkawinan"), "KAWIN TERCATAT")
    await type_into(pilot, field("tanggal_perkawinan"), "10-02-2020")
    await choose(pilot, field("shdk"), "KEPALA KELUARGA")
    await choose(pilot, field("kewarganegaraan"), "WNI")
    await type_into(pilot, field("nama_ayah"), "suparman")
    await type_into(pilot, field("nama_ibu"), "siti aminah")


async def open_application(pilot: Pilot[None], application_id: str) -> None:
    """From the dashboard: highlight the application in the list and press Enter."""
    from field_client.screens import ApplicationScreen
    from field_client.widgets.dashboard import ApplicationTable

    app = pilot.app
    table = app.screen.query_one("#applications", ApplicationTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(application_id))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, ApplicationScreen))


async def new_application(pilot: Pilot[None]) -> Screen[object]:
    """From the dashboard: F2, and the new-application form once it is shown."""
    from field_client.screens import ApplicationFormScreen

    app = pilot.app
    await pilot.press("f2")
    await until(pilot, lambda: isinstance(app.screen, ApplicationFormScreen))
    return app.screen


async def confirm_deliberately(pilot: Pilot[None]) -> None:
    """Answer yes to a deliberate confirmation (application screen): it opens on the safe
    answer, so Tab to the yes button, then Enter."""
    from textual.widgets import Button

    from field_client.screens.dialogs import ConfirmDialog

    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    dialog = app.screen
    assert app.focused is dialog.query_one("#no", Button)
    await pilot.press("tab")
    assert app.focused is dialog.query_one("#yes", Button)
    await pilot.press("enter")
    await until(pilot, lambda: app.screen is not dialog)
