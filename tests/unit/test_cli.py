"""The console scripts as an operator runs them: real subprocesses of the installed entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import application_dict

BIN = Path(sys.executable).parent
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("script", ["kk-server", "kk-counter", "kk-tte"])
def test_every_script_explains_itself_in_indonesian(script):
    result = run(script, "--help")
    assert result.returncode == 0
    assert "Kartu Keluarga" in result.stdout
    if script != "kk-counter":
        # Features of later issues are announced plainly, not faked.
        assert "Belum tersedia" in result.stdout


def test_check_says_a_complete_application_is_ready():
    result = run("kk-counter", "check", "--tanggal", "2026-11-25",
                 str(EXAMPLES / "permohonan-keluarga-baru.json"))  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert "SIAP DIAJUKAN ke verifikator." in result.stdout
    assert "[x] Bukti status perkawinan" in result.stdout
    assert "Ajukan ke verifikator" in result.stdout


def test_check_lists_what_is_missing_and_does_not_offer_submit():
    result = run("kk-counter", "check", "--tanggal", "2026-11-25",
                 str(EXAMPLES / "permohonan-kelahiran-belum-lengkap.json"))  # fmt: skip
    assert result.returncode == 1
    assert "[ ] Bukti kelahiran: Surat Keterangan Kelahiran atau Kutipan Akta Kelahiran" in (
        result.stdout
    )
    assert "Belum lengkap: 2 persyaratan belum dilampirkan." in result.stdout
    assert "Ajukan ke verifikator" not in result.stdout
    assert "Tandai belum lengkap" in result.stdout


def test_check_reports_errors_with_where_and_code(tmp_path):
    data = application_dict()
    data["members"][1]["status_perkawinan"] = 1
    data["members"][1]["tanggal_perkawinan"] = None
    path = tmp_path / "salah.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = run("kk-counter", "check", "--tanggal", "2026-11-25", str(path))
    assert result.returncode == 1
    assert "Kesalahan (1):" in result.stdout
    assert "Anggota ke-2, Status perkawinan: Status hubungan ISTRI memerlukan" in result.stdout
    assert "(member.spouse_not_married)" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "Berkas bukan JSON yang sah"),
        ("[1, 2]", "Berkas harus berisi satu objek permohonan."),
        ('{"id": "x"}', "Data pemohon wajib diisi."),
    ],
)
def test_unreadable_files_get_a_clear_error_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "rusak.json"
    path.write_text(content, encoding="utf-8")
    result = run("kk-counter", "check", str(path))
    assert result.returncode == 2
    assert expected in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_file_is_reported_not_a_traceback(tmp_path):
    result = run("kk-counter", "check", str(tmp_path / "tidak-ada.json"))
    assert result.returncode == 2
    assert "Berkas tidak dapat dibuka" in result.stdout
    assert "Traceback" not in result.stderr


def test_the_demo_app_uses_make_runs_counter_and_server(monkeypatch, tmp_path):
    from field_client.cli import DEMO_SERVER_URL, app_config

    monkeypatch.delenv("KK_COUNTER_DATA_DIR", raising=False)
    monkeypatch.delenv("KK_COUNTER_SERVER_URL", raising=False)
    demo = app_config(server_url=None, data_dir=None, demo=True)
    assert (demo.data_dir, demo.server_url) == (Path("var/counter"), DEMO_SERVER_URL)
    mine = app_config(server_url="https://kk.example.go.id", data_dir=tmp_path, demo=True)
    assert (mine.data_dir, mine.server_url) == (tmp_path, "https://kk.example.go.id")
    plain = app_config(server_url=None, data_dir=None, demo=False)
    assert plain.server_url is None
