"""The Kepala Dinas's batch TTE page over HTTP: the answer streams one line per signed KK
(progress without script), a wrong passphrase signs nothing, the passphrase is never kept."""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

import httpx
import pytest

from protocol.workflow import Role
from tests.integration.conftest import TTE_PASSPHRASE, tte_config
from tests.integration.test_staff_browser import approved_applications, signed_count
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    STAFF,
    counter,
    operator,
    staff,
)
from tests.integration.test_staff_web import csrf_of, web_login


@pytest.fixture
def server_config(tmp_path, demo_pki):
    return tte_config(tmp_path, demo_pki)


def test_the_batch_answer_streams_a_line_per_signed_kk(server, client, staff, counter, operator):
    ids = approved_applications(server, client, counter, operator, staff, 3)
    with httpx.Client(base_url=server.base_url, timeout=60) as kadis:
        web_login(kadis, Role.KEPALA_DINAS)
        page = kadis.get("/staf/tte")
        assert page.text.count('name="ids"') == 3
        form = {"csrf": csrf_of(page), "ids": ids}

        none = kadis.post("/staf/tte", data={"csrf": csrf_of(page), "passphrase": "x"})
        assert none.status_code == 422 and "Pilih minimal satu" in none.text
        wrong = kadis.post("/staf/tte", data={**form, "passphrase": "salah-frasa"})
        assert wrong.status_code == 422 and signed_count(server) == 0
        assert "salah-frasa" not in wrong.text

        seen: list[str] = []
        with kadis.stream("POST", "/staf/tte", data={**form, "passphrase": TTE_PASSPHRASE}) as s:
            assert s.status_code == 200 and s.headers["cache-control"] == "no-store"
            text = ""
            for chunk in s.iter_text():
                text += chunk
                # What the browser has when each KK is done: the lines so far, no summary.
                if text.count('class="ok"') > len(seen) and "Selesai:" not in text:
                    seen.append(text)
        assert len(seen) >= 3, "each signed KK should reach the browser on its own"
        assert seen[0].count('class="ok"') == 1 and "3/3" not in seen[0]
        assert "Selesai: 3 ditandatangani." in text and TTE_PASSPHRASE not in text
    assert signed_count(server) == 3
    with server.db.read() as conn:
        assert conn.execute("SELECT count(*) FROM kk_documents").fetchone()[0] == 3
    raw = server.config.db_path.read_bytes()
    assert TTE_PASSPHRASE.encode() not in raw
