"""`make run` must do what the README says on a fresh checkout: the script it calls."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "run_system.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(var: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--var", str(var), "--port", str(_free_port()), "--no-wait"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_the_system_runs_end_to_end_and_a_second_start_reuses_its_state(tmp_path):
    first = _run(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    assert "Perangkat loket berhasil didaftarkan." in out
    assert "permohonan-keluarga-baru.json: diajukan ke verifikator." in out
    assert "Persyaratan: Persyaratan belum dilampirkan: KK Lama." in out
    assert "Diajukan ke verifikator    1" in out
    assert "pending 0, applied 3, refused 0" in out
    assert "SAH:" in out and (tmp_path / "contoh-kk.pdf").exists()
    assert "Traceback" not in out + first.stderr
    assert "/staf/ (kata sandi demo semua akun: dinas-demo-2026)" in out
    assert "kadis.demo" in out

    second = _run(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "berhasil didaftarkan" not in second.stdout  # enrolled once, kept
    assert "sudah ada di loket ini; tidak dicatat dua kali." in second.stdout
    assert "pending 0, applied 3, refused 0" in second.stdout
    assert "SAH:" in second.stdout  # the PKI of the first start is reused
