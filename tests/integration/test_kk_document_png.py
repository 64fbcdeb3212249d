"""The KK renders to an image with poppler (``pdftoppm``) the way a KK looks: landscape A4,
ink where the title, tables and QR code are, a blank margin. Needs ``poppler-utils``
(``make system-deps``); the test fails, never skips, when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from protocol.application import Application
from signing.kk_pdf import Official, render_kk
from tests.factories import application_dict


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} tidak terpasang: jalankan `make system-deps` (poppler-utils)")
    return found


def test_kk_renders_to_a_landscape_page_with_ink_in_the_right_places(tmp_path: Path) -> None:
    pdf = render_kk(
        Application.from_dict(application_dict()),
        kk_number="1606010203040005",
        issued_on=date(2025, 11, 25),
        official=Official("Drs. H. Contoh Pejabat, M.Si", "197001011990031001"),
        verification_url="https://kk.example.go.id/v/3f2a9c",
    )
    (tmp_path / "kk.pdf").write_bytes(pdf)
    subprocess.run(
        [_tool("pdftoppm"), "-png", "-r", "50", str(tmp_path / "kk.pdf"), str(tmp_path / "kk")],
        check=True,
        timeout=60,
    )
    (png,) = tmp_path.glob("kk*.png")
    image = Image.open(png).convert("L")
    width, height = image.size
    assert width > height  # landscape
    assert abs(width / height - 297 / 210) < 0.02  # A4

    def ink(box: tuple[float, float, float, float]) -> float:
        x0, y0, x1, y1 = box
        region = image.crop((int(x0 * width), int(y0 * height), int(x1 * width), int(y1 * height)))
        histogram = region.histogram()
        return sum(histogram[:128]) / max(sum(histogram), 1)

    assert ink((0.35, 0.02, 0.65, 0.06)) > 0.05  # the title "KARTU KELUARGA"
    assert ink((0.78, 0.83, 0.84, 0.93)) > 0.3  # the QR code, bottom right
    assert ink((0.0, 0.0, 0.02, 1.0)) == 0  # left margin is blank
    assert ink((0.02, 0.2, 0.98, 0.75)) > 0.02  # the two tables
