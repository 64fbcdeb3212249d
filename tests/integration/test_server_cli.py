"""``kk-server`` as an admin runs it: click's runner on a real data directory, and the real
``serve`` command in a subprocess."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from signing.keys import generate_key, public_key_b64
from signing.passwords import verify_password
from sync_server.cli import main
from sync_server.clock import utc_now
from sync_server.config import ServerConfig
from sync_server.context import database
from sync_server.errors import Refusal
from sync_server.services import enrollment, staff_auth
from sync_server.services.access_log import entries, verify_audit_chain
from sync_server.storage import accounts as account_store
from sync_server.storage import feed as feed_store

CODE = re.compile(r"Kode pendaftaran : ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "server"


@pytest.fixture
def kk(data_dir):
    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        result = runner.invoke(main, ["--data-dir", str(data_dir), *args], input=input)
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, Exception) or isinstance(
            result.exception, SystemExit
        ), result.exception
        return result

    return run


@pytest.fixture
def initialised(kk, data_dir) -> Path:
    assert kk("init").exit_code == 0
    return data_dir


def _fails(result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Galat: "), result.stderr
    assert text in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_help_lists_the_commands_in_indonesian(kk):
    result = kk("--help")
    assert result.exit_code == 0
    assert "Kartu Keluarga" in result.output
    for command in ("init", "serve", "device", "user", "refusals"):
        assert command in result.output
    assert "mendaftarkan perangkat" in result.output
    assert "Kode kecamatan" in kk("device", "enroll-code", "--help").output


def test_init_creates_the_key_and_database_and_is_idempotent(kk, data_dir):
    first = kk("init")
    assert first.exit_code == 0, first.output
    assert "Kunci server   : server_key.pem (dibuat)" in first.output
    key = data_dir / "server_key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (data_dir / "server.db").exists()
    before = key.read_bytes()
    fingerprint = re.search(r"Sidik jari     : (\w+)", first.output).group(1)

    second = kk("init")

    assert second.exit_code == 0, second.output
    assert "sudah ada, tidak diubah" in second.output
    assert key.read_bytes() == before
    assert fingerprint in second.output
    with database(ServerConfig(data_dir=data_dir)).read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_commands_before_init_say_what_to_do(kk):
    _fails(kk("device", "list"), "Server belum disiapkan")
    _fails(kk("user", "list"), 'jalankan "kk-server init"')
    _fails(kk("serve", "--port", "1"), "Server belum disiapkan")


def test_enroll_code_is_printed_once_and_works(kk, initialised):
    result = kk("device", "enroll-code", "--kecamatan", "16.06.01", "--label", "Loket 1")
    assert result.exit_code == 0, result.output
    assert "Kecamatan        : 160601 Sekayu" in result.output
    assert "Label            : Loket 1" in result.output
    assert "WIB" in result.output
    code = CODE.search(result.output).group(1)

    db = database(ServerConfig(data_dir=initialised))
    device = enrollment.enroll(
        db,
        code=code,
        public_key=public_key_b64(generate_key()),
        label="",
        client_ip="127.0.0.1",
        now=utc_now(),
    )
    assert device.kecamatan == "160601" and device.label == "Loket 1"

    listed = kk("device", "list")
    assert listed.exit_code == 0
    assert device.device_id in listed.output and "aktif" in listed.output

    assert kk("device", "revoke", device.device_id).output.startswith(
        f"Perangkat {device.device_id} dicabut."
    )
    again = kk("device", "revoke", device.device_id)
    assert again.exit_code == 0 and "sudah dicabut sejak" in again.output
    assert "dicabut 20" in kk("device", "list").output
    _fails(kk("device", "revoke", "dev-tidak-ada"), 'Perangkat "dev-tidak-ada" tidak ditemukan')


@pytest.mark.parametrize("kecamatan", ["160699", "327301", "Sekayu", "16"])
def test_enroll_code_refuses_a_kecamatan_outside_musi_banyuasin(kk, initialised, kecamatan):
    _fails(
        kk("device", "enroll-code", "--kecamatan", kecamatan),
        "bukan kecamatan di Kabupaten Musi Banyuasin",
    )


def test_user_add_with_a_hidden_prompt_and_confirmation(kk, initialised):
    result = kk(
        "user", "add", "--role", "operator", "--kecamatan", "160601", "--username", "budi",
        "--name", "Budi  Santoso", input="sandi-rahasia\nsandi-rahasia\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sandi-rahasia" not in result.output
    assert "Akun budi (Operator Online SIAK, kecamatan 160601 Sekayu) dibuat" in result.output
    with database(ServerConfig(data_dir=initialised)).read() as conn:
        user = account_store.user_by_username(conn, "budi")
    assert user.full_name == "Budi Santoso" and user.kecamatan == "160601"
    assert verify_password("sandi-rahasia", user.password_hash)
    assert user.user_id in result.output


def test_user_add_from_stdin_list_and_disable(kk, initialised):
    result = kk(
        "user", "add", "--role", "kabid", "--username", "kabid.dafduk",
        "--name", "Kabid Dafduk", "--password-stdin", input="kata-sandi-kabid\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Kabid" in result.output
    listed = kk("user", "list")
    assert "kabid.dafduk" in listed.output and "aktif" in listed.output
    assert kk("user", "disable", "kabid.dafduk").output == "Akun kabid.dafduk dinonaktifkan.\n"
    assert "sudah nonaktif sejak" in kk("user", "disable", "kabid.dafduk").output
    assert "nonaktif 20" in kk("user", "list").output
    _fails(kk("user", "disable", "siapa"), 'Pengguna "siapa" tidak ditemukan')


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--role", "lurah", "--username", "andi"], "sandi-rahasia", 'Peran "lurah" tidak dikenal'),
        (["--role", "operator", "--username", "andi"], "sandi-rahasia", "wajib terikat"),
        (["--role", "operator", "--kecamatan", "999999", "--username", "andi"], "sandi-rahasia",
         "bukan kecamatan di Kabupaten Musi Banyuasin"),
        (["--role", "kabid", "--kecamatan", "160601", "--username", "andi"], "sandi-rahasia",
         "Hanya akun operator"),
        (["--role", "operator", "--kecamatan", "160601", "--username", "Andi Baru"],
         "sandi-rahasia", "Nama pengguna"),
        (["--role", "operator", "--kecamatan", "160601", "--username", "andi"], "pendek",
         "Kata sandi minimal 8 karakter"),
    ],
)  # fmt: skip
def test_user_add_refuses_bad_input_in_indonesian(kk, initialised, args, password, message):
    result = kk("user", "add", *args, "--name", "Andi", "--password-stdin", input=password + "\n")
    _fails(result, message)
    assert "Belum ada akun." in kk("user", "list").output


def test_user_add_refuses_a_mismatched_confirmation_and_a_taken_username(kk, initialised):
    base = ["user", "add", "--role", "verifikator", "--username", "sari", "--name", "Sari"]
    _fails(kk(*base, input="sandi-rahasia\nsandi-lain-1\n"), "Kedua kata sandi tidak sama")
    _fails(kk(*base, input="pendek\n"), "Kata sandi minimal 8 karakter")
    assert kk(*base, "--password-stdin", input="sandi-rahasia\n").exit_code == 0
    _fails(kk(*base, "--password-stdin", input="sandi-rahasia\n"), '"sari" sudah dipakai')


def _refused(code: str, call, /, **kwargs) -> None:
    with pytest.raises(Refusal) as caught:
        call(**kwargs)
    assert caught.value.code == code


def test_user_set_password_resets_logins_throttle_and_counters(kk, initialised):
    db = database(ServerConfig(data_dir=initialised))
    kabid = ["--role", "kabid", "--username", "kabid.dafduk", "--name", "Kabid"]
    budi = ["--role", "operator", "--kecamatan", "160601", "--username", "budi", "--name", "Budi"]
    for args in (kabid, budi):
        assert kk("user", "add", *args, "--password-stdin", input="sandi-lama-1\n").exit_code == 0
    code = CODE.search(kk("device", "enroll-code", "--kecamatan", "160601").output).group(1)
    device = enrollment.enroll(
        db, code=code, public_key=public_key_b64(generate_key()), label="",
        client_ip="127.0.0.1", now=utc_now(),
    )  # fmt: skip

    def login(password: str, client_ip: str):
        return staff_auth.login(
            db, username="kabid.dafduk", password=password, client_ip=client_ip, now=utc_now()
        )

    # The Kabid is logged in at one address and blocked by a guesser at another.
    session = login("sandi-lama-1", "10.0.0.1")
    _refused("auth.invalid_credentials", login, password="tebakan-1", client_ip="10.0.0.9")
    _refused("auth.throttled", login, password="sandi-lama-1", client_ip="10.0.0.9")

    assert "Atur ulang kata sandi akun" in kk("user", "--help").output
    result = kk("user", "set-password", "kabid.dafduk", input="sandi-baru-22\nsandi-baru-22\n")
    assert result.exit_code == 0, result.output
    assert "sandi-baru-22" not in result.output
    assert "Kata sandi akun kabid.dafduk diatur ulang." in result.output
    assert "1 sesi staf akun ini diakhiri" in result.output
    _refused(
        "auth.token_invalid", staff_auth.authenticate, db=db, token=session.token, now=utc_now()
    )
    _refused("auth.invalid_credentials", login, password="sandi-lama-1", client_ip="10.0.0.1")
    # The guesser's block is lifted: the new password works from that address at once.
    assert login("sandi-baru-22", "10.0.0.9").user.username == "kabid.dafduk"

    # An operator's new hash goes to the counters of the kecamatan (here from stdin).
    result = kk("user", "set-password", "budi", "--password-stdin", input="sandi-budi-baru\n")
    assert result.exit_code == 0, result.output
    assert "1 perangkat loket kecamatan 160601 menerima sandi baru" in result.output
    with db.read() as conn:
        _, wire = feed_store.wires_after(conn, device.device_id, 0, 100)[-1]
        rows = [r for r in entries(conn) if r.action == "user.password_reset"]
    event = json.loads(wire)
    assert event["kind"] == "operator.upsert" and event["body"]["username"] == "budi"
    assert verify_password("sandi-budi-baru", event["body"]["password_hash"])
    # Both resets are in the access log, by the console, naming the account; no password.
    assert [(r.actor_id, r.role, r.detail.split(" (")[0]) for r in rows] == [
        ("cli", "cli", "akun kabid.dafduk"), ("cli", "cli", "akun budi"),
    ]  # fmt: skip
    assert verify_audit_chain(db) == (True, None)
    assert not any("sandi" in r.detail for r in rows)


def test_user_set_password_refuses_in_indonesian(kk, initialised):
    base = ["user", "add", "--role", "verifikator", "--username", "sari", "--name", "Sari"]
    assert kk(*base, "--password-stdin", input="sandi-rahasia\n").exit_code == 0
    _fails(kk("user", "set-password", "siapa", input="x\n"), 'Pengguna "siapa" tidak ditemukan')
    _fails(kk("user", "set-password", "sari", input="pendek\n"), "minimal 8 karakter")
    mismatch = kk("user", "set-password", "sari", input="sandi-baru-1\nsandi-baru-2\n")
    _fails(mismatch, "Kedua kata sandi tidak sama")
    assert kk("user", "disable", "sari").exit_code == 0
    _fails(kk("user", "set-password", "sari", input="sandi-baru-1\n"), "sudah dinonaktifkan")
    db = database(ServerConfig(data_dir=initialised))
    with db.read() as conn:
        user = account_store.user_by_username(conn, "sari")
    assert verify_password("sandi-rahasia", user.password_hash)  # nothing changed


def test_refusals_are_listed_for_the_admin(kk, initialised):
    assert "Belum ada permintaan yang ditolak." in kk("refusals").output
    db = database(ServerConfig(data_dir=initialised))
    from sync_server.storage import audit

    with db.write() as conn:
        audit.record_refusal(
            conn, at="2026-11-25T01:00:00.000Z", client_ip="10.1.2.3", device_id="dev-x",
            method="POST", path="/api/v1/sync/push", status=409, code="event.seq_gap", seq=7,
        )  # fmt: skip
    output = kk("refusals").output
    assert "event.seq_gap" in output and "2026-11-25 08:00 WIB" in output and "dev-x" in output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_the_real_server(kk, initialised):
    port = _free_port()
    script = Path(sys.executable).parent / "kk-server"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KK_SERVER_")}
    process = subprocess.Popen(
        [str(script), "--data-dir", str(initialised), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.json()["status"] == "ok"
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert f"Server pusat mendengarkan di http://127.0.0.1:{port}" in output
