# ruff: noqa: F811  (fixtures imported from other test modules)
"""The page counts of a stored application's scans, driven with Pilot at 80x24.

Opening an application's form shows each attached scan with its pages. Counting them means
decrypting and parsing the PDF, seconds for a big one on an old PC: it happens on a worker
thread, the form answers meanwhile and the counts appear when they arrive. When the scan
key is still locked at that moment (being recovered from the server in the background), the
counts appear once it opens.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from field_client.actions import Counter
from field_client.config import CounterConfig
from field_client.operator_login import check_operator
from field_client.scan_preview import count_pages
from field_client.screens import ApplicationFormScreen
from field_client.store import Store
from field_client.widgets.status import ScanKeyState
from protocol.application import Application
from signing.keys import load_private_key
from tests.factories import application_dict
from tests.integration.conftest import OPERATOR_PASSWORD, add_operator
from tests.integration.test_counter_application_form import config, two_page_pdf  # noqa: F401
from tests.integration.test_scan_key_recovery import patient_counter, stallable  # noqa: F401
from tests.support.counter_ui import (
    SIZE,
    app_for,
    field,
    log_in,
    open_application,
    text,
    type_into,
    until,
)

SCANS = "#scans-bukti_perkawinan-akta_cerai"
"""The line under the document's check box listing its scans."""


def application_with_pdf(config: CounterConfig, username: str, pdf: bytes) -> str:
    """An application recorded at this counter with a PDF scan attached, before the app
    starts (the operator's first login makes the scan key)."""
    outcome = check_operator(config, username, OPERATOR_PASSWORD)
    assert outcome.operator is not None and outcome.scan_key is not None
    app = Application.from_dict(application_dict(id=str(uuid.uuid4())))
    with Store.open(config.db_path) as store:
        actions = Counter(store, load_private_key(config.key_path))
        actions.create_application(app, operator_id=outcome.operator.id)
        actions.attach_scan(
            app.id,
            "akta_cerai",
            pdf,
            operator_id=outcome.operator.id,
            key=outcome.scan_key,
            recompress=False,
        )
    return app.id


class Gate:
    """Holds every page count until released, and notes the thread each one ran on."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.threads: list[threading.Thread] = []

    def wrap(self, real: Callable[[bytes, str], int | None]) -> Callable[[bytes, str], int | None]:
        def held(content: bytes, media_type: str) -> int | None:
            self.threads.append(threading.current_thread())
            self.open.wait(timeout=10)
            return real(content, media_type)

        return held


async def test_the_form_opens_at_once_and_the_page_counts_follow(config, tmp_path, monkeypatch):
    from field_client.sync import SyncEngine

    async with SyncEngine(config) as engine:  # brings budi's account
        await engine.run_once()
    application_id = application_with_pdf(
        config, "budi", two_page_pdf(tmp_path / "akta.pdf").read_bytes()
    )
    gate = Gate()
    monkeypatch.setattr("field_client.screens.application_form.count_pages", gate.wrap(count_pages))
    app = app_for(config)
    async with app.run_test(size=SIZE) as pilot:
        await log_in(pilot, "budi", OPERATOR_PASSWORD)
        await open_application(pilot, application_id)
        try:
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, ApplicationFormScreen))
            form = app.screen
            await until(pilot, lambda: bool(gate.threads))  # the count has started ...
            assert threading.main_thread() not in gate.threads  # ... off the UI thread
            await type_into(pilot, field("address.kode_pos"), "30711", clear=True)
            assert form.draft.text["address.kode_pos"] == "30711"  # the form answers
            assert "PDF" in text(app, SCANS)
            assert "halaman" not in text(app, SCANS)
        finally:
            gate.open.set()
        await until(pilot, lambda: "2 halaman" in text(app, SCANS))


async def test_the_page_counts_appear_once_the_scan_key_arrives(server, stallable, tmp_path):
    link = stallable
    add_operator(server, "sari", full_name="Sari Dewi")
    counter = await patient_counter(server, link, tmp_path / "counter")
    application_id = application_with_pdf(
        counter.config, "budi", two_page_pdf(tmp_path / "akta.pdf").read_bytes()
    )
    app = app_for(counter.config)
    async with app.run_test(size=SIZE) as pilot:
        link.set_profile(stalled=True)  # sari has no copy of the key: it comes later
        await log_in(pilot, "sari", OPERATOR_PASSWORD)
        assert app.scan_key_state is ScanKeyState.FETCHING
        await open_application(pilot, application_id)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, ApplicationFormScreen))
        await pilot.pause()
        assert "PDF" in text(app, SCANS)
        assert "halaman" not in text(app, SCANS)

        link.set_profile(stalled=False)
        await until(pilot, lambda: app.scan_key is not None, timeout=60)
        await until(pilot, lambda: "2 halaman" in text(app, SCANS))
