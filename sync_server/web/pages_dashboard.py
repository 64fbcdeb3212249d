"""``/staf/dasbor``: the SLA dashboard (:mod:`sync_server.services.sla`) as inline SVG charts.

Aggregates only (no names, no NIKs), so every staff role, the admin included, may see it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sync_server.api.deps import ContextDep
from sync_server.clock import utc_now
from sync_server.services import sla
from sync_server.services.wilayah import kecamatan_name
from sync_server.web import session as web
from sync_server.web.charts import Row, Series, bar_chart
from sync_server.web.templating import duration, render

router = APIRouter(prefix=web.PREFIX, include_in_schema=False)

PERIODS = {"7": 7, "30": 30, "90": 90, "semua": None}
_COUNT = (Series("Permohonan", "s1"),)
# Chart labels must fit a phone; the table under each chart has the SOP's full wording.
STEP_SHORT = {
    2: "Loket: periksa dan ajukan",
    3: "Validasi Sub Koord",
    4: "Verifikasi Kabid",
    5: "TTE Kepala Dinas",
    6: "Terbit dan kirim WA",
}


def _count(value: float) -> str:
    return str(int(value))


def charts(report: sla.SlaReport) -> dict[str, object]:
    """The dashboard's four charts."""
    return {
        "states": bar_chart(_COUNT, [Row(s.label, (n,)) for s, n in report.per_state], fmt=_count),
        "kecamatan": bar_chart(
            (Series("Masih berjalan", "s1"), Series("Diterima pada periode", "s2")),
            [Row(kecamatan_name(k.kecamatan), (k.open, k.received)) for k in report.per_kecamatan],
            fmt=_count,
        ),
        "steps": bar_chart(
            (Series("Rata-rata", "s1"), Series("90% selesai dalam", "s2")),
            [
                Row(
                    f"{s.number}. {STEP_SHORT.get(s.number, s.label)}",
                    (s.mean_minutes, s.p90_minutes),
                    target=s.target_minutes,
                )
                for s in report.steps
            ],
            fmt=duration,
        ),
        "returns": bar_chart(
            _COUNT, [Row(r.label, (r.count,)) for r in report.returns], fmt=_count
        ),
    }


@router.get("/dasbor")
async def dashboard(
    request: Request,
    session: web.WebStaff,
    context: ContextDep,
    periode: Annotated[str, Query(pattern="^(7|30|90|semua)$")] = "30",
) -> Response:
    report = await run_in_threadpool(
        lambda: sla.sla_report(context.db, now=utc_now(), days=PERIODS[periode])
    )
    return render(
        request,
        "dashboard.html",
        {
            "session": session,
            "report": report,
            "periode": periode,
            "periods": [("7", "7 hari"), ("30", "30 hari"), ("90", "90 hari"), ("semua", "Semua")],
            "charts": charts(report),
        },
    )
