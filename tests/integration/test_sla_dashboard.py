"""The SLA dashboard: figures from a real history (counter pushes, central decisions at
chosen times) and the page that draws them as SVG with their numbers as tables."""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

import re
from datetime import timedelta

from protocol.workflow import Action, Reasons, Role
from sync_server.clock import utc_now
from sync_server.services import sla
from sync_server.services.decisions import record_decision
from tests.integration.test_pull import submitted_application
from tests.integration.test_staff_decisions import (  # noqa: F401  (fixtures)
    STAFF,
    counter,
    operator,
    staff,
)
from tests.integration.test_staff_web import web_login


def test_step_times_returns_and_counts_reach_the_dashboard(
    server, client, staff, counter, operator
):
    app_id = submitted_application(counter, client, operator)
    start = utc_now()

    def decide(action: Action, role: Role, minutes: float, reasons: Reasons | None = None):
        record_decision(
            server.db,
            application_id=app_id,
            action=action,
            role=role,
            actor_id=staff[role],
            actor_name=STAFF[role][1],
            reasons=reasons,
            now=start + timedelta(minutes=minutes),
        )

    decide(Action.RETURN, Role.VERIFIKATOR, 2, Reasons(("dokumen_tidak_terbaca",), "Buram"))
    counter.pull(client)
    counter.counter.resubmit(app_id, operator_id=operator)
    counter.push(client)  # resubmitted at the real "now", a few seconds after start
    decide(Action.VERIFY, Role.VERIFIKATOR, 9)  # about 9 minutes in step 3: over 5
    decide(Action.APPROVE, Role.KABID, 12)  # 3 minutes in step 4: within 5

    report = sla.sla_report(server.db, now=start + timedelta(minutes=15), days=30)
    step3, step4, step5 = (next(s for s in report.steps if s.number == n) for n in (3, 4, 5))
    assert (step3.count, step3.over_target) == (2, 1)  # 2 minutes, then about 9
    assert step3.target_minutes == 5 and 8 < step3.p90_minutes < 10
    assert (step4.count, step4.over_target) == (1, 0) and 2.9 < step4.mean_minutes < 3.1
    assert step5.count == 0 and step5.mean_minutes is None  # still waiting
    assert {s.value: n for s, n in report.per_state} == {"approved": 1}
    [sekayu] = report.per_kecamatan
    assert (sekayu.kecamatan, sekayu.open, sekayu.received) == ("160601", 1, 1)
    assert [(r.code, r.count) for r in report.returns] == [("dokumen_tidak_terbaca", 1)]
    assert report.returned_files == 1

    # A period that ends before the stays did sees none of them.
    later = sla.sla_report(server.db, now=start + timedelta(days=40), days=7)
    assert all(s.count == 0 for s in later.steps) and later.returns == []
    assert later.per_kecamatan[0].received == 0 and later.per_kecamatan[0].open == 1

    web_login(client, Role.ADMIN)  # aggregates only: the admin sees the dashboard too
    page = client.get("/staf/dasbor", params={"periode": "semua"})
    assert page.status_code == 200
    assert page.text.count("<svg") == 4 and 'role="img"' in page.text
    assert "Foto/pindaian dokumen tidak terbaca atau terpotong" in page.text
    assert re.search(r"<td>Sekayu</td><td>1</td><td>1</td>", page.text)
    assert "Ahmad Fauzi" not in page.text and app_id not in page.text
    assert client.get("/staf/dasbor", params={"periode": "abc"}).status_code == 400
