"""Scans on the staff pages: listed on the application page (complete or still arriving),
an image in its zoomable viewer, a PDF as the file itself, each read in the access log."""

# ruff: noqa: F811  (pytest fixtures imported from test_staff_decisions)

from __future__ import annotations

import httpx

from protocol.workflow import Role
from tests.integration.test_scan_upload import APP_ID, chunk
from tests.integration.test_scan_upload import Counter as ScanCounter
from tests.integration.test_staff_decisions import STAFF, staff  # noqa: F401  (fixtures)
from tests.integration.test_staff_web import web_login
from tests.support.scan_samples import jpeg_scan, pdf_scan


def test_scans_are_listed_viewable_and_logged(server, client, staff):
    counter = ScanCounter(server, client)
    photo = jpeg_scan(seed=3)
    photo_id, photo_blob = counter.attach(photo, document="buku_nikah")
    pdf_id, _ = counter.attach(pdf_scan(), document="kk_lama", media="application/pdf")
    assert chunk(client, counter.device, photo_id, 0, photo_blob).json()["complete"] is True

    with httpx.Client(base_url=server.base_url) as verif:
        web_login(verif, Role.VERIFIKATOR)
        page = verif.get(f"/staf/permohonan/{APP_ID}").text
        assert "Pindaian dokumen (2)" in page
        assert f"/pindaian/{photo_id}/lihat" in page and "Masih dikirim (0%)" in page
        assert f"/pindaian/{pdf_id}" not in page  # nothing to open until it has arrived

        viewer = verif.get(f"/staf/permohonan/{APP_ID}/pindaian/{photo_id}/lihat")
        assert viewer.status_code == 200 and "Perbesar (ukuran asli)" in viewer.text
        image = verif.get(f"/staf/permohonan/{APP_ID}/pindaian/{photo_id}")
        assert image.status_code == 200 and image.content == photo
        assert image.headers["content-type"] == "image/jpeg"
        assert image.headers["cache-control"] == "no-store"
        arriving = verif.get(f"/staf/permohonan/{APP_ID}/pindaian/{pdf_id}")
        assert arriving.status_code == 409 and "text/html" in arriving.headers["content-type"]
    with server.db.read() as conn:
        actions = [r[0] for r in conn.execute("SELECT action FROM access_log ORDER BY seq")]
    assert actions == ["application.read", "scan.read"]
