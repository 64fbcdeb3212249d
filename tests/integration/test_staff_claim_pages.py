"""Claims on the staff pages ("Ambil berkas", "Lepaskan", take over, hand on) on a real
server: the service's rules as the API applies them, its refusals as Indonesian pages."""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from protocol.workflow import Role
from sync_server.services.access_log import entries
from tests.integration.conftest import OPERATOR_PASSWORD, add_operator
from tests.integration.test_pull import submitted_application
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    STAFF,
    counter,
    operator,
    staff,
    tokens,
)
from tests.integration.test_staff_web import browser_like, csrf_of, web_login  # noqa: F401

HOLDER = STAFF[Role.VERIFIKATOR][1]


def claim_form(http: httpx.Client, app_id: str, aksi: str, **extra: str) -> httpx.Response:
    page = http.get(f"/staf/permohonan/{app_id}")
    return http.post(
        f"/staf/permohonan/{app_id}/klaim", data={"csrf": csrf_of(page), "aksi": aksi, **extra}
    )


def holder_of(server, app_id: str) -> str | None:
    with server.db.read() as conn:
        row = conn.execute(
            "SELECT u.username FROM claims c JOIN users u ON u.user_id = c.user_id "
            "WHERE c.application_id = ?",
            (app_id,),
        ).fetchone()
    return row["username"] if row else None


@contextmanager
def login_as(server, username: str) -> Iterator[httpx.Client]:
    """A page session of another account than the STAFF fixtures."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        form = http.get("/staf/masuk")
        answer = http.post(
            "/staf/masuk",
            data={"csrf": csrf_of(form), "username": username, "password": OPERATOR_PASSWORD},
        )
        assert answer.status_code == 303, answer.text
        yield http


def test_take_release_from_queue_and_file_and_others_are_refused_in_indonesian(
    server, browser_like, staff, counter, operator
):
    app_id = submitted_application(counter, browser_like, operator)
    add_operator(server, "dewi.verif", None, role="verifikator", full_name="Dewi Lestari")
    web_login(browser_like, Role.VERIFIKATOR)

    queue = browser_like.get("/staf/antrean")
    assert f'aria-label="Ambil berkas {app_id}"' in queue.text
    taken = browser_like.post(
        f"/staf/permohonan/{app_id}/klaim", data={"csrf": csrf_of(queue), "aksi": "ambil"}
    )
    assert taken.status_code == 303
    assert taken.headers["location"] == f"/staf/permohonan/{app_id}?klaim=ambil"
    assert holder_of(server, app_id) == STAFF[Role.VERIFIKATOR][0]
    page = browser_like.get(taken.headers["location"]).text
    assert "sekarang Anda kerjakan" in page and f"<strong>{HOLDER}</strong> (Anda)" in page
    assert ">Lepaskan</button>" in page and "Dewi Lestari (dewi.verif)" in page
    assert f"Dikerjakan: {HOLDER}" in browser_like.get("/staf/antrean").text

    with login_as(server, "dewi.verif") as dewi:
        # Claiming what another holds: refused with the holder's name, nothing changes.
        held = claim_form(dewi, app_id, "ambil")
        assert held.status_code == 409 and "text/html" in held.headers["content-type"]
        assert f"sedang dikerjakan {HOLDER}" in held.text and "claim.held" in held.text
        assert holder_of(server, app_id) == STAFF[Role.VERIFIKATOR][0]
        # Deciding it meanwhile: refused exactly as on the API.
        page = dewi.get(f"/staf/permohonan/{app_id}")
        assert "Ambil alih" in page.text and "Hanya " + HOLDER in page.text
        decide = dewi.post(
            f"/staf/permohonan/{app_id}/keputusan",
            data={
                "csrf": csrf_of(page),
                "action": "verify",
                "expected_state": "submitted",
                "konfirmasi": "ya",
            },
        )
        assert decide.status_code == 409 and "hanya dia yang dapat memutuskannya" in decide.text
        # A colleague of the same role may take it over.
        over = claim_form(dewi, app_id, "ambil_alih")
        assert over.status_code == 303 and holder_of(server, app_id) == "dewi.verif"
        assert "sudah Anda ambil alih" in dewi.get(over.headers["location"]).text

    # The Kabid works on another step: refused, in Indonesian.
    with httpx.Client(base_url=server.base_url) as kabid:
        web_login(kabid, Role.KABID)
        page = kabid.get(f"/staf/permohonan/{app_id}")
        assert "Ambil berkas" not in page.text and "Ambil alih" not in page.text
        wrong = kabid.post(
            f"/staf/permohonan/{app_id}/klaim", data={"csrf": csrf_of(page), "aksi": "ambil"}
        )
        assert wrong.status_code == 403 and "dikerjakan oleh" in wrong.text
        forged = kabid.post(f"/staf/permohonan/{app_id}/klaim", data={"csrf": "x", "aksi": "ambil"})
        assert forged.status_code == 403

    # Released by the first verifikator (same role as the holder): free again.
    released = claim_form(browser_like, app_id, "lepaskan")
    assert released.status_code == 303 and holder_of(server, app_id) is None
    assert "sudah dilepaskan" in browser_like.get(released.headers["location"]).text

    with server.db.read() as conn:
        actions = [e.action for e in entries(conn, application_id=app_id)]
    assert actions.count("application.claimed") == 2
    assert actions.count("application.released") == 1


def test_the_holder_hands_the_file_to_a_colleague_of_the_same_role(
    server, browser_like, staff, counter, operator
):
    app_id = submitted_application(counter, browser_like, operator)
    add_operator(server, "dewi.verif", None, role="verifikator", full_name="Dewi Lestari")
    web_login(browser_like, Role.VERIFIKATOR)
    assert claim_form(browser_like, app_id, "ambil").status_code == 303
    with server.db.read() as conn:
        dewi_id = conn.execute(
            "SELECT user_id FROM users WHERE username = 'dewi.verif'"
        ).fetchone()[0]
        kabid_id = conn.execute("SELECT user_id FROM users WHERE role = 'kabid'").fetchone()[0]
    wrong = claim_form(browser_like, app_id, "serahkan", user_id=kabid_id)
    assert wrong.status_code == 422 and holder_of(server, app_id) == STAFF[Role.VERIFIKATOR][0]
    handed = claim_form(browser_like, app_id, "serahkan", user_id=dewi_id)
    assert handed.status_code == 303 and holder_of(server, app_id) == "dewi.verif"
    assert "sudah diserahkan" in browser_like.get(handed.headers["location"]).text
